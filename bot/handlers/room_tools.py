"""Owners' and admins' room tools (Art. 9): ``!muteall`` ``!unmuteall``.

Granted like the other room-admin commands (creators and power ≥ 50); the module
checks again and acts (``POST /admin/rooms/{room}/moderate`` with ``mute_all`` /
``unmute_all``), refusing an admin whose rights are suspended. The bot's reply in the
room is the announcement everyone sees.
"""

from __future__ import annotations

from bot.commands import Scope, command
from bot.dispatcher import Context
from bot.errors import UsageError
from bot.handlers.common import duration_arg, until


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
    end = answer.get("until")
    if isinstance(end, int) and end > 0:
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
    await ctx.reply(ctx.t("mute_all_off" if answer.get("lifted") else "mute_all_not_on"))
