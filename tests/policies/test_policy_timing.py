"""Stored end times: in force until the instant they name; ``PERMANENT`` never ends."""

from __future__ import annotations

import pytest

from policies.constants import PERMANENT
from policies.timing import end_in_force, in_force, until_detail

NOW = 1_700_000_000_000


@pytest.mark.parametrize(
    ("until", "active"),
    [(None, False), (PERMANENT, True), (NOW + 1, True), (NOW, False), (NOW - 1, False), (0, False)],
)
def test_in_force(until: int | None, active: bool) -> None:
    assert in_force(until, NOW) is active
    assert end_in_force(until, NOW) == (until if active else None)


@pytest.mark.parametrize(
    ("until", "detail"),
    [
        (None, {"until": None, "permanent": True}),
        (PERMANENT, {"until": None, "permanent": True}),
        (NOW, {"until": NOW, "permanent": False}),
    ],
)
def test_until_detail(until: int | None, detail: dict[str, object]) -> None:
    assert until_detail(until) == detail
