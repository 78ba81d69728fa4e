"""Owners' tools as pure rules (policies/room_tools.py): mute-all, the pinned list, announcement review."""

from __future__ import annotations

import pytest

from policies import PERMANENT, Reason, default_policy
from policies.decisions import RoomFacts
from policies.room_tools import MAX_PINNED, announcement_needs_review, may_post_while_muted_all, pinned_with

POLICY = default_policy()
NOW = 1_700_000_000_000
LATER = NOW + 60_000


@pytest.mark.parametrize(
    ("until", "admin", "event_type", "is_state", "allowed"),
    [
        (LATER, False, "m.room.message", False, False),
        (PERMANENT, False, "m.reaction", False, False),
        (LATER, False, "m.room.encrypted", False, False),
        (LATER, True, "m.room.message", False, True),  # the creator and admins still post
        (LATER, False, "m.room.redaction", False, True),  # taking back one's own words
        (LATER, False, "m.room.topic", True, True),  # state follows the power levels
        (NOW, False, "m.room.message", False, True),  # ended by itself at its end
        (None, False, "m.room.message", False, True),
    ],
)
def test_mute_all_refuses_plain_members_messages_while_it_lasts(
    until: int | None, admin: bool, event_type: str, is_state: bool, allowed: bool
) -> None:
    decision = may_post_while_muted_all(until, NOW, sender_is_admin=admin, event_type=event_type, is_state=is_state)
    assert decision.allowed is allowed
    if not allowed:
        assert decision.reason is Reason.ROOM_MUTED_ALL
        assert dict(decision.detail) == {
            "until": None if until == PERMANENT else until,
            "permanent": until == PERMANENT,
        }


def test_a_new_announcement_is_pinned_first_keeping_the_others_bounded() -> None:
    assert pinned_with("$new", ["$a", "$b"]) == ["$new", "$a", "$b"]
    assert pinned_with("$a", ["$b", "$a", 7, None, "$b"]) == ["$a", "$b"]
    many = [f"${i}" for i in range(MAX_PINNED + 5)]
    assert pinned_with("$new", many) == ["$new", *many[: MAX_PINNED - 1]]


def _room(**changes: object) -> RoomFacts:
    base: dict[str, object] = {
        "room_id": "!r:localhost",
        "category": "general",
        "member_count": 3,
        "tier": "small",
        "closed": False,
        "posting_suspended_until_ms": None,
        "frozen": False,
        "join_rule": "invite",
        "owner_level": "A",
    }
    return RoomFacts(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "review"),
    [
        ({}, False),
        ({"category": "commerce"}, False),  # elevated, not high
        ({"member_count": 499}, False),
        ({"category": "finance"}, True),
        ({"category": "minors"}, True),
        ({"member_count": 600}, True),  # large: the approval tier
        ({"tier": "large"}, True),
    ],
)
def test_large_and_high_risk_groups_announcements_are_reviewed_first(changes: dict[str, object], review: bool) -> None:
    assert announcement_needs_review(_room(**changes), POLICY) is review
