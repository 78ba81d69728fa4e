"""A group's owner dissolves or hands over the group; anyone accepts a new convention (Art. 5, 8, 9).

- ``!dissolve`` / ``!解散`` (room): the bot names the group's code and asks the owner to
  confirm with ``!dissolve <code>``; only then does the module close the group
  (``POST /groups/{code}/dissolve``). The module checks that the sender owns it.
- ``!transfer @u`` / ``!转让`` (room): the module checks owner, member, level and cap
  and the bot asks the owner to confirm with ``!transfer @u <code>``; only then is the
  group handed to the new owner (``POST /groups/{code}/transfer`` with ``confirm``).
- ``!accept`` / ``!同意公约`` (bot chat): accepts the current platform convention for
  the sender (``POST /convention/accept?user_id=``). A bare ``!同意`` in the bot chat
  means the same (the dispatcher routes it here; in a room ``!同意`` approves a person).
"""

from __future__ import annotations

from bot.commands import Context, Scope, command
from bot.errors import QunzuApiError, UsageError
from bot.handlers.common import services, user_arg


async def _group_code(ctx: Context) -> str | None:
    """The room's group code; tells the sender why there is none (not a group, a private chat)."""
    group = await services(ctx).group_state(ctx.room_id)
    if group is None:
        await ctx.reply(ctx.t("not_governed"))
        return None
    if group.get("private_chat") is True:
        await ctx.reply(ctx.t("private_chat_no_group"))
        return None
    return str(group["code"])


@command(
    "dissolve",
    aliases=("解散",),
    scope=Scope.ROOM_ADMIN,
    usage={"zh-CN": "!解散 [群组编码]", "en": "!dissolve [group code]"},
    summary={"zh-CN": "解散本群（群主，需用群组编码确认）", "en": "dissolve this group (owner; confirm with its code)"},
)
async def dissolve_command(ctx: Context) -> None:
    code = await _group_code(ctx)
    if code is None:
        return
    confirm = f"{ctx.prefix}{ctx.spec.name_in(ctx.language)} {code}"
    args = ctx.command.args
    if not args:
        await ctx.api.dissolve(code, ctx.sender)  # the module refuses anyone but the owner here
        await ctx.reply(ctx.t("dissolve_confirm", code=code, command=confirm))
        return
    if len(args) != 1 or args[0] != code:
        raise UsageError(confirm)  # the usage line names this group's code
    # The module posts the dissolution in the room and tells the owner in their bot chat.
    await ctx.api.dissolve(code, ctx.sender, confirm=code)


@command(
    "transfer",
    aliases=("转让",),
    scope=Scope.ROOM_ADMIN,
    usage={"zh-CN": "!转让 @用户 [群组编码]", "en": "!transfer @user [group code]"},
    summary={
        "zh-CN": "把本群转让给一位已实名的成员（群主，需用群组编码确认）",
        "en": "hand this group over to a verified member (owner; confirm with its code)",
    },
)
async def transfer_command(ctx: Context) -> None:
    args = ctx.command.args
    if len(args) not in (1, 2):
        raise UsageError()
    target = user_arg(ctx, args[0])
    code = await _group_code(ctx)
    if code is None:
        return
    confirm = f"{ctx.prefix}{ctx.spec.name_in(ctx.language)} {target} {code}"
    if len(args) == 2 and args[1] != code:
        raise UsageError(confirm)  # the usage line names this group's code
    try:
        # Without the code only the module's checks run: nothing changes until the owner confirms.
        answer = await ctx.api.transfer(code, ctx.sender, target, confirm=code if len(args) == 2 else None)
    except QunzuApiError as exc:
        if exc.reason != "create_limit":
            raise
        # The module's text speaks to the person whose cap is full: here that is the new owner.
        await ctx.reply(ctx.t("transfer_target_full", owner=target, **exc.detail))
        return
    if not answer.transferred:
        await ctx.reply(ctx.t("transfer_confirm", code=code, owner=target, command=confirm))
        return
    await ctx.reply(ctx.t("transfer_done", code=code, owner=answer.owner or target))


@command(
    "accept",
    aliases=("同意公约",),
    scope=Scope.DM,
    usage={"zh-CN": "!同意公约", "en": "!accept"},
    summary={
        "zh-CN": "同意最新的平台公约（私聊）",
        "en": "accept the current platform convention (direct chat)",
    },
)
async def accept_command(ctx: Context) -> None:
    if ctx.command.args:
        raise UsageError()
    version = (await ctx.api.convention()).version
    await ctx.api.accept_convention(ctx.sender, version)
    await ctx.reply(ctx.t("convention_accepted", version=version))
