"""Member commands: ``!report`` / ``!举报``, ``!info`` / ``!群信息``, ``!rules`` / ``!群规``,
``!appeal`` / ``!申诉`` (direct chat).

``!report`` as a reply reports that message, alone the room (Art. 12). The
module files it (category from the policy's 12377 set, evidence captured by
the module, duplicates joined, rate limit) and acknowledges the reporter in a
direct chat with the ticket id; in the room the bot removes the ``!report``
message so other members — the reported person too — do not see who
reported. The outcome reaches the reporter in the same direct chat.
"""

from __future__ import annotations

import logging

from bot.commands import Scope, command
from bot.dispatcher import Context
from bot.errors import MatrixError, UsageError
from bot.handlers.common import info_text, rest_after, services

logger = logging.getLogger(__name__)


async def _categories(ctx: Context) -> dict[str, dict[str, str]]:
    body = await ctx.api.convention()
    found = body.get("report_categories")
    return found if isinstance(found, dict) else {}


def _category_of(value: str, categories: dict[str, dict[str, str]]) -> str | None:
    lowered = value.lower()
    for name, labels in categories.items():
        if lowered == name or value in labels.values():
            return name
    return None


def _category_list(ctx: Context, categories: dict[str, dict[str, str]]) -> str:
    return "、".join(
        f"{labels.get(ctx.language) or name} ({name})" if ctx.language == "zh-CN" else name
        for name, labels in categories.items()
    )


@command(
    "report",
    aliases=("举报",),
    usage={"zh-CN": "!举报 <类别> [理由]", "en": "!report <category> [reason]"},
    summary={
        "zh-CN": "回复一条消息举报它，不回复则举报本群（类别如 诈骗、色情、赌博、谣言、其他）",
        "en": "reply to a message to report it, or report the room (categories: fraud, pornography, … other)",
    },
)
async def report_command(ctx: Context) -> None:
    """File a report with the module; hide the command; the module acknowledges in a direct chat."""
    if ctx.is_direct:
        await ctx.reply(ctx.t("report_dm_usage"))
        return
    categories = await _categories(ctx)
    category = _category_of(ctx.command.args[0], categories) if ctx.command.args else None
    if category is None:
        usage = ctx.spec.usage_in(ctx.language, ctx.prefix)
        raise UsageError(f"{usage}\n{ctx.t('report_categories', categories=_category_list(ctx, categories))}")
    reason = rest_after(ctx.command.raw_args, 1)
    await ctx.api.report(ctx.sender, ctx.room_id, category, reason, event_id=ctx.message.reply_to_event_id)
    services(ctx).ticket_filed()  # staff see the ticket now, not at the desk's next poll
    # Art. 12 convenient and safe: the reporter is not exposed to the room (best effort: the
    # bot needs the power to redact; the module's acknowledgement goes to a direct chat anyway).
    try:
        await services(ctx).client.redact(ctx.room_id, ctx.event_id)
    except MatrixError as exc:
        logger.info("could not hide a report command in %s: %s", ctx.room_id, exc.errcode or exc)


@command(
    "info",
    aliases=("群信息",),
    usage={"zh-CN": "!群信息", "en": "!info"},
    summary={
        "zh-CN": "本群的编码、名称、类别、规模、人数、群主和管理员",
        "en": "code, name, category, tiers, members, roles",
    },
)
async def info_command(ctx: Context) -> None:
    """The group's info page (Art. 8) in chat."""
    group = await services(ctx).group_state(ctx.room_id)
    if group is None:
        await ctx.reply(ctx.t("not_governed"))
        return
    page = await ctx.api.group(str(group["code"]))
    reply = info_text(ctx, page)
    if page.get("public") and page.get("url"):
        # Art. 8: groups from `info_page_from_members` have a page anyone can open in a browser.
        reply += "\n" + ctx.t("info_page_url", url=page["url"])
    await ctx.reply(reply)


@command(
    "rules",
    aliases=("群规",),
    usage={"zh-CN": "!群规", "en": "!rules"},
    summary={"zh-CN": "本群群规和平台公约", "en": "the room's rules and the platform convention"},
)
async def rules_command(ctx: Context) -> None:
    """Room rules (the room topic) and the platform convention (Art. 5)."""
    topic_event = await services(ctx).client.get_state_event(ctx.room_id, "m.room.topic")
    topic = str(((topic_event or {}).get("content") or {}).get("topic") or "").strip()
    convention = await ctx.api.convention()
    await ctx.reply(
        ctx.t(
            "rules",
            room_rules=topic or ctx.t("rules_none"),
            version=convention.get("version", ""),
            convention=str(convention.get("text", "")).strip(),
        )
    )


@command(
    "appeal",
    aliases=("申诉",),
    scope=Scope.DM,
    usage={"zh-CN": "!申诉 <处置编号> <理由>", "en": "!appeal <measure id> <text>"},
    summary={"zh-CN": "对处置提出申诉（私聊）", "en": "appeal a measure against you (direct chat)"},
)
async def appeal_command(ctx: Context) -> None:
    """Appeal a measure; a person at the platform decides (PIPL Art. 24)."""
    text = rest_after(ctx.command.raw_args, 1)
    if len(ctx.command.args) < 2 or not text:
        usage = ctx.spec.usage_in(ctx.language, ctx.prefix)
        raise UsageError(f"{usage}（{ctx.t('appeal_usage_hint')}）" if ctx.language == "zh-CN" else usage)
    answer = await ctx.api.appeal(ctx.sender, ctx.command.args[0], text)
    await ctx.reply(str(answer.get("message") or answer.get("id")))
