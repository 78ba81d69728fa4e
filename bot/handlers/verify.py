"""``!verify`` / ``!实名`` (direct chat only): a one-time link to the verification form.

Art. 6 (后台实名、前台自愿): the bot asks the module, as its service account,
for a link made for the sender (``POST /admin/realname/links``) and answers
only in the direct chat, since the link verifies whoever opens it. When the
sender is verified already the module refuses (409) and its message is shown.
"""

from __future__ import annotations

from bot.commands import Context, Scope, command
from bot.messages import china_time


@command(
    "verify",
    aliases=("实名",),
    scope=Scope.DM,
    usage={"zh-CN": "!实名", "en": "!verify"},
    summary={
        "zh-CN": "获取一次性实名认证链接（私聊）",
        "en": "get a one-time link to verify your real name (direct chat)",
    },
)
async def verify_command(ctx: Context) -> None:
    """Answer with the link, when it expires, and what the real name is used for."""
    link = await ctx.api.realname_link(ctx.sender)
    lines = [ctx.t("verify_link_header"), link.url]
    if link.expires_at_ms is not None:
        again = ctx.prefix + ctx.spec.name_in(ctx.language)
        lines.append(ctx.t("verify_expires", when=china_time(link.expires_at_ms, ctx.language), command=again))
    lines.append(ctx.t("verify_purpose"))
    await ctx.reply("\n".join(lines))
