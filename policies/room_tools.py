"""Owners' and admins' room tools (Art. 9): mute-all (全员禁言) and pinned announcements.

Pure rules: who may still post while a room is muted, how long a mute-all lasts, how
the pinned list grows, and which groups' announcements staff review first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from .decisions import Decision, RoomFacts, effective_tier
from .model import Policy
from .reasons import Reason
from .tiers import tier_index
from .timing import in_force, until_detail

MAX_PINNED: Final = 20
"""Pinned events kept in ``m.room.pinned_events``: a new announcement drops the oldest beyond this."""

MAX_ANNOUNCEMENT_CHARS: Final = 2000
"""The longest announcement text accepted."""

# Events a plain member may still send while the room is muted: taking back their own words.
_ALLOWED_WHILE_MUTED: Final = frozenset({"m.room.redaction"})


def may_post_while_muted_all(
    muted_until_ms: int | None, now_ms: int, *, sender_is_admin: bool, event_type: str, is_state: bool
) -> Decision:
    """May the sender post while the room's mute-all may be on (Art. 9 全员禁言)?

    Args:
        muted_until_ms: end of the room's mute-all (``PERMANENT``: until lifted), ``None`` when off.
        now_ms: the current time; the mute-all ends by itself at its end.
        sender_is_admin: the sender is the room's creator or an admin (power ≥ 50).
            Staff and the service account are exempt before this rule is asked.
        event_type: the event's type.
        is_state: state events follow the room's power levels, not this rule.

    Returns:
        Allowed, or refused with room_muted_all and the end (``until``, ``permanent``).
    """
    if sender_is_admin or is_state or event_type in _ALLOWED_WHILE_MUTED or not in_force(muted_until_ms, now_ms):
        return Decision.allow()
    return Decision.refuse(Reason.ROOM_MUTED_ALL, **until_detail(muted_until_ms))


def pinned_with(new_event_id: str, current: Sequence[object]) -> list[str]:
    """``m.room.pinned_events`` with ``new_event_id`` first, the existing pins kept after it (bounded).

    Non-string entries (a client's malformed pin) are dropped; duplicates are kept once.
    """
    pinned = [new_event_id]
    for event_id in current:
        if isinstance(event_id, str) and event_id not in pinned:
            pinned.append(event_id)
    return pinned[:MAX_PINNED]


def announcement_needs_review(room: RoomFacts, policy: Policy) -> bool:
    """Whether staff review a group's announcement before it is posted (Art. 9, DESIGN.md §6.4).

    Large groups (the policy's approval tier and up, where an announcement reaches the
    most people) and groups of a high-risk category at any size.
    """
    tier = effective_tier(room, policy)
    if tier_index(tier, policy) >= tier_index(policy.scale_tiers.approval_from_tier, policy):
        return True
    risk = policy.categories.known.get(room.category)
    return risk is not None and risk.risk == "high"
