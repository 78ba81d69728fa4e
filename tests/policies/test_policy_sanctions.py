"""Escalation ladders (Art. 11; DESIGN.md §4 sanctions)."""

from __future__ import annotations

import pytest

from policies import (
    Measure,
    Policy,
    PolicyError,
    SubjectKind,
    default_policy,
    load_policy_from_mapping,
    next_measure,
)
from policies.durations import DAY, HOUR
from policies.sanctions import credit_delta, default_duration, is_severe, measure_report_kind

POLICY = default_policy()


@pytest.mark.parametrize(
    ("kind", "prior", "measure", "duration", "blacklist"),
    [
        (SubjectKind.ROOM, 0, Measure.WARNING, 72 * HOUR, False),
        (SubjectKind.ROOM, 1, Measure.WARNING, 72 * HOUR, False),
        (SubjectKind.ROOM, 2, Measure.WARNING, 72 * HOUR, False),
        (SubjectKind.ROOM, 3, Measure.POSTING_SUSPENSION, 7 * DAY, False),
        (SubjectKind.ROOM, 4, Measure.POSTING_SUSPENSION, 30 * DAY, False),
        (SubjectKind.ROOM, 5, Measure.CLOSURE, None, True),
        (SubjectKind.ROOM, 9, Measure.CLOSURE, None, True),
        (SubjectKind.ROOM, -1, Measure.WARNING, 72 * HOUR, False),
        (SubjectKind.ADMIN, 0, Measure.CREDIT_LOWERED, 0, False),
        (SubjectKind.ADMIN, 1, Measure.ADMIN_SUSPENSION, 7 * DAY, False),
        (SubjectKind.ADMIN, 2, Measure.ADMIN_SUSPENSION, 30 * DAY, False),
        (SubjectKind.ADMIN, 3, Measure.CREATION_REVOKED, 180 * DAY, False),
        (SubjectKind.ADMIN, 4, Measure.CREATION_REVOKED, None, False),
        (SubjectKind.MEMBER, 0, Measure.WARNING, 0, False),
        (SubjectKind.MEMBER, 1, Measure.MUTE, 7 * DAY, False),
        (SubjectKind.MEMBER, 2, Measure.MUTE, 30 * DAY, False),
        (SubjectKind.MEMBER, 3, Measure.BLACKLIST, None, False),
    ],
)
def test_next_measure_climbs_the_ladder_with_each_repeat(
    kind: SubjectKind, prior: int, measure: Measure, duration: int | None, blacklist: bool
) -> None:
    step = next_measure(kind, prior, POLICY)
    assert (step.measure, step.duration, step.blacklist) == (measure, duration, blacklist)


def test_admin_ladder_starts_by_lowering_credit_by_20() -> None:
    assert next_measure(SubjectKind.ADMIN, 0, POLICY).credit_delta == -20


@pytest.mark.parametrize("category", ["terrorism", "child_sexual_content", "fraud", "gambling"])
def test_severe_violation_closes_a_room_at_once(category: str) -> None:
    assert is_severe(category, POLICY)
    step = next_measure(SubjectKind.ROOM, 0, POLICY, severe=is_severe(category, POLICY))
    assert step.measure is Measure.CLOSURE
    assert step.duration is None


@pytest.mark.parametrize("category", ["vulgar", "rumor", "other"])
def test_other_violations_are_not_severe(category: str) -> None:
    assert not is_severe(category, POLICY)


@pytest.mark.parametrize(
    ("kind", "measure", "duration"),
    [
        (SubjectKind.ROOM, Measure.POSTING_SUSPENSION, 7 * DAY),
        (SubjectKind.ROOM, Measure.CLOSURE, None),
        (SubjectKind.MEMBER, Measure.MUTE, 7 * DAY),
        (SubjectKind.ADMIN, Measure.CREATION_REVOKED, 180 * DAY),
    ],
)
def test_default_duration_is_the_first_ladder_step_of_the_measure(
    kind: SubjectKind, measure: Measure, duration: int | None
) -> None:
    assert default_duration(kind, measure, POLICY) == duration


def test_default_duration_of_a_measure_outside_the_ladder_is_an_error() -> None:
    with pytest.raises(ValueError, match="no mute step"):
        default_duration(SubjectKind.ROOM, Measure.MUTE, POLICY)


def test_every_measure_lowers_credit_or_leaves_it() -> None:
    for measure in Measure:
        assert credit_delta(measure, POLICY) <= 0
    assert credit_delta(Measure.CREDIT_LOWERED, POLICY) == -20


def test_three_warnings_in_the_window_make_the_next_proposal_a_7_day_suspension() -> None:
    # A room warned three times within the repeat window is suspended next.
    step = next_measure(SubjectKind.ROOM, 3, POLICY)
    assert (step.measure, step.duration) == (Measure.POSTING_SUSPENSION, 7 * DAY)


def test_repeat_counts_violations_per_step_of_a_custom_ladder() -> None:
    policy = load_policy_from_mapping(
        {
            "sanctions": {
                "ladders": {
                    "member": [
                        {"measure": "warning", "duration": 0, "credit_delta": 0, "repeat": 2},
                        {"measure": "mute", "duration": "1d", "credit_delta": -5, "repeat": 2},
                        {"measure": "blacklist", "duration": "perm", "credit_delta": -40},
                    ]
                }
            }
        }
    )
    measures = [next_measure(SubjectKind.MEMBER, prior, policy).measure for prior in range(7)]
    assert measures == [Measure.WARNING] * 2 + [Measure.MUTE] * 2 + [Measure.BLACKLIST] * 3


def test_a_blacklisted_rooms_owner_loses_creation_and_its_admins_credit() -> None:
    owner = POLICY.sanctions.blacklisted_room_owner
    admins = POLICY.sanctions.blacklisted_room_admins
    assert [(step.measure, step.duration) for step in owner] == [(Measure.CREATION_REVOKED, 180 * DAY)]
    assert [(step.measure, step.credit_delta) for step in admins] == [(Measure.CREDIT_LOWERED, -10)]


def test_a_member_measure_in_the_blacklisted_room_review_is_refused() -> None:
    bad = {"sanctions": {"blacklisted_room_admins": [{"measure": "mute", "duration": "1d", "credit_delta": 0}]}}
    with pytest.raises(PolicyError, match=r"blacklisted_room_admins\.0\.measure"):
        load_policy_from_mapping(bad)


# Closure not reportable by itself here: a severe category still reports it as a severe measure.
_SEVERE_ONLY = load_policy_from_mapping({"sanctions": {"reportable_measures": ["blacklist"]}})


@pytest.mark.parametrize(
    ("measure", "category", "makes_entry", "policy", "kind"),
    [
        # One decision, one report: the blacklist entry reports a measure that made it.
        (Measure.BLACKLIST, None, True, POLICY, None),
        (Measure.CLOSURE, None, True, POLICY, None),
        (Measure.CLOSURE, None, False, POLICY, "closure"),
        (Measure.MUTE, None, False, POLICY, None),
        (Measure.MUTE, "terrorism", False, POLICY, "severe_measure"),
        # A severe category's report is made whatever the entry reports.
        (Measure.CLOSURE, "terrorism", True, _SEVERE_ONLY, "severe_measure"),
        (Measure.CLOSURE, None, True, _SEVERE_ONLY, None),
    ],
)
def test_a_measure_that_makes_a_blacklist_entry_leaves_its_report_to_the_entry_unless_it_is_severe(
    measure: Measure, category: str | None, makes_entry: bool, policy: Policy, kind: str | None
) -> None:
    assert measure_report_kind(measure, category, policy, makes_blacklist_entry=makes_entry) == kind
