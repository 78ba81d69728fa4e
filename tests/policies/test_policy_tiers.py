"""Credit levels, scale and activity tiers (Art. 7, 8; DESIGN.md §4)."""

from __future__ import annotations

import pytest

from policies import (
    activity_tier_of,
    default_policy,
    level_of,
    load_policy_from_mapping,
    max_members_for_level,
    scale_tier_of,
)
from policies.tiers import (
    level_at_least,
    level_rules,
    max_tier_for_level,
    needs_info_page,
    tier_index,
)

POLICY = default_policy()


@pytest.mark.parametrize(
    ("score", "level"),
    [
        (200, "A"),
        (120, "A"),
        (110, "A"),
        (109, "B"),
        (100, "B"),
        (90, "B"),
        (89, "C"),
        (70, "C"),
        (69, "D"),
        (60, "D"),
        (59, "E"),
        (0, "E"),
        (-5, "E"),
    ],
)
def test_level_of_cuts_scores_at_110_90_70_60(score: int, level: str) -> None:
    assert level_of(score, POLICY) == level


@pytest.mark.parametrize(
    ("members", "tier"),
    [
        (0, "small"),
        (100, "small"),
        (101, "medium"),
        (500, "medium"),
        (501, "large"),
        (2000, "large"),
        (2001, "huge"),
        (3000, "huge"),
        (9999, "huge"),
    ],
)
def test_scale_tier_of_follows_member_count(members: int, tier: str) -> None:
    assert scale_tier_of(members, POLICY) == tier


@pytest.mark.parametrize(
    ("messages", "tier"),
    [(0, "quiet"), (49, "quiet"), (50, "active"), (999, "active"), (1000, "hot"), (10**6, "hot")],
)
def test_activity_tier_of_follows_messages_in_seven_days(messages: int, tier: str) -> None:
    assert activity_tier_of(messages, POLICY) == tier


@pytest.mark.parametrize(
    ("level", "members", "tier"),
    [
        ("A", 2000, "large"),
        ("B", 500, "medium"),
        ("C", 100, "small"),
        ("D", 100, "small"),
        ("E", 100, "small"),
    ],
)
def test_max_members_for_level_is_the_largest_tier_the_level_allows(level: str, members: int, tier: str) -> None:
    assert max_members_for_level(level, POLICY) == members
    assert max_tier_for_level(level, POLICY) == tier


def test_max_members_for_level_never_exceeds_the_hard_ceiling() -> None:
    policy = load_policy_from_mapping({"credit": {"levels": {"A": {"max_room_tier": "huge"}}}})
    assert max_members_for_level("A", policy) == 3000 == policy.scale_tiers.ceiling


@pytest.mark.parametrize(
    ("level", "minimum", "result"),
    [("A", "B", True), ("B", "B", True), ("C", "B", False), ("E", "A", False)],
)
def test_level_at_least_orders_a_best(level: str, minimum: str, result: bool) -> None:
    assert level_at_least(level, minimum, POLICY) is result


def test_unknown_level_or_tier_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown credit level"):
        level_rules("F", POLICY)
    with pytest.raises(ValueError, match="unknown scale tier"):
        tier_index("gigantic", POLICY)


@pytest.mark.parametrize(("members", "needed"), [(99, False), (100, True), (2500, True)])
def test_info_page_is_required_from_100_members(members: int, needed: bool) -> None:
    assert needs_info_page(members, POLICY) is needed
