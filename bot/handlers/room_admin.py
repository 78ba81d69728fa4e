"""Room admins' commands (Art. 9): ``!warn`` ``!mute`` ``!unmute`` ``!kick`` ``!ban`` ``!approve``
``!announce`` ``!category``.

The bot grants the commands from the room's power levels (creators and power
≥ 50); the module checks again and acts (``POST /admin/rooms/{room}/moderate``
with the acting admin, recorded in the audit log), refusing an admin whose
rights are suspended (``admin_suspended``, Art. 11) with the end of the
suspension. A mute is the module's room-scoped posting ban, not a power-level
edit.
"""

from __future__ import annotations

from bot.commands import Context, Scope, command
from bot.errors import UsageError
from bot.handlers.common import duration_arg, rest_after, services, until, user_arg


def _target(ctx: Context) -> str:
    if not ctx.command.args:
        raise UsageError()
    return user_arg(ctx, ctx.command.args[0])


@command(
    "warn",
    aliases=("警告",),
    scope=Scope.ROOM_ADMIN,
    usage={"zh-CN": "!警告 @用户 <理由>", "en": "!warn @user <reason>"},
    summary={"zh-CN": "警告本群成员（群管理）", "en": "warn a member (room admins)"},
)
async def warn_command(ctx: Context) -> None:
    target = _target(ctx)
    reason = rest_after(ctx.command.raw_args, 1)
    if not reason:
        raise UsageError()
    await ctx.api.moderate(ctx.room_id, ctx.sender, "warn", target=target, reason=reason)
    await ctx.reply(ctx.t("admin_warned", target=target, reason=reason))


@command(
    "mute",
    aliases=("禁言",),
    scope=Scope.ROOM_ADMIN,
    usage={"zh-CN": "!禁言 @用户 <时长，如 30m、12h、7d、perm> [理由]", "en": "!mute @user <30m|12h|7d|perm> [reason]"},
    summary={"zh-CN": "在本群禁言成员（群管理）", "en": "mute a member in this room (room admins)"},
)
async def mute_command(ctx: Context) -> None:
    target = _target(ctx)
    if len(ctx.command.args) < 2:
        raise UsageError()
    duration_arg(ctx.command.args[1])  # a bad duration is a usage error, before asking the module
    reason = rest_after(ctx.command.raw_args, 2)
    answer = await ctx.api.moderate(
        ctx.room_id, ctx.sender, "mute", target=target, duration=ctx.command.args[1], reason=reason
    )
    end = answer.until
    if end is not None and end > 0:
        await ctx.reply(ctx.t("admin_muted", target=target, until=until(ctx, end)))
    else:
        await ctx.reply(ctx.t("admin_muted_perm", target=target))


@command(
    "unmute",
    aliases=("解除禁言",),
    scope=Scope.ROOM_ADMIN,
    usage={"zh-CN": "!解除禁言 @用户", "en": "!unmute @user"},
    summary={"zh-CN": "解除本群的禁言（群管理）", "en": "lift a mute in this room (room admins)"},
)
async def unmute_command(ctx: Context) -> None:
    target = _target(ctx)
    answer = await ctx.api.moderate(
        ctx.room_id, ctx.sender, "unmute", target=target, reason=rest_after(ctx.command.raw_args, 1)
    )
    key = "admin_unmuted" if answer.lifted else "admin_not_muted"
    await ctx.reply(ctx.t(key, target=target))


@command(
    "kick",
    aliases=("踢出",),
    scope=Scope.ROOM_ADMIN,
    usage={"zh-CN": "!踢出 @用户 [理由]", "en": "!kick @user [reason]"},
    summary={"zh-CN": "将成员移出本群（群管理）", "en": "remove a member (room admins)"},
)
async def kick_command(ctx: Context) -> None:
    target = _target(ctx)
    await ctx.api.moderate(ctx.room_id, ctx.sender, "kick", target=target, reason=rest_after(ctx.command.raw_args, 1))
    await ctx.reply(ctx.t("admin_kicked", target=target))


@command(
    "ban",
    aliases=("封禁",),
    scope=Scope.ROOM_ADMIN,
    usage={"zh-CN": "!封禁 @用户 [理由]", "en": "!ban @user [reason]"},
    summary={"zh-CN": "移出并禁止再加入本群（群管理）", "en": "ban a member from this room (room admins)"},
)
async def ban_command(ctx: Context) -> None:
    target = _target(ctx)
    await ctx.api.moderate(ctx.room_id, ctx.sender, "ban", target=target, reason=rest_after(ctx.command.raw_args, 1))
    await ctx.reply(ctx.t("admin_banned", target=target))


@command(
    "approve",
    aliases=("同意",),
    scope=Scope.ROOM_ADMIN,
    usage={"zh-CN": "!同意 @用户", "en": "!approve @user"},
    summary={
        "zh-CN": "同意入群申请或确认成员发出的邀请（群管理）",
        "en": "approve a request to join or confirm a member's invite (room admins)",
    },
)
async def approve_command(ctx: Context) -> None:
    target = _target(ctx)
    answer = await ctx.api.moderate(ctx.room_id, ctx.sender, "approve", target=target)
    # A knock is answered with an invite; a member's invite in an approval room is confirmed.
    await ctx.reply(ctx.t("admin_invite_confirmed" if answer.confirmed_invite else "admin_approved", target=target))


@command(
    "announce",
    aliases=("公告",),
    scope=Scope.ROOM_ADMIN,
    usage={"zh-CN": "!公告 <内容>", "en": "!announce <text>"},
    summary={"zh-CN": "发布并置顶群公告（群管理）", "en": "post and pin an announcement (room admins)"},
)
async def announce_command(ctx: Context) -> None:
    text = ctx.command.raw_args.strip()
    if not text:
        raise UsageError()
    # The module posts and pins it (the room sees the announcement itself), or queues it for staff.
    answer = await ctx.api.announce(ctx.room_id, ctx.sender, text)
    if answer.status == "pending":
        await ctx.reply(ctx.t("announce_pending"))
    elif answer.status != "posted":
        await ctx.reply(ctx.t("announce_failed"))


@command(
    "category",
    aliases=("群类别",),
    scope=Scope.ROOM_ADMIN,
    usage={"zh-CN": "!群类别 <类别>", "en": "!category <category>"},
    summary={"zh-CN": "更改本群类别（群主）", "en": "change the room's category (creator)"},
)
async def category_command(ctx: Context) -> None:
    if len(ctx.command.args) != 1:
        raise UsageError()
    svc = services(ctx)
    group = await svc.group_state(ctx.room_id)
    if group is None:
        await ctx.reply(ctx.t("not_governed"))
        return
    code = str(group["code"])
    # Art. 8, 9: the owner (群主, who may have taken the group over by `!transfer`) chooses the
    # category; the bot checks the module's registry, then asks as the service account.
    if (await ctx.api.group(code)).creator != ctx.sender:
        await ctx.reply(ctx.t("category_not_creator"))
        return
    page = await ctx.api.set_category(code, ctx.command.args[0])
    await ctx.reply(ctx.t("category_done", category=page.category_label or page.category))
