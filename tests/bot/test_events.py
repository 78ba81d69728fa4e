"""Pure helpers of the client boundary."""

from __future__ import annotations

import pytest

from bot.client import Backoff
from policies.commands import strip_reply_fallback


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("> <@bob:x> spam spam\n\n!report fraud", "!report fraud"),
        ("> <@bob:x> line 1\n> line 2\n\n!举报 诈骗", "!举报 诈骗"),
        ("!report fraud", "!report fraud"),
        ("> a quote without a blank line\n!help", "!help"),
    ],
)
def test_reply_fallback_is_removed(body, expected):
    assert strip_reply_fallback(body) == expected


def test_backoff_doubles_to_the_cap_and_resets():
    backoff = Backoff(1.0, 60.0)
    assert [backoff.next() for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    backoff.reset()
    assert backoff.next() == 1
