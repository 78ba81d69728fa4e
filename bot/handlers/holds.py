"""Staff review of held content at the moderation desk (Art. 10): ``!holds`` ``!release`` ``!reject``.

A message or room setting a ``hold`` content rule stopped waits for staff.
``!holds`` lists the waiting ones (who, where, which category, and the event type
of a setting; never the content), ``!release <id>`` has the module deliver it
into its room as its sender, ``!reject <id> [reason]``
drops it for good and the module tells the sender, with the reason. The module
decides and audits; the record names the staff member who typed the command.
"""

from __future__ import annotations

from bot.commands import Context, Scope, command
from bot.errors import UsageError
from bot.handlers.common import rest_after
from bot.messages import china_time

DESK = Scope.STAFF | Scope.MODERATION_ROOM
#: Holds listed at once in the room; the rest through the HTTP API (`GET /admin/holds`).
LISTED = 20


@command(
    "holds",
    aliases=("待审",),
    scope=DESK,
    usage={"zh-CN": "!待审", "en": "!holds"},
    summary={"zh-CN": "列出等待人工审核的内容", "en": "list held content waiting for review"},
)
async def holds_command(ctx: Context) -> None:
    if ctx.command.args:
        raise UsageError()
    page = await ctx.api.holds(limit=LISTED)
    items = page.items
    if not items:
        await ctx.reply(ctx.t("holds_none"))
        return
    lines = [ctx.t("holds_header", count=len(items))]
    for item in items:
        lines.append(
            ctx.t(
                "holds_line",
                id=item.id,
                category=item.category_label or item.category,
                kind=_kind(ctx, item.event_type),
                sender=item.sender,
                room=item.room_id,
                time=china_time(item.ts, ctx.language),
                ticket=item.ticket or "—",
            )
        )
    if page.next:
        lines.append(ctx.t("holds_more"))
    await ctx.reply("\n".join(lines))


def _kind(ctx: Context, event_type: str | None) -> str:
    """Nothing for a message; the event type for a held room setting."""
    if event_type is None or event_type == "m.room.message":
        return ""
    return ctx.t("holds_setting", type=event_type)


@command(
    "release",
    aliases=("放行",),
    scope=DESK,
    usage={"zh-CN": "!放行 <编号>", "en": "!release <id>"},
    summary={"zh-CN": "放行待审内容（以发送人名义发到群里）", "en": "release held content (sent as its sender)"},
)
async def release_command(ctx: Context) -> None:
    if len(ctx.command.args) != 1:
        raise UsageError()
    hold = await ctx.api.release_hold(ctx.command.args[0], actor=ctx.sender)
    await ctx.reply(ctx.t("hold_released", id=hold.id, sender=hold.sender, room=hold.room_id))


@command(
    "reject",
    aliases=("驳回",),
    scope=DESK,
    usage={"zh-CN": "!驳回 <编号> [理由]", "en": "!reject <id> [reason]"},
    summary={"zh-CN": "驳回待审内容（不发出，告知发送人）", "en": "reject held content (never sent; sender told)"},
)
async def reject_command(ctx: Context) -> None:
    if not ctx.command.args:
        raise UsageError()
    reason = rest_after(ctx.command.raw_args, 1) or None
    hold = await ctx.api.reject_hold(ctx.command.args[0], reason, actor=ctx.sender)
    key = "hold_rejected" if hold.sender_told else "hold_rejected_untold"
    await ctx.reply(ctx.t(key, id=hold.id, sender=hold.sender))
