"""Numbers from outside: one bounded parser for every integer a person or a client sends.

Query strings, JSON bodies and bot command arguments all end up in SQL columns
(64-bit integers), in ``datetime`` (years 1 to 9999) and in texts shown to people.
An unbounded number breaks one of them far from where it came in: a 24-digit
``since`` overflows the database driver, a mute ending in year 10000 makes every
refusal text of that person fail to render. So every number from outside is read
here, once, against explicit bounds, and anything else is an `InvalidNumber`
that the adapters turn into a 400 with the reason ``invalid_number``.

Accepted forms: a JSON integer (not a bool, not a float — ``5.0``, ``1e20``, NaN and
infinities are refused), or text of at most 19 ASCII digits with an optional leading
``-`` (no spaces, ``+``, ``_`` or non-ASCII digits, which Python's ``int()`` would
otherwise accept).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from .durations import MAX_SECONDS, parse_duration
from .errors import InvalidDuration, InvalidNumber
from .model import Policy

# Text longer than this cannot be a number we accept; it is never handed to int().
_INTEGER: Final = re.compile(r"-?[0-9]{1,19}")

# Times are milliseconds since the epoch from 2000-01-01 to 9999-12-31 (UTC). The upper
# end leaves a day for time zones: 9999-12-31 23:59 UTC is already year 10000 in China
# Standard Time, which `datetime` cannot represent.
EARLIEST_MS: Final = 946_684_800_000
LATEST_MS: Final = 253_402_214_400_000

MAX_PAGE: Final = 1000
"""The largest page any listing returns."""

MAX_BOT_INTEGER: Final = 1_000_000
"""Bound for integers the bot reads before the module applies the policy's own bounds."""


@dataclass(frozen=True)
class Bounds:
    """Inclusive bounds of an integer."""

    minimum: int
    maximum: int


PAGE: Final = Bounds(1, MAX_PAGE)
TIME_MS: Final = Bounds(EARLIEST_MS, LATEST_MS)
DURATION_SECONDS: Final = Bounds(1, MAX_SECONDS)


def bounded_int(value: object, field: str, bounds: Bounds) -> int:
    """An integer from outside within `bounds`.

    Args:
        value: a JSON value or a text (query parameter, command argument).
        field: the name the caller used, for the error.
        bounds: the inclusive range.

    Returns:
        The integer.

    Raises:
        InvalidNumber: not an integer in the accepted forms, or out of range.
    """
    number = _integer(value)
    if number is None or not bounds.minimum <= number <= bounds.maximum:
        raise InvalidNumber(
            field,
            f"{field!r} must be an integer from {bounds.minimum} to {bounds.maximum}",
            {"min": bounds.minimum, "max": bounds.maximum},
        )
    return number


def optional_int(value: object, field: str, bounds: Bounds) -> int | None:
    """Like `bounded_int`, but ``None`` (absent) and ``""`` (empty query value) are ``None``."""
    if value is None or value == "":
        return None
    return bounded_int(value, field, bounds)


def time_ms(value: object, field: str) -> int:
    """A time in milliseconds since the epoch, between 2000 and 9999.

    Raises:
        InvalidNumber: not an integer, or outside the years 2000 to 9999.
    """
    number = _integer(value)
    if number is None or not EARLIEST_MS <= number <= LATEST_MS:
        raise InvalidNumber(
            field,
            f"{field!r} must be a time in milliseconds since the epoch, from the year 2000 to 9999",
            {"earliest_at": EARLIEST_MS, "latest_at": LATEST_MS},
        )
    return number


def duration_seconds(value: object, field: str = "duration", *, allow_zero: bool = False) -> int | None:
    """A duration: seconds as an integer, or text like ``90``, ``30m``, ``7d``, ``perm``.

    Args:
        value: the JSON value or text.
        field: its name, for the error.
        allow_zero: accept 0 ("no time"): a warning without a deadline or an instant measure,
            as the policy's ladders write them and `/admin/sanctions/propose` answers them.

    Returns:
        Seconds from 1 (or 0) to ten years, or ``None`` for a permanent one.

    Raises:
        InvalidNumber: anything else (floats, bools, zero, negative, over ten years, garbage).
    """
    detail: dict[str, object] = {"max_seconds": MAX_SECONDS}
    if allow_zero and ((type(value) is int and value == 0) or value == "0"):
        return 0
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except InvalidDuration as exc:
            raise InvalidNumber(field, f"{field!r}: {exc}", detail) from None
    number = _integer(value)
    if number is None or not 1 <= number <= MAX_SECONDS:
        raise InvalidNumber(
            field,
            f"{field!r} must be seconds from 1 to ten years, a duration like 7d, or perm",
            detail,
        )
    return number


def credit_delta(value: object, field: str, policy: Policy, *, allow_raise: bool = True) -> int:
    """A change of a credit score: non-zero, and no larger than the policy's whole range.

    Args:
        value: the JSON value.
        field: its name.
        policy: the active policy (its ``credit.min`` and ``credit.max``).
        allow_raise: False where only a reduction makes sense (a measure's charge);
            zero is allowed there ("no charge").

    Raises:
        InvalidNumber: not an integer or out of range.
    """
    span = policy.credit.max - policy.credit.min
    bounds = Bounds(-span, span if allow_raise else 0)
    number = bounded_int(value, field, bounds)
    if allow_raise and number == 0:
        raise InvalidNumber(field, f"{field!r} must not be zero", {"min": -span, "max": span})
    return number


def _integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    return None


__all__ = [
    "DURATION_SECONDS",
    "EARLIEST_MS",
    "LATEST_MS",
    "MAX_BOT_INTEGER",
    "MAX_PAGE",
    "PAGE",
    "TIME_MS",
    "Bounds",
    "bounded_int",
    "credit_delta",
    "duration_seconds",
    "optional_int",
    "time_ms",
]
