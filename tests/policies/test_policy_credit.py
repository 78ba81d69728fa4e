"""Credit arithmetic (Art. 7): recovery computed on read, up to ``credit.recovery.ceiling``."""

from __future__ import annotations

import pytest

from policies import default_policy, load_policy_from_mapping
from policies.constants import DAY_MS
from policies.credit import CreditRow, changed, clamp, current
from policies.errors import PolicyLoadError

POLICY = default_policy()
T0 = 1_700_000_000_000


@pytest.mark.parametrize(
    ("score", "days", "expected"),
    [
        (60, 0, 60),
        (60, 6, 60),
        (60, 7, 61),
        (60, 70, 70),
        (95, 70, 105),  # past credit.initial (100): the default ceiling is credit.max
        (110, 700, 120),  # level A is reached by conduct, and held at credit.max
        (119, 14, 120),
        (120, 700, 120),
        (0, 7 * 120, 120),
    ],
)
def test_recovery_is_one_point_per_full_week_up_to_the_ceiling(score: int, days: int, expected: int) -> None:
    assert POLICY.credit.recovery.ceiling == POLICY.credit.max == 120
    assert current(CreditRow(score, T0), T0 + days * DAY_MS, POLICY).score == expected


@pytest.mark.parametrize(
    ("ceiling", "score", "days", "expected"),
    [
        (100, 60, 70, 70),
        (100, 95, 70, 100),  # an operator who wants recovery to restore only the initial score
        (100, 110, 700, 110),  # a staff grant above the ceiling is neither raised nor lowered
        (0, 0, 700, 0),
    ],
)
def test_the_ceiling_is_the_policys(ceiling: int, score: int, days: int, expected: int) -> None:
    policy = load_policy_from_mapping({"credit": {"recovery": {"ceiling": ceiling}}})
    assert current(CreditRow(score, T0), T0 + days * DAY_MS, policy).score == expected


@pytest.mark.parametrize("ceiling", [-1, 121])
def test_a_ceiling_outside_min_max_stops_the_load(ceiling: int) -> None:
    with pytest.raises(PolicyLoadError, match=r"credit\.recovery\.ceiling"):
        load_policy_from_mapping({"credit": {"recovery": {"ceiling": ceiling}}})


def test_a_new_identity_starts_at_the_initial_score_and_does_not_recover_without_a_violation() -> None:
    assert current(None, T0, POLICY) == CreditRow(100, None)
    assert current(CreditRow(80, None), T0 + 700 * DAY_MS, POLICY).score == 80


def test_materialising_keeps_the_partial_week_so_nothing_is_counted_twice() -> None:
    row = CreditRow(60, T0)
    before, after = changed(row, +5, T0 + 10 * DAY_MS, POLICY)  # one week recovered, 3 days carried
    assert (before, after.score, after.anchor_ts) == (61, 66, T0 + 7 * DAY_MS)
    assert current(after, T0 + 14 * DAY_MS, POLICY).score == 67


def test_a_decrease_restarts_recovery_and_scores_stay_in_range() -> None:
    before, after = changed(CreditRow(10, T0), -40, T0 + DAY_MS, POLICY)
    assert (before, after.score, after.anchor_ts) == (10, 0, T0 + DAY_MS)
    assert changed(CreditRow(115, None), +20, T0, POLICY)[1].score == 120


@pytest.mark.parametrize(("score", "result"), [(-10, 0), (0, 0), (100, 100), (150, 120)])
def test_clamp_keeps_score_in_range(score: int, result: int) -> None:
    assert clamp(score, POLICY) == result


@pytest.mark.parametrize(
    ("days", "expected"),
    [(0, 100), (6, 100), (7, 101), (70, 110), (7 * 40, 120)],
)
def test_a_person_never_sanctioned_recovers_from_the_day_they_were_verified(days: int, expected: int) -> None:
    # No score of their own yet: credit.initial at verification, then the same recovery as anyone.
    verified = CreditRow(None, T0)
    assert current(verified, T0 + days * DAY_MS, POLICY).score == expected
    before, after = changed(verified, -20, T0 + 70 * DAY_MS, POLICY)
    assert (before, after) == (110, CreditRow(90, T0 + 70 * DAY_MS))
