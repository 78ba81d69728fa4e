"""What people read instead of stored values: Beijing time and labels (DESIGN.md §6.3)."""

from __future__ import annotations

import pytest

from policies import default_policy
from policies.display import activity_label, display_time, scale_label, status_label

# 2026-12-05 00:30 UTC is 08:30 in Beijing.
MS = 1_796_430_600_000


@pytest.mark.parametrize(
    ("ms", "language", "shown"),
    [
        (MS, "zh-CN", "2026-12-05 08:30（北京时间）"),
        (MS, "en", "2026-12-05 08:30 (Beijing time)"),
        (MS, "en-US", "2026-12-05 08:30 (Beijing time)"),
        (MS, "fr", "2026-12-05 08:30（北京时间）"),
        (0, "zh-CN", "1970-01-01 08:00（北京时间）"),
        (10**18, "zh-CN", "9999-12-31 23:59（北京时间）"),  # out of range: clamped, never an error
    ],
)
def test_times_are_beijing_time_to_the_minute(ms: int, language: str, shown: str) -> None:
    assert display_time(ms, language) == shown


@pytest.mark.parametrize(
    ("label", "zh", "en"),
    [
        (lambda name, lang: scale_label(name, default_policy(), lang), ("small", "小型"), ("huge", "huge")),
        (lambda name, lang: scale_label(name, default_policy(), lang), ("large", "大型"), ("medium", "medium")),
        (activity_label, ("quiet", "安静"), ("hot", "very active")),
        (activity_label, ("active", "活跃"), ("quiet", "quiet")),
        (status_label, ("active", "正常"), ("closed", "closed")),
        (status_label, ("warned", "警示整改中"), ("suspended", "posting suspended")),
    ],
)
def test_labels_in_both_languages(label, zh: tuple[str, str], en: tuple[str, str]) -> None:
    assert label(zh[0], "zh-CN") == zh[1]
    assert label(en[0], "en") == en[1]


def test_a_name_without_a_label_shows_as_itself() -> None:
    assert scale_label("giant", default_policy(), "zh-CN") == "giant"
    assert activity_label("frantic", "zh-CN") == "frantic"
    assert status_label("unknown", "en") == "unknown"
