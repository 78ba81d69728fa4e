"""Numbers from outside: one bounded parser, a table of hostile values (DESIGN.md §6.1)."""

from __future__ import annotations

import math

import pytest

from policies import InvalidNumber, Reason, default_policy, render
from policies.durations import MAX_SECONDS
from policies.messages import format_time
from policies.numbers import (
    EARLIEST_MS,
    LATEST_MS,
    PAGE,
    Bounds,
    bounded_int,
    credit_delta,
    duration_seconds,
    optional_int,
    time_ms,
)

POLICY = default_policy()
YEAR_10000_MS = 253_402_300_800_000

# What clients and people have sent: floats, bools, NaN, infinities, huge integers, text with digits.
HOSTILE: list[object] = [
    1e20,
    -1,
    0,
    math.inf,
    -math.inf,
    math.nan,
    "NaN",
    "inf",
    True,
    False,
    "1" * 24,
    10**24,
    2**63,
    -(2**63),
    YEAR_10000_MS,
    "1e20",
    "5.0",
    5.0,
    " 5",
    "+5",
    "5_000",
    "٥",  # an Arabic-Indic digit: int() reads it, we do not
    "9" * 5000,  # over Python's int() digit limit: a ValueError there, a clean refusal here
    None,
    [],
    {},
    "",
]


@pytest.mark.parametrize("value", HOSTILE, ids=repr)
def test_hostile_values_are_refused_as_page_sizes(value: object) -> None:
    with pytest.raises(InvalidNumber) as caught:
        bounded_int(value, "limit", PAGE)
    assert caught.value.field == "limit"
    assert caught.value.detail == {"field": "limit", "min": 1, "max": 1000}


@pytest.mark.parametrize("value", HOSTILE, ids=repr)
def test_hostile_values_are_refused_as_times(value: object) -> None:
    with pytest.raises(InvalidNumber) as caught:
        time_ms(value, "until")
    assert caught.value.detail == {"field": "until", "earliest_at": EARLIEST_MS, "latest_at": LATEST_MS}


# The bot syntax forgives surrounding spaces (" 5" is five seconds); absent means the default.
@pytest.mark.parametrize("value", [v for v in HOSTILE if v not in (None, " 5")], ids=repr)
def test_hostile_values_are_refused_as_durations(value: object) -> None:
    with pytest.raises(InvalidNumber) as caught:
        duration_seconds(value)
    assert caught.value.detail["max_seconds"] == MAX_SECONDS


# -1 is a fine credit change; every other hostile value is refused.
@pytest.mark.parametrize("value", [v for v in HOSTILE if v != -1], ids=repr)
def test_hostile_values_are_refused_as_credit_changes(value: object) -> None:
    with pytest.raises(InvalidNumber):
        credit_delta(value, "delta", POLICY)


@pytest.mark.parametrize(
    ("value", "bounds", "expected"),
    [
        (1, PAGE, 1),
        (1000, PAGE, 1000),
        ("250", PAGE, 250),
        ("-3", Bounds(-5, 5), -3),
        (0, Bounds(0, 0), 0),
        ("9223372036854775807", Bounds(0, 2**63 - 1), 2**63 - 1),
    ],
)
def test_integers_within_bounds_are_read(value: object, bounds: Bounds, expected: int) -> None:
    assert bounded_int(value, "n", bounds) == expected


def test_absent_and_empty_are_none_where_optional() -> None:
    assert optional_int(None, "limit", PAGE) is None
    assert optional_int("", "limit", PAGE) is None
    assert optional_int("7", "limit", PAGE) == 7


@pytest.mark.parametrize("value", [EARLIEST_MS, LATEST_MS, str(LATEST_MS), 1_700_000_000_000])
def test_times_from_2000_to_9999_are_read(value: object) -> None:
    assert time_ms(value, "since") == int(str(value))


@pytest.mark.parametrize("value", [EARLIEST_MS - 1, LATEST_MS + 1, 0, 1_000])
def test_times_outside_2000_to_9999_are_refused(value: int) -> None:
    with pytest.raises(InvalidNumber):
        time_ms(value, "since")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(1, 1), (MAX_SECONDS, MAX_SECONDS), ("90", 90), ("7d", 7 * 86400), ("perm", None), ("3653d", MAX_SECONDS)],
)
def test_durations_are_seconds_up_to_ten_years_or_perm(value: object, seconds: int | None) -> None:
    assert duration_seconds(value) == seconds


@pytest.mark.parametrize("value", [MAX_SECONDS + 1, "3654d", "9" * 40, "1" * 41 + "d"])
def test_durations_over_ten_years_are_refused(value: object) -> None:
    with pytest.raises(InvalidNumber):
        duration_seconds(value)


def test_zero_is_a_duration_only_where_a_measure_takes_no_time() -> None:
    assert duration_seconds(0, allow_zero=True) == 0
    assert duration_seconds("0", allow_zero=True) == 0
    for value in (0.0, False, -1, "0s0", 1e20):
        with pytest.raises(InvalidNumber):
            duration_seconds(value, allow_zero=True)
    with pytest.raises(InvalidNumber):
        duration_seconds(0)


def test_credit_changes_stay_within_the_policys_range() -> None:
    span = POLICY.credit.max - POLICY.credit.min
    assert credit_delta(span, "delta", POLICY) == span
    assert credit_delta(-span, "delta", POLICY) == -span
    for value in (span + 1, -span - 1, 0):
        with pytest.raises(InvalidNumber):
            credit_delta(value, "delta", POLICY)
    # A measure's charge only lowers a score; zero means no charge.
    assert credit_delta(0, "credit_delta", POLICY, allow_raise=False) == 0
    with pytest.raises(InvalidNumber):
        credit_delta(1, "credit_delta", POLICY, allow_raise=False)


@pytest.mark.parametrize("language", ["zh-CN", "en"])
@pytest.mark.parametrize(
    "call",
    [
        lambda: bounded_int("x", "limit", PAGE),
        lambda: time_ms(YEAR_10000_MS, "until"),
        lambda: duration_seconds(10**20),
    ],
)
def test_the_refusal_text_names_the_field_and_the_bounds(language: str, call: object) -> None:
    with pytest.raises(InvalidNumber) as caught:
        call()  # type: ignore[operator]
    text = render(Reason.INVALID_NUMBER, language, caught.value.detail, POLICY)
    assert caught.value.field in text
    assert "{" not in text and "[[" not in text
    assert any(bound in text for bound in ("1000", "9999-12-31", "3653"))


@pytest.mark.parametrize(
    ("ms", "shown"),
    [
        (LATEST_MS, "9999-12-31 08:00（北京时间）"),
        (253_402_300_799_000, "9999-12-31 23:59（北京时间）"),  # year 10000 in China Standard Time
        (YEAR_10000_MS, "9999-12-31 23:59（北京时间）"),
        (2**63, "9999-12-31 23:59（北京时间）"),
        (10**30, "9999-12-31 23:59（北京时间）"),
        (1_700_000_000_000, "2023-11-15 06:13（北京时间）"),
    ],
)
def test_stored_end_times_format_without_exceptions(ms: int, shown: str) -> None:
    assert format_time(ms) == shown


@pytest.mark.parametrize("until", [LATEST_MS, YEAR_10000_MS, 2**63, None])
def test_a_posting_suspension_ending_far_away_renders(until: int | None) -> None:
    detail = {"until": until, "permanent": until is None}
    for language in ("zh-CN", "en"):
        text = render(Reason.POSTING_SUSPENDED_USER, language, detail, POLICY)
        assert ("9999-12-31" in text) if until is not None else ("永久" in text or "permanent" in text)
