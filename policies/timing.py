"""Whether a stored end time is still in force, and how a refusal states it.

A measure, a mute or a blacklist entry is stored with its end in ms since the
epoch, ``PERMANENT`` when it has none, ``None`` when there is none at all.
"""

from __future__ import annotations

from .constants import PERMANENT


def in_force(until_ms: int | None, now_ms: int) -> bool:
    """Whether something ending at ``until_ms`` still holds at ``now_ms`` (it ends at that instant)."""
    return until_ms is not None and (until_ms == PERMANENT or until_ms > now_ms)


def end_in_force(until_ms: int | None, now_ms: int) -> int | None:
    """``until_ms`` while it is in force (``PERMANENT`` included), else ``None``."""
    return until_ms if in_force(until_ms, now_ms) else None


def until_detail(until_ms: int | None) -> dict[str, object]:
    """The ``cn.qunzu.detail`` part of a refusal that lasts until ``until_ms``.

    ``None`` and ``PERMANENT`` both read as no end: ``{"until": None, "permanent": True}``.
    """
    permanent = until_ms is None or until_ms == PERMANENT
    return {"until": None if permanent else until_ms, "permanent": permanent}
