"""What people read instead of stored values: Beijing time and labels (DESIGN.md §6.3)."""

from __future__ import annotations

import pytest

from policies import default_policy
from policies.display import (
    ACTIVITY_TIER,
    GROUP_STATUS,
    MEASURE,
    SEVERITY,
    TICKET_SOURCE,
    VERIFICATION_STATUS,
    format_time,
    label,
    scale_tier_label,
)

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
    assert format_time(ms, language) == shown


@pytest.mark.parametrize(
    ("table", "value", "zh", "en"),
    [
        (ACTIVITY_TIER, "quiet", "低活跃", "quiet"),
        (ACTIVITY_TIER, "hot", "高活跃", "very active"),
        (GROUP_STATUS, "active", "正常", "normal"),
        (GROUP_STATUS, "warned", "警示整改中", "warned, rectification due"),
        (GROUP_STATUS, "closed", "已关闭", "closed"),
        (GROUP_STATUS, "frozen", "frozen", "frozen"),  # unknown: the value itself
        (GROUP_STATUS, None, "—", "—"),
    ],
)
def test_labels_in_both_languages(table, value: str | None, zh: str, en: str) -> None:
    assert (label(table, value, "zh-CN"), label(table, value, "en")) == (zh, en)


def test_scale_tiers_read_the_policys_labels() -> None:
    policy = default_policy()
    assert [scale_tier_label(name, "zh-CN", policy) for name in policy.scale_tiers.names] == [
        "小型",
        "中型",
        "大型",
        "超大型",
    ]
    assert scale_tier_label("huge", "en", policy) == "huge"
    assert scale_tier_label("giant", "zh-CN", policy) == "giant"


@pytest.mark.parametrize(
    ("table", "value", "zh", "en"),
    [
        (VERIFICATION_STATUS, "unverified", "未认证", "not verified"),
        (VERIFICATION_STATUS, "pending", "人工审核中", "waiting for review"),
        (VERIFICATION_STATUS, "verified", "已认证", "verified"),
        (MEASURE, "mute", "禁言", "a posting ban (mute)"),
        (MEASURE, "content_block", "消息被拦截", "a blocked message"),
        (SEVERITY, "illegal", "违法", "illegal"),
        (TICKET_SOURCE, "user_report", "成员举报", "member report"),
    ],
)
def test_the_bots_and_notices_values_have_labels_in_both_languages(table, value: str, zh: str, en: str) -> None:
    assert (label(table, value, "zh-CN"), label(table, value, "en")) == (zh, en)


def test_every_activity_tier_of_the_default_policy_has_a_label_and_times_never_show_utc() -> None:
    policy = default_policy()
    assert all(tier.name in ACTIVITY_TIER for tier in policy.activity_tiers.tiers)
    assert "UTC" not in format_time(MS, "zh-CN") + format_time(MS, "en")
