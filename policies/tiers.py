"""Levels and tiers derived from numbers: credit → level, members → scale tier,
messages → activity tier, level → largest room (Art. 7, 8)."""

from __future__ import annotations

from .model import CREDIT_LEVELS, CreditLevel, LevelRules, Policy


def level_of(score: int, policy: Policy) -> CreditLevel:
    """The credit level of a score (Art. 7: credit-level system).

    Scores outside the policy's range count as its nearest end.

    Args:
        score: the credit score.
        policy: the active policy.

    Returns:
        ``"A"`` … ``"E"``: the best level whose ``min_score`` the score reaches.
    """
    levels = policy.credit.levels
    for level in CREDIT_LEVELS:
        if score >= levels[level].min_score:
            return level
    return CREDIT_LEVELS[-1]


def level_rules(level: str, policy: Policy) -> LevelRules:
    """The caps and permissions of a level.

    Raises:
        ValueError: the level is not one of A–E.
    """
    for known in CREDIT_LEVELS:
        if known == level:
            return policy.credit.levels[known]
    raise ValueError(f"unknown credit level {level!r}")


def level_at_least(level: str, minimum: str, policy: Policy) -> bool:
    """Whether ``level`` is ``minimum`` or better (A is best)."""
    return level_rules(level, policy).min_score >= level_rules(minimum, policy).min_score


def tier_index(tier: str, policy: Policy) -> int:
    """Position of a scale tier, 0 for the smallest.

    Raises:
        ValueError: the tier is not in the policy.
    """
    names = policy.scale_tiers.names
    if tier not in names:
        raise ValueError(f"unknown scale tier {tier!r}")
    return names.index(tier)


def scale_tier_of(member_count: int, policy: Policy) -> str:
    """The scale tier of a room with this many joined members (Art. 7).

    Counts above the hard ceiling belong to the largest tier.
    """
    for tier in policy.scale_tiers.tiers:
        if member_count <= tier.max_members:
            return tier.name
    return policy.scale_tiers.tiers[-1].name


def tier_max_members(tier: str, policy: Policy) -> int:
    """The member limit of a scale tier.

    Raises:
        ValueError: the tier is not in the policy.
    """
    return policy.scale_tiers.tiers[tier_index(tier, policy)].max_members


def activity_tier_of(messages: int, policy: Policy) -> str:
    """The activity tier of a room with this many messages in the window (Art. 7)."""
    for tier in policy.activity_tiers.tiers:
        if tier.below is None or messages < tier.below:
            return tier.name
    return policy.activity_tiers.tiers[-1].name


def max_tier_for_level(level: str, policy: Policy) -> str:
    """The largest scale tier an owner of this level may run (Art. 8: vetting by scale).

    A level without a tier of its own (D, E by default: they may not create rooms) keeps
    the smallest tier, so rooms they already own stay usable at that size.
    """
    tier = level_rules(level, policy).max_room_tier
    return tier if tier is not None else policy.scale_tiers.tiers[0].name


def max_members_for_level(level: str, policy: Policy) -> int:
    """The most members a room of an owner of this level may have.

    Never above the hard ceiling (the last tier's ``max_members``).
    """
    return min(
        tier_max_members(max_tier_for_level(level, policy), policy),
        policy.scale_tiers.ceiling,
    )


def needs_info_page(member_count: int, policy: Policy) -> bool:
    """Whether a room of this size must have a public info page (Art. 8)."""
    return member_count >= policy.scale_tiers.info_page_from_members
