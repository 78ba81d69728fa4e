"""``!help`` / ``!帮助``: the commands the caller may use here."""

from __future__ import annotations

from bot.commands import CommandSpec, Context, command


def _names(spec: CommandSpec, ctx: Context) -> str:
    shown = spec.name_in(ctx.language)
    others = [n for n in spec.names if n != shown]
    return " · ".join(ctx.prefix + n for n in (shown, *others))


@command(
    "help",
    aliases=("帮助",),
    usage={"zh-CN": "!帮助", "en": "!help"},
    summary={"zh-CN": "列出你在这里可以使用的命令", "en": "list the commands you can use here"},
)
async def help_command(ctx: Context) -> None:
    """List the commands the caller may use in this room, one line each."""
    lines = [
        ctx.t("help_line", names=_names(spec, ctx), summary=summary)
        if (summary := spec.summary_in(ctx.language))
        else _names(spec, ctx)
        for spec in ctx.registry
        if await ctx.may_use(spec)
    ]
    if not lines:
        await ctx.reply(ctx.t("help_none"))
        return
    await ctx.reply("\n".join([ctx.t("help_header"), *lines]))
