"""Human texts for refusals: the policy's catalogue, filled from the decision detail.

Placeholders are ``{name}``. A ``[[ … ]]`` segment is kept only when every placeholder
inside it has a value, so optional facts vanish cleanly; a placeholder outside a
segment without a value becomes empty. Rendering never raises for missing detail.

Values are written for people:

- ``until`` and keys ending in ``_until``, ``_at`` or ``_ms``: milliseconds since the
  epoch, shown as ``YYYY-MM-DD HH:mm（北京时间）`` (``policies.display.format_time``); ``None`` under
  ``until`` means permanent;
- ``duration`` and keys ending in ``_seconds``: a duration (``7天``, ``7 days``);
- ``category``, ``tier`` and ``max_tier``: the policy's label when the name is known;
  ``categories``: each choice as label and name;
- lists and tuples: joined with ``、`` or ``, ``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from .constants import LANGUAGES, Language
from .display import CHINA_STANDARD_TIME, china_datetime, format_time
from .durations import format_duration
from .identity import problem_text
from .model import Policy
from .reasons import Reason

_PLACEHOLDER: Final = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SEGMENT: Final = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)


def resolve_language(language: str) -> Language:
    """The catalogue language for a requested one: ``en-US`` → ``en``, else ``zh-CN``."""
    for known in LANGUAGES:
        if language == known:
            return known
    return "en" if language.lower().startswith("en") else "zh-CN"


def render(reason: Reason, language: str, detail: Mapping[str, object], policy: Policy) -> str:
    """The text a person sees for a refusal.

    Args:
        reason: the refusal's reason code.
        language: the wanted language; unknown languages fall back to zh-CN.
        detail: the decision's detail, plus what the adapter adds (``form_url``).
        policy: the active policy (its ``messages`` catalogue and labels).

    Returns:
        The filled text.
    """
    lang = resolve_language(language)
    field, problem = detail.get("field"), detail.get("problem")
    if reason is Reason.INVALID_IDENTITY and isinstance(field, str) and isinstance(problem, str):
        # A format error names the field and what is wrong with it, so the person can fix it (Art. 6).
        return problem_text(field, problem, lang)
    template = policy.messages[lang][reason]
    values = {
        key: text for key, value in detail.items() if (text := _format_value(key, value, lang, policy)) is not None
    }

    def fill(text: str) -> str:
        return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), ""), text)

    def segment(match: re.Match[str]) -> str:
        inner = match.group(1)
        if all(name in values for name in _PLACEHOLDER.findall(inner)):
            return fill(inner)
        return ""

    text = fill(_SEGMENT.sub(segment, template))
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def _format_value(key: str, value: object, language: Language, policy: Policy) -> str | None:
    english = language == "en"
    if key == "until" and value is None:
        return "never; it is permanent" if english else "永久，不会自动解除"
    if value is None:
        return None
    if _is_time_key(key) and isinstance(value, int) and not isinstance(value, bool):
        return format_time(value, language)
    if (key == "duration" or key.endswith("_seconds")) and (isinstance(value, int) and not isinstance(value, bool)):
        return format_duration(value, language)
    if isinstance(value, bool):
        return ("yes" if value else "no") if english else ("是" if value else "否")
    if key in ("category", "tier", "max_tier") and isinstance(value, str):
        return _label(key, value, language, policy) or value
    if isinstance(value, list | tuple):
        items = [str(item) for item in value]
        if key == "categories":
            items = [_choice(item, language, policy) for item in items]
        return (", " if english else "、").join(items)
    return str(value)


def _is_time_key(key: str) -> bool:
    return key == "until" or key.endswith(("_until", "_at", "_ms"))


def _label(key: str, name: str, language: Language, policy: Policy) -> str | None:
    if key == "category":
        category = policy.categories.known.get(name)
        return category.labels[language] if category is not None else None
    for tier in policy.scale_tiers.tiers:
        if tier.name == name:
            return tier.labels[language]
    return None


def _choice(name: str, language: Language, policy: Policy) -> str:
    label = _label("category", name, language, policy)
    if label is None or label.casefold() == name.replace("_", " ").casefold():
        return name
    return f"{name} ({label})" if language == "en" else f"{label}（{name}）"


__all__ = ["CHINA_STANDARD_TIME", "china_datetime", "format_time", "render", "resolve_language"]
