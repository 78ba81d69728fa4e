"""``!me`` / ``!我的`` (direct chat only): the caller's own status from ``GET /me``.

The module decides what ``/me`` contains (DESIGN §3.4) and masks identity data
itself; this handler shows whatever fields are present, labelled when known,
so new fields appear without a bot change.
"""

from __future__ import annotations

from typing import Any

from bot.commands import Scope, command
from bot.dispatcher import Context
from bot.messages import has, t
from policies.constants import Language

_INDENT = "  "


def _label(key: str, language: Language) -> str:
    return t(f"label.{key}", language) if has(f"label.{key}") else key


def _scalar(value: Any, language: Language) -> str:
    if value is True:
        return t("yes", language)
    if value is False:
        return t("no", language)
    if value is None or value == "":
        return "—"
    return str(value)


def _field(key: str, value: Any, language: Language) -> str:
    return t("field", language, label=_label(key, language), value=_scalar(value, language))


def render_status(data: dict[str, Any], language: Language, depth: int = 0) -> list[str]:
    """Lines for ``data``: ``label: value``, nested objects indented.

    An object with ``count`` and ``cap`` reads ``count / cap``; a list of
    objects gives one line per item.

    Args:
        data: A JSON object from the module.
        language: Language of labels.
        depth: Nesting level (indentation).
    """
    pad = _INDENT * depth
    lines: list[str] = []
    for key, value in data.items():
        label = _label(str(key), language)
        if isinstance(value, dict) and {"count", "cap"} <= value.keys():
            shown = f"{_scalar(value['count'], language)} / {_scalar(value['cap'], language)}"
            lines.append(pad + t("field", language, label=label, value=shown))
        elif isinstance(value, dict):
            lines.append(pad + t("field", language, label=label, value=""))
            lines.extend(render_status(value, language, depth + 1))
        elif isinstance(value, list):
            if not value:
                lines.append(pad + t("field", language, label=label, value=t("none", language)))
                continue
            lines.append(pad + t("field", language, label=label, value=""))
            for item in value:
                if isinstance(item, dict):
                    parts = [
                        t(
                            "field",
                            language,
                            label=_label(str(k), language),
                            value=_scalar(v, language),
                        )
                        for k, v in item.items()
                        if not isinstance(v, dict | list)
                    ]
                    lines.append(pad + _INDENT + "- " + "; ".join(parts))
                else:
                    lines.append(pad + _INDENT + "- " + _scalar(item, language))
        else:
            lines.append(pad + t("field", language, label=label, value=_scalar(value, language)))
    return lines


@command(
    "me",
    aliases=("我的",),
    scope=Scope.DM,
    usage={"zh-CN": "!我的", "en": "!me"},
    summary={
        "zh-CN": "查看你的实名、信用、群数量和处置情况（私聊）",
        "en": "your verification, credit, room counts and measures (direct chat)",
    },
)
async def me_command(ctx: Context) -> None:
    """Show the caller's status as the module reports it."""
    data = await ctx.api.me(as_user=ctx.sender)
    lines = render_status(data, ctx.language)
    if not lines:
        await ctx.reply(ctx.t("me_empty"))
        return
    await ctx.reply("\n".join([ctx.t("me_header"), *lines]))
