"""Who may dissolve or hand over a group, and to whom (policies/lifecycle.py)."""

from __future__ import annotations

import pytest

from policies import Reason, RoomFacts, UserFacts
from policies.lifecycle import may_act_as_owner, may_own_one_more, may_take_over
from policies.loader import load_policy

from ..facts import room_facts, user_facts

POLICY = load_policy(None)
OWNER = "@owner:example.org"


def person(score: int | None = 100, **changes: object) -> UserFacts:
    defaults = {
        "user_id": "@new:example.org",
        "verified": score is not None,
        "verification_level": 1 if score is not None else 0,
        "credit_score": score,
    }
    return user_facts(**{**defaults, **changes})


def room(tier: str = "small", members: int = 5, granted: str | None = None) -> RoomFacts:
    return room_facts(
        room_id="!r:example.org", member_count=members, tier=tier, join_rule="invite", granted_tier=granted
    )


def test_only_the_owner_acts_as_owner() -> None:
    assert may_act_as_owner(OWNER, OWNER, "123").allowed
    refused = may_act_as_owner("@admin:example.org", OWNER, "123")
    assert refused.reason is Reason.NOT_OWNER and refused.detail == {"code": "123", "owner": OWNER}


@pytest.mark.parametrize(
    ("target", "group", "member", "problem"),
    [
        (person(user_id=OWNER), room(), True, "same_owner"),
        (person(), room(), False, "not_member"),
        (person(None), room(), True, "not_verified"),
        (person(blacklisted=True), room(), True, "not_verified"),
        (person(75), room("medium", 200), True, "level"),  # C: small rooms only
        (person(100), room("medium", 200), True, None),  # B: up to medium
        (person(75), room("medium", 200, granted="medium"), True, None),  # staff granted the size
        (person(None, exempt=True), room("large", 900), True, None),
    ],
)
def test_the_new_owner_is_a_verified_member_whose_level_allows_the_size(
    target: UserFacts, group: RoomFacts, member: bool, problem: str | None
) -> None:
    decision = may_take_over(target, group, OWNER, is_member=member, policy=POLICY)
    if problem is None:
        assert decision.allowed
    else:
        assert decision.reason is Reason.TRANSFER_NOT_ALLOWED
        assert decision.detail == {"target": target.user_id, "problem": problem}


def test_the_new_owner_cap_counts_like_a_creation() -> None:
    assert may_own_one_more(person(), 9, "general", POLICY).allowed
    full = may_own_one_more(person(), 10, "general", POLICY)
    assert full.reason is Reason.CREATE_LIMIT and full.detail == {"cap": 10, "count": 10, "level": "B"}
    assert may_own_one_more(person(65), 0, "general", POLICY).reason is Reason.CREDIT_INSUFFICIENT
