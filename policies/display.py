"""What people read instead of stored values: times in Beijing time and labels for tiers and states. Pure.

Every page and message a person sees shows ``2026-12-05 08:30（北京时间）``, never epoch
milliseconds, and ``小型`` / ``低活跃`` / ``正常``, never ``small`` / ``quiet`` / ``active``
(DESIGN.md §6.3). Scale tiers and categories carry their labels in the policy; activity
tiers and group states are fixed by the code, so their labels live here.

The names and texts are those of the bot's label tables (``policies/labels.py`` on the
branch that localises ``!me`` and ``!info``), a subset of them: where both exist, this
module is that one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from .constants import Language
from .messages import china_datetime
from .model import Policy

_TIME_SUFFIX: Final[Mapping[Language, str]] = {"zh-CN": "（北京时间）", "en": " (Beijing time)"}

GROUP_STATUS: Final[Mapping[str, Mapping[Language, str]]] = {
    "active": {"zh-CN": "正常", "en": "normal"},
    "warned": {"zh-CN": "警示整改中", "en": "warned, rectification due"},
    "suspended": {"zh-CN": "暂停发布信息", "en": "posting suspended"},
    "closed": {"zh-CN": "已关闭", "en": "closed"},
}
"""Art. 11: the states of a group on its info page (`status`)."""

ACTIVITY_TIER: Final[Mapping[str, Mapping[Language, str]]] = {
    "quiet": {"zh-CN": "低活跃", "en": "quiet"},
    "active": {"zh-CN": "活跃", "en": "active"},
    "hot": {"zh-CN": "高活跃", "en": "very active"},
}
"""Art. 7: the activity tiers of the default policy (the policy names them but gives no labels)."""

SCALE_TIER: Final[Mapping[str, Mapping[Language, str]]] = {
    "small": {"zh-CN": "小型", "en": "small"},
    "medium": {"zh-CN": "中型", "en": "medium"},
    "large": {"zh-CN": "大型", "en": "large"},
    "huge": {"zh-CN": "超大型", "en": "huge"},
}
"""Scale tiers of the default policy, for a reader without the policy (the policy's own labels win)."""


def _lang(language: str) -> Language:
    return "en" if language.lower().startswith("en") else "zh-CN"


def format_time(ms: int, language: str = "zh-CN") -> str:
    """Milliseconds since the epoch as people read them: ``2026-12-05 08:30（北京时间）``.

    Never raises: times outside what `datetime` holds show as its first or last minute.

    Args:
        ms: Milliseconds since the epoch.
        language: ``zh-CN`` or ``en`` (``en-US`` and the like read as ``en``).
    """
    return china_datetime(ms).strftime("%Y-%m-%d %H:%M") + _TIME_SUFFIX[_lang(language)]


def label(table: Mapping[str, Mapping[Language, str]], value: object, language: str) -> str:
    """The label of ``value`` in ``table``; the value itself when the table does not know it."""
    if value is None or value == "":
        return "—"
    known = table.get(str(value))
    return known[_lang(language)] if known is not None else str(value)


def scale_tier_label(name: str, language: str, policy: Policy | None = None) -> str:
    """A scale tier's label: the policy's when given, else the default policy's names."""
    if policy is not None:
        for tier in policy.scale_tiers.tiers:
            if tier.name == name:
                return tier.labels[_lang(language)]
    return label(SCALE_TIER, name, language)
