"""Owners' and admins' room tools (Art. 9): ``!muteall`` ``!unmuteall``; staff's ``!announcement``.

Granted like the other room-admin commands (creators and power ≥ 50); the module
checks again and acts (``POST /admin/rooms/{room}/moderate`` with ``mute_all`` /
``unmute_all``), refusing an admin whose rights are suspended. The bot's reply in the
room is the announcement everyone sees. ``!announcement`` is the moderation desk's
review of announcements in large and high-risk groups (``!announce`` is in room_admin.py).
"""

from __future__ import annotations

from bot.commands import Context, Scope, command
from bot.errors import UsageError
from bot.handlers.common import duration_arg, rest_after, until


@command(
    "muteall",
    aliases=("全员禁言",),
    scope=Scope.ROOM_ADMIN,
    usage={"zh-CN": "!全员禁言 [时长，如 30m、12h、7d；不写则直到解除]", "en": "!muteall [30m|12h|7d]"},
    summary={
        "zh-CN": "全员禁言，只有群主和管理员可以发言（群管理）",
        "en": "mute everyone but the admins (room admins)",
    },
)
async def muteall_command(ctx: Context) -> None:
    args = ctx.command.args
    if len(args) > 1:
        raise UsageError()
    duration = args[0] if args else None
    if duration is not None:
        duration_arg(duration)  # a bad duration (1e20, 0, 11y) is a usage error, before asking the module
    answer = await ctx.api.moderate(ctx.room_id, ctx.sender, "mute_all", duration=duration)
    end = answer.until
    if end is not None and end > 0:
        await ctx.reply(ctx.t("mute_all_on", until=until(ctx, end)))
    else:
        await ctx.reply(ctx.t("mute_all_on_perm"))


@command(
    "unmuteall",
    aliases=("解除全员禁言",),
    scope=Scope.ROOM_ADMIN,
    usage={"zh-CN": "!解除全员禁言", "en": "!unmuteall"},
    summary={"zh-CN": "解除全员禁言（群管理）", "en": "end the mute of everyone (room admins)"},
)
async def unmuteall_command(ctx: Context) -> None:
    if ctx.command.args:
        raise UsageError()
    answer = await ctx.api.moderate(ctx.room_id, ctx.sender, "unmute_all")
    await ctx.reply(ctx.t("mute_all_off" if answer.lifted else "mute_all_not_on"))


_APPROVE = ("approve", "通过")
_REJECT = ("reject", "驳回")


@command(
    "announcement",
    aliases=("公告审核",),
    scope=Scope.STAFF | Scope.MODERATION_ROOM,
    usage={
        "zh-CN": "!公告审核 <公告编号> 通过|驳回 [理由]",
        "en": "!announcement <id> approve|reject [reason]",
    },
    summary={
        "zh-CN": "审核大型和高风险群的公告：通过后发布并置顶",
        "en": "review a large or high-risk group's announcement: approved ones are posted and pinned",
    },
)
async def announcement_command(ctx: Context) -> None:
    args = ctx.command.args
    if len(args) < 2 or args[1].lower() not in (*_APPROVE, *_REJECT):
        raise UsageError()
    approve = args[1].lower() in _APPROVE
    reason = rest_after(ctx.command.raw_args, 2)
    answer = await ctx.api.decide_announcement(args[0], approve, reason, actor=ctx.sender)
    outcome = ctx.t(f"announcement_outcome_{answer.status}")
    await ctx.reply(ctx.t("announcement_decided", id=answer.id or args[0], outcome=outcome))
