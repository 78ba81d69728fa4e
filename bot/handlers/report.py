"""Member commands: ``!report`` / ``!举报``, ``!info`` / ``!群信息``, ``!rules`` / ``!群规``,
``!appeal`` / ``!申诉`` (direct chat).

``!report`` as a reply reports that message, alone the room (Art. 12). The
module takes it out of the room before it is stored, files it (category from
the policy's 12377 set, evidence, duplicates joined, rate limit) and
acknowledges the reporter in the bot chat with the ticket id, so no member —
the reported person neither — ever sees who reported. In the bot chat the
command explains how to report.
"""

from __future__ import annotations

import logging

from bot.commands import Context, Scope, command
from bot.errors import UsageError
from bot.handlers.common import info_text, rest_after, services
from policies.appeals import is_reference
from policies.commands import REPORT_NAMES

logger = logging.getLogger(__name__)


async def _categories(ctx: Context) -> dict[str, dict[str, str]]:
    return (await ctx.api.convention()).report_categories


def _category_list(ctx: Context, categories: dict[str, dict[str, str]]) -> str:
    return "、".join(
        f"{labels.get(ctx.language) or name} ({name})" if ctx.language == "zh-CN" else name
        for name, labels in categories.items()
    )


@command(
    "report",
    aliases=REPORT_NAMES[1:],
    usage={"zh-CN": "!举报 <类别> [理由]", "en": "!report <category> [reason]"},
    summary={
        "zh-CN": "在群里回复一条消息举报它，不回复则举报本群；只有你和平台知道是谁举报的",
        "en": "in a room, reply to a message to report it, or report the room; only the platform learns who reported",
    },
)
async def report_command(ctx: Context) -> None:
    """In the bot chat: how to report. In a room the module has taken the command already.

    The module refuses every local ``!report`` in a room before it is stored and files it
    itself (``synapse_module/private_reports.py``), so the bot never sees one there. What
    still reaches it in a room (a person of another server) gets no answer in the room:
    any answer there would tell the room who reported.
    """
    if not ctx.is_direct:
        logger.info("a report command reached the bot in a room; not answered there")
        return
    categories = await _categories(ctx)
    await ctx.reply(
        "\n".join([ctx.t("report_dm_usage"), ctx.t("report_categories", categories=_category_list(ctx, categories))])
    )


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
    page = await ctx.api.group(str(group["code"]), ctx.language)
    reply = info_text(ctx, page)
    if page.public and page.url:
        # Art. 8: groups from `info_page_from_members` have a page anyone can open in a browser.
        reply += "\n" + ctx.t("info_page_url", url=page.url)
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
            version=convention.version,
            convention=convention.text.strip(),
        )
    )


@command(
    "appeal",
    aliases=("申诉",),
    scope=Scope.DM,
    usage={"zh-CN": "!申诉 [编号] <理由>", "en": "!appeal [reference] <reasons>"},
    summary={
        "zh-CN": "对处置或被拦截的消息提出申诉，不写编号则申诉最近的一项（私聊）",
        "en": "appeal a measure or a refused message; without a reference, the latest (direct chat)",
    },
)
async def appeal_command(ctx: Context) -> None:
    """Appeal a decision (a measure, a refused message); a person at the platform decides (PIPL Art. 24).

    ``!appeal <reasons>`` appeals the caller's latest appealable decision; ``!appeal
    <reference> <reasons>`` the one a notice or a refusal named.
    """
    args = ctx.command.args
    ref = args[0] if args and is_reference(args[0]) else None
    text = rest_after(ctx.command.raw_args, 1) if ref is not None else ctx.command.raw_args.strip()
    if not text:
        usage = ctx.spec.usage_in(ctx.language, ctx.prefix)
        raise UsageError(f"{usage}\n{ctx.t('appeal_usage_hint')}")
    answer = await ctx.api.appeal(ctx.sender, ref, text)
    await ctx.reply(str(answer.message or answer.id))
