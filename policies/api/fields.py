"""Number fields of request bodies, read by the one bounded parser (`policies.numbers`).

Each validator runs before pydantic's own type check, so a float, a bool, ``1e400`` or a
24-digit number is the refusal ``invalid_number`` (with the field's name and bounds), as
for a query parameter. The value is passed on as the client sent it (an integer, or a text
such as ``7d``); the module reads it again with the same parser where the bounds depend on
other fields (a warning's duration may be zero, a measure's charge may not be positive).

The bounds are checked where a body is read (`parse_request`, which always passes a
validation context), not where the bot builds one to send: the module is the one judge of
a number, and its refusal, with the bounds in words, is what the person reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BeforeValidator, ValidationInfo

from ..model import Policy
from ..numbers import credit_delta, duration_seconds, time_ms


def _duration(field: str) -> Callable[[object, ValidationInfo], object]:
    def check(value: object, info: ValidationInfo) -> object:
        if value is not None and info.context is not None:
            duration_seconds(value, field, allow_zero=True)
        return value

    return check


def _time(field: str) -> Callable[[object, ValidationInfo], object]:
    def check(value: object, info: ValidationInfo) -> object:
        return value if value is None or info.context is None else time_ms(value, field)

    return check


def _moment(field: str) -> Callable[[object, ValidationInfo], object]:
    def check(value: object, info: ValidationInfo) -> object:
        # Text is read where it is used (milliseconds or ISO 8601); any other value must be milliseconds.
        if value is None or isinstance(value, str) or info.context is None:
            return value
        return time_ms(value, field)

    return check


def _credit(field: str, *, allow_raise: bool) -> Callable[[object, ValidationInfo], object]:
    def check(value: object, info: ValidationInfo) -> object:
        policy: Any = (info.context or {}).get("policy")
        if value is not None and isinstance(policy, Policy):
            return credit_delta(value, field, policy, allow_raise=allow_raise)
        return value

    return check


Duration = Annotated[int | str, BeforeValidator(_duration("duration"))]
"""``duration``: seconds, or text such as ``30m``, ``7d``, ``perm``."""

SanctionDuration = Annotated[int | str, BeforeValidator(_duration("sanction.duration"))]
"""``sanction.duration`` of a ticket's resolution."""

Since = Annotated[int, BeforeValidator(_time("since"))]
"""``since``: ms since the epoch, years 2000 to 9999."""


ExportSince = Annotated[int | str, BeforeValidator(_moment("since"))]
"""An export's ``since``: ms since the epoch, or an ISO 8601 time as text (read by the export)."""

ExportUntil = Annotated[int | str, BeforeValidator(_moment("until"))]
"""An export's ``until``: as ``since``."""

SubmittedAt = Annotated[int, BeforeValidator(_time("submitted_at"))]
"""``submitted_at`` of a regulator report: ms since the epoch, years 2000 to 9999."""


def _until(value: object, info: ValidationInfo) -> object:
    if info.context is None:
        return value
    if isinstance(value, str):
        duration_seconds(value, "until")
    elif value is not None:
        time_ms(value, "until")
    return value


Until = Annotated[int | str, BeforeValidator(_until)]
"""A blacklist entry's ``until``: a time (ms since the epoch) or a duration text such as ``7d``."""

CreditChange = Annotated[int, BeforeValidator(_credit("delta", allow_raise=True))]
"""``delta`` of a credit adjustment: non-zero, within the policy's range."""

MeasureCharge = Annotated[int, BeforeValidator(_credit("credit_delta", allow_raise=False))]
"""``credit_delta`` of a measure: zero or a reduction within the policy's range."""

__all__ = [
    "CreditChange",
    "Duration",
    "ExportSince",
    "ExportUntil",
    "MeasureCharge",
    "SanctionDuration",
    "Since",
    "SubmittedAt",
    "Until",
]
