"""What people read instead of raw values (policies/labels.py)."""

from __future__ import annotations

import pytest

from policies import load_policy
from policies.labels import (
    ACTIVITY_TIER,
    GROUP_STATUS,
    MEASURE,
    VERIFICATION_STATUS,
    format_time,
    label,
    scale_tier_label,
    yes_no,
)

MAY_DAY_MS = 1_714_537_800_000  # 2024-05-01 04:30 UTC


@pytest.mark.parametrize(
    ("language", "shown"),
    [
        ("zh-CN", "2024-05-01 12:30（北京时间）"),
        ("en", "2024-05-01 12:30 (Beijing time)"),
        ("en-US", "2024-05-01 12:30 (Beijing time)"),
    ],
)
def test_one_time_format_per_language_never_utc_offsets_or_epoch_ms(language: str, shown: str) -> None:
    assert format_time(MAY_DAY_MS, language) == shown
    assert "UTC" not in format_time(MAY_DAY_MS, language) and str(MAY_DAY_MS) not in shown


@pytest.mark.parametrize(
    ("table", "value", "zh", "en"),
    [
        (VERIFICATION_STATUS, "unverified", "未认证", "not verified"),
        (VERIFICATION_STATUS, "pending", "人工审核中", "waiting for review"),
        (VERIFICATION_STATUS, "verified", "已认证", "verified"),
        (GROUP_STATUS, "active", "正常", "normal"),
        (GROUP_STATUS, "suspended", "暂停发布信息", "posting suspended"),
        (ACTIVITY_TIER, "quiet", "低活跃", "quiet"),
        (ACTIVITY_TIER, "hot", "高活跃", "very active"),
        (MEASURE, "mute", "禁言", "a posting ban (mute)"),
        (MEASURE, "content_block", "消息被拦截", "a blocked message"),
    ],
)
def test_each_enum_value_has_a_label_in_both_languages(table, value: str, zh: str, en: str) -> None:
    assert label(table, value, "zh-CN") == zh
    assert label(table, value, "en") == en


def test_unknown_values_show_as_they_are_and_missing_ones_as_a_dash() -> None:
    assert label(GROUP_STATUS, "brand_new", "zh-CN") == "brand_new"
    assert label(GROUP_STATUS, None, "zh-CN") == "—"


def test_every_activity_tier_of_the_default_policy_has_a_label() -> None:
    policy = load_policy(None)
    for tier in policy.activity_tiers.tiers:
        assert tier.name in ACTIVITY_TIER
    assert scale_tier_label("small", "zh-CN", policy) == "小型"
    assert scale_tier_label("small", "zh-CN") == "小型"
    assert yes_no(True, "zh-CN") == "是" and yes_no(False, "en") == "no"
