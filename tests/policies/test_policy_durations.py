"""Durations as staff type them: ``30m``, ``12h``, ``7d``, ``perm``."""

from __future__ import annotations

import pytest

from policies import InvalidDuration, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("12h", 43200),
        ("7d", 604800),
        ("2w", 1209600),
        ("1d12h", 129600),
        ("1h 30m", 5400),
        (" 7D ", 604800),
        ("3600", 3600),
        ("7天", 604800),
        ("12小时", 43200),
        ("30分钟", 1800),
        ("3650d", 3650 * 86400),
        ("perm", None),
        ("PERM", None),
        ("permanent", None),
        ("永久", None),
    ],
)
def test_parse_duration_reads_units_numbers_and_perm(text: str, seconds: int | None) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("0", "longer than zero"),
        ("0m", "longer than zero"),
        ("-5", "longer than zero"),
        ("-5m", "negative"),
        ("", "empty"),
        ("   ", "empty"),
        ("soon", "cannot read"),
        ("7x", "cannot read"),
        ("7.5h", "cannot read"),
        ("h", "cannot read"),
        ("3654d", "ten years"),
        ("600w", "ten years"),
        ("999999999999", "ten years"),
    ],
)
def test_parse_duration_refuses_zero_negative_absurd_and_garbage(text: str, fragment: str) -> None:
    with pytest.raises(InvalidDuration) as caught:
        parse_duration(text)
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("seconds", "language", "text"),
    [
        (None, "zh-CN", "永久"),
        (None, "en", "permanent"),
        (604800, "zh-CN", "7天"),
        (604800, "en", "7 days"),
        (86400, "en", "1 day"),
        (129600, "en", "1 day 12 hours"),
        (129600, "zh-CN", "1天12小时"),
        (90, "en", "1 minute 30 seconds"),
        (90, "zh-CN", "1分钟30秒"),
        (3600, "en-GB", "1 hour"),
        (259200, "fr", "3天"),
        (0, "en", "0 seconds"),
    ],
)
def test_format_duration_writes_largest_units_first(seconds: int | None, language: str, text: str) -> None:
    assert format_duration(seconds, language) == text
