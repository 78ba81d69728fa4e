"""What people read instead of stored values: times in Beijing time and labels for tiers and states.

Every page and message a person sees shows ``2026-12-05 08:30（北京时间）``, never epoch
milliseconds, and ``小型`` / ``安静`` / ``正常``, never ``small`` / ``quiet`` / ``active``
(DESIGN.md §6.3). Scale tiers and categories carry their labels in the policy; activity
tiers and group states are fixed by the code, so their labels live here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from .messages import china_datetime, resolve_language
from .model import Policy

_TIME_SUFFIX: Final[Mapping[str, str]] = {"zh-CN": "（北京时间）", "en": " (Beijing time)"}

ACTIVITY_LABELS: Final[Mapping[str, Mapping[str, str]]] = {
    "zh-CN": {"quiet": "安静", "active": "活跃", "hot": "热门"},
    "en": {"quiet": "quiet", "active": "active", "hot": "very active"},
}
"""Art. 7: the activity tiers of policies/default.yaml (a policy naming others shows their names)."""

STATUS_LABELS: Final[Mapping[str, Mapping[str, str]]] = {
    "zh-CN": {"active": "正常", "warned": "警示整改中", "suspended": "暂停发布信息", "closed": "已关闭"},
    "en": {"active": "normal", "warned": "warned, rectifying", "suspended": "posting suspended", "closed": "closed"},
}
"""Art. 11: the states of a group on its info page (`status`)."""


def display_time(ms: int, language: str = "zh-CN") -> str:
    """Milliseconds since the epoch as ``YYYY-MM-DD HH:mm（北京时间）`` (``(Beijing time)`` in English).

    Never raises: times outside what `datetime` holds show as its first or last minute.
    """
    moment = china_datetime(ms)
    return moment.strftime("%Y-%m-%d %H:%M") + _TIME_SUFFIX[resolve_language(language)]


def scale_label(name: str, policy: Policy, language: str = "zh-CN") -> str:
    """The policy's label of a scale tier (``小型``), or the name for a tier the policy does not know."""
    wanted = resolve_language(language)
    for tier in policy.scale_tiers.tiers:
        if tier.name == name:
            return next((label for lang, label in tier.labels.items() if lang == wanted), name)
    return name


def activity_label(name: str, language: str = "zh-CN") -> str:
    """The label of an activity tier (``安静``); the name for one a policy added."""
    return ACTIVITY_LABELS[resolve_language(language)].get(name, name)


def status_label(status: str, language: str = "zh-CN") -> str:
    """The label of a group's state (``正常``, ``已关闭`` …)."""
    return STATUS_LABELS[resolve_language(language)].get(status, status)
