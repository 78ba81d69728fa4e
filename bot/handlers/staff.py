"""Staff commands at the moderation desk (Art. 11, 12): ``!reports`` ``!handle`` ``!sanction`` ``!lift``
``!blacklist`` ``!credit`` ``!lookup`` ``!emergency``.

Only in the configured moderation room and only for staff (server admins and
the module's ``staff``; the module answers ``GET /me?user_id=``). Every action
goes through the module's API, which audits it; ``!handle`` records the staff
member who typed it as the ticket's resolver. Reporters are told outcomes by
the module without staff names. Nothing here shows identity data: lookups
show the verification status only.
"""

from __future__ import annotations

from typing import Literal

from bot.commands import Context, Scope, command
from bot.errors import UsageError
from bot.handlers.common import info_text, is_duration, is_group_code, rest_after, until, user_arg
from bot.messages import china_time
from policies import InvalidNumber
from policies.api import CreditStatus, ResolutionSanction, SanctionApply, SubjectRef, Verification
from policies.display import MEASURE, TICKET_STATUS, VERIFICATION_STATUS, label
from policies.numbers import MAX_BOT_INTEGER, Bounds, bounded_int

DESK = Scope.STAFF | Scope.MODERATION_ROOM


@command(
    "reports",
    aliases=("工单",),
    scope=DESK,
    usage={"zh-CN": "!工单 [overdue]", "en": "!reports [overdue]"},
    summary={"zh-CN": "列出待处理和超时的工单", "en": "list open and overdue tickets"},
)
async def reports_command(ctx: Context) -> None:
    query = {"open": "true", "limit": "50"}
    if ctx.command.args[:1] == ["overdue"]:
        query["overdue"] = "true"
    tickets = await ctx.api.tickets(**query)
    if not tickets:
        await ctx.reply(ctx.t("reports_none"))
        return
    lines = [ctx.t("reports_header", count=len(tickets))]
    for ticket in sorted(tickets, key=lambda t: t.deadline_ts):
        lines.append(
            ctx.t(
                "reports_line",
                overdue=ctx.t("overdue_mark") if ticket.overdue else "",
                ticket=ticket.id,
                category=ticket.category_label or ticket.category,
                status=label(TICKET_STATUS, ticket.status, ctx.language),
                deadline=china_time(ticket.deadline_ts, ctx.language),
                reporters=ticket.reporter_count,
            )
        )
    await ctx.reply("\n".join(lines))


@command(
    "handle",
    aliases=("处理",),
    scope=DESK,
    usage={
        "zh-CN": "!处理 <工单> <dismiss|warn|suspend <时长>|close> [理由]",
        "en": "!handle <ticket> <dismiss|warn|suspend <duration>|close> [reason]",
    },
    summary={"zh-CN": "处理工单并通知举报人", "en": "handle a ticket; its reporters are told"},
)
async def handle_command(ctx: Context) -> None:
    args = ctx.command.args
    if len(args) < 2:
        raise UsageError()
    ticket_id, action = args[0].upper(), args[1].lower()
    ticket = await ctx.api.ticket(ticket_id)
    accused = ticket.accused
    sanction: ResolutionSanction | None
    words = 2
    if action == "dismiss":
        sanction = None
    elif action == "warn":
        sanction = ResolutionSanction(measure="warning")
    elif action == "suspend":
        if len(args) < 3 or not is_duration(args[2]):
            raise UsageError()
        words = 3
        if accused:
            subject = SubjectRef(type="user", id=accused)
            sanction = ResolutionSanction(measure="mute", duration=args[2], subject=subject)
        else:
            sanction = ResolutionSanction(measure="posting_suspension", duration=args[2])
    elif action == "close":
        if not ticket.room_id:
            raise UsageError()
        sanction = ResolutionSanction(measure="closure", subject=SubjectRef(type="room", id=ticket.room_id))
    else:
        raise UsageError()
    reason = rest_after(ctx.command.raw_args, words)
    outcome = "dismissed" if sanction is None else "resolved"
    answer = await ctx.api.resolve(ticket_id, ctx.sender, outcome, reason, sanction)
    applied = answer.sanction
    if applied is not None:
        shown = ctx.t("handled_measure", measure=label(MEASURE, applied.measure, ctx.language), id=applied.id)
    else:
        shown = ctx.t("dismissed")
    await ctx.reply(ctx.t("handled", ticket=ticket_id, outcome=shown))


async def _room_id(ctx: Context, value: str) -> str:
    if is_group_code(value):
        return (await ctx.api.group(value)).room_id
    if value.startswith("!"):
        return value
    raise UsageError()


@command(
    "sanction",
    aliases=("处置",),
    scope=DESK,
    usage={
        "zh-CN": "!处置 user|room <对象> <措施> [时长] <理由>",
        "en": "!sanction user|room <target> <measure> [duration] <reason>",
    },
    summary={"zh-CN": "对用户或群采取处置措施", "en": "take a measure against a user or room"},
)
async def sanction_command(ctx: Context) -> None:
    args = ctx.command.args
    if len(args) < 4 or args[0] not in ("user", "room"):
        raise UsageError()
    subject = user_arg(ctx, args[1]) if args[0] == "user" else await _room_id(ctx, args[1])
    duration: str | None = None
    words = 3
    if is_duration(args[3]) and len(args) > 4:
        duration = args[3]
        words = 4
    reason = rest_after(ctx.command.raw_args, words)
    if not reason:
        raise UsageError()
    request = SanctionApply(
        subject=SubjectRef(type="room" if args[0] == "room" else "user", id=subject),
        measure=args[2],
        duration=duration,
        reason=reason,
        actor=ctx.sender,  # the record names the staff member, not the bot
    )
    record = await ctx.api.sanction(request)
    await ctx.reply(
        ctx.t(
            "sanction_done",
            id=record.id,
            measure=label(MEASURE, record.measure, ctx.language),
            subject=subject,
            until=until(ctx, record.end),
        )
    )


@command(
    "lift",
    aliases=("解除",),
    scope=DESK,
    usage={"zh-CN": "!解除 <处置编号> <理由>", "en": "!lift <measure id> <reason>"},
    summary={"zh-CN": "提前解除处置", "en": "lift a measure early"},
)
async def lift_command(ctx: Context) -> None:
    reason = rest_after(ctx.command.raw_args, 1)
    if not ctx.command.args or not reason:
        raise UsageError()
    record = await ctx.api.lift(ctx.command.args[0], reason, actor=ctx.sender)
    await ctx.reply(ctx.t("lift_done", id=record.id or ctx.command.args[0]))


@command(
    "blacklist",
    aliases=("黑名单",),
    scope=DESK,
    usage={
        "zh-CN": "!黑名单 add user|room <对象> <理由> · !黑名单 remove <条目> <理由>",
        "en": "!blacklist add user|room <target> <reason> · !blacklist remove <entry> <reason>",
    },
    summary={"zh-CN": "加入或解除黑名单", "en": "add to or remove from the blacklist"},
)
async def blacklist_command(ctx: Context) -> None:
    args = ctx.command.args
    if len(args) >= 4 and args[0] == "add" and args[1] in ("user", "room"):
        subject = user_arg(ctx, args[2]) if args[1] == "user" else await _room_id(ctx, args[2])
        kind: Literal["user", "room"] = "user" if args[1] == "user" else "room"
        reason = rest_after(ctx.command.raw_args, 3)
        entry = await ctx.api.blacklist_add(kind, subject, reason, actor=ctx.sender)
        await ctx.reply(ctx.t("blacklist_added", id=entry.id))
        return
    if len(args) >= 3 and args[0] == "remove":
        lifted = await ctx.api.blacklist_remove(args[1], rest_after(ctx.command.raw_args, 2), actor=ctx.sender)
        await ctx.reply(ctx.t("blacklist_removed", id=lifted.lifted or args[1]))
        return
    raise UsageError()


@command(
    "credit",
    aliases=("信用",),
    scope=DESK,
    usage={"zh-CN": "!信用 @用户 <±分数> <理由>", "en": "!credit @user <±n> <reason>"},
    summary={"zh-CN": "调整用户信用分", "en": "adjust a user's credit"},
)
async def credit_command(ctx: Context) -> None:
    args = ctx.command.args
    reason = rest_after(ctx.command.raw_args, 2)
    if len(args) < 3 or not reason:
        raise UsageError()
    user = user_arg(ctx, args[0])
    try:
        # The module applies the policy's credit range; here only the syntax and a sane size.
        delta = bounded_int(args[1], "delta", Bounds(-MAX_BOT_INTEGER, MAX_BOT_INTEGER))
    except InvalidNumber:
        raise UsageError() from None
    change = await ctx.api.adjust_credit(user, delta, reason, actor=ctx.sender)
    await ctx.reply(ctx.t("credit_done", user=user, before=change.before, after=change.after, level=change.level))


@command(
    "lookup",
    aliases=("查询",),
    scope=DESK,
    usage={"zh-CN": "!查询 @用户|<群组编码>", "en": "!lookup @user|<group code>"},
    summary={"zh-CN": "查询用户或群的状态（不显示身份信息）", "en": "a user's or room's status (no identity data)"},
)
async def lookup_command(ctx: Context) -> None:
    if len(ctx.command.args) != 1:
        raise UsageError()
    value = ctx.command.args[0]
    if is_group_code(value):
        page = await ctx.api.group(value, ctx.language)
        await ctx.reply(info_text(ctx, page) + f"\n{page.room_id}")
        return
    user = user_arg(ctx, value)
    status = await ctx.api.me(as_user=user)
    credit = status.credit or CreditStatus()
    verification = status.verification or Verification()
    active = status.sanctions or []
    sanctions = "、".join(f"{s.id} {label(MEASURE, s.measure, ctx.language)}" for s in active) or "—"
    await ctx.reply(
        ctx.t(
            "lookup_user",
            user=user,
            # Only the status: even masked identity data stays out of chat rooms.
            verification=label(VERIFICATION_STATUS, verification.status, ctx.language),
            score="—" if credit.score is None else credit.score,
            level=credit.level or "—",
            blacklisted=ctx.t("yes") if status.blacklisted else ctx.t("no"),
            sanctions=sanctions,
        )
    )


@command(
    "emergency",
    aliases=("应急",),
    scope=DESK,
    usage={
        "zh-CN": "!应急 freeze <all|category:类别|room:房间> <理由> · !应急 lift <编号> [理由]",
        "en": "!emergency freeze <all|category:<c>|room:<id>> <reason> · !emergency lift <id> [reason]",
    },
    summary={"zh-CN": "应急冻结或解除（第五条）", "en": "emergency freeze or lift (Art. 5)"},
)
async def emergency_command(ctx: Context) -> None:
    args = ctx.command.args
    if len(args) >= 3 and args[0] == "freeze":
        freeze = await ctx.api.emergency(args[1], rest_after(ctx.command.raw_args, 2), actor=ctx.sender)
        await ctx.reply(ctx.t("emergency_done", id=freeze.id, scope=freeze.scope or args[1]))
        return
    if len(args) >= 2 and args[0] == "lift":
        lifted = await ctx.api.emergency_lift(args[1], rest_after(ctx.command.raw_args, 2), actor=ctx.sender)
        await ctx.reply(ctx.t("emergency_lifted", id=lifted.id or args[1]))
        return
    raise UsageError()
