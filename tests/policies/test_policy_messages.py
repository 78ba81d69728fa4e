"""Human texts for refusals, in both languages (DESIGN.md §3.3)."""

from __future__ import annotations

import json
import re

import pydantic
import pytest

from policies import (
    Policy,
    PolicyLoadError,
    Reason,
    default_policy,
    load_policy_from_mapping,
    render,
)
from policies.messages import format_time, resolve_language

POLICY = default_policy()
# 2024-05-01 12:30 in China Standard Time (04:30 UTC).
MAY_DAY_MS = 1_714_537_800_000

FULL_DETAIL: dict[str, object] = {
    "cap": 3,
    "count": 3,
    "level": "C",
    "required_level": "B",
    "until": MAY_DAY_MS,
    "version": "2024.1",
    "form_url": "https://example.org/verify",
    "category": "news",
    "categories": ("general", "work"),
    "max_tier": "small",
    "tier": "large",
}


@pytest.mark.parametrize("language", ["zh-CN", "en"])
@pytest.mark.parametrize("reason", list(Reason))
def test_every_reason_has_a_clean_text_in_both_languages(reason: Reason, language: str) -> None:
    for detail in ({}, FULL_DETAIL):
        text = render(reason, language, detail, POLICY)
        assert len(text) > 10
        assert not re.search(r"[{}]|\[\[|\]\]|  ", text), text
        assert text == text.strip()


@pytest.mark.parametrize("reason", list(Reason))
def test_chinese_and_english_texts_differ(reason: Reason) -> None:
    zh = render(reason, "zh-CN", FULL_DETAIL, POLICY)
    en = render(reason, "en", FULL_DETAIL, POLICY)
    assert zh != en
    assert re.search(r"[\u4e00-\u9fff]", zh)
    assert not re.search(r"[\u4e00-\u9fff]", en)


@pytest.mark.parametrize(
    ("reason", "language", "detail", "expected"),
    [
        (
            Reason.ROOM_FULL,
            "zh-CN",
            {"cap": 100, "count": 100},
            "本群人数已达上限（100/100 人），暂时无法加入。请稍后再试，或联系群主。",
        ),
        (
            Reason.ROOM_FULL,
            "en",
            {"cap": 500, "count": 500},
            "This room is full (500 of 500 members). Try again later or ask the room owner.",
        ),
        (Reason.ROOM_FULL, "en", {}, "This room is full. Try again later or ask the room owner."),
        (
            Reason.ROOM_FULL,
            "en",
            {"cap": 500},  # one of two facts missing: the whole segment goes
            "This room is full. Try again later or ask the room owner.",
        ),
        (
            Reason.CREATE_LIMIT,
            "en",
            {"cap": 3, "count": 3, "level": "C"},
            "You have reached the number of rooms you may create (3 created, credit level C "
            "allows 3). Close or hand over rooms you no longer use.",
        ),
        (
            Reason.POSTING_SUSPENDED_USER,
            "zh-CN",
            {"until": MAY_DAY_MS, "permanent": False, "ref": "sn_1a2b"},
            "你已被禁言，暂时不能在这里发言，解除时间：2024-05-01 12:30（北京时间）。"
            "如有异议，请私信机器人发送 !appeal sn_1a2b <理由> 申诉。",
        ),
        (
            Reason.POSTING_SUSPENDED_USER,
            "en",
            {"until": None, "permanent": True},
            "You are muted and cannot post here for now (ends: never; it is permanent). "
            "If you disagree, send !appeal <reasons> to the bot in a direct message.",
        ),
        (
            Reason.REALNAME_REQUIRED,
            "zh-CN",
            {"action": "post", "form_url": "https://example.org/f"},
            "这项操作需要先完成实名认证（后台实名、前台自愿，你的昵称不受影响）。"
            "请私信机器人发送 !verify，或打开 https://example.org/f 完成认证。",
        ),
        (
            Reason.REALNAME_REQUIRED,
            "en",
            {"action": "post"},
            "This needs a verified real name first (your display name stays your choice). "
            "Send !verify to the bot in a direct message to verify.",
        ),
        (
            Reason.INVALID_CATEGORY,
            "zh-CN",
            {"category": "sport", "categories": ("general", "family_friends")},
            "群分类“sport”无效，请从平台提供的分类中选择：综合（general）、亲友（family_friends）。",
        ),
        (
            Reason.INVALID_CATEGORY,
            "en",
            {"category": "sport", "categories": ("general", "family_friends")},
            'The room category "sport" is not valid; choose one of the platform\'s categories: '
            "general, family_friends (Family and friends).",
        ),
        (
            Reason.TIER_NOT_ALLOWED,
            "zh-CN",
            {"tier": "large", "max_tier": "medium", "level": "B"},
            "群规模超出了允许的范围：群主信用等级为 B，最多允许中型群。"
            "更大规模的群需要群主提高信用等级，或由平台审核。",
        ),
        (
            Reason.CONVENTION_NOT_ACCEPTED,
            "en",
            {"version": "2024.1"},
            "Please read and accept the platform convention (version 2024.1) before posting. "
            "Send !rules to read it and follow the prompt to accept.",
        ),
    ],
)
def test_render_fills_placeholders_and_drops_missing_ones_cleanly(
    reason: Reason, language: str, detail: dict[str, object], expected: str
) -> None:
    assert render(reason, language, detail, POLICY) == expected


@pytest.mark.parametrize(
    ("requested", "resolved"),
    [("zh-CN", "zh-CN"), ("en", "en"), ("en-US", "en"), ("EN", "en"), ("fr", "zh-CN"), ("", "zh-CN")],
)
def test_unknown_languages_fall_back_to_chinese(requested: str, resolved: str) -> None:
    assert resolve_language(requested) == resolved
    assert render(Reason.ROOM_CLOSED, requested, {}, POLICY) == render(Reason.ROOM_CLOSED, resolved, {}, POLICY)


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "1970-01-01 08:00（北京时间）"),
        (MAY_DAY_MS, "2024-05-01 12:30（北京时间）"),
        (1_704_038_400_000, "2024-01-01 00:00（北京时间）"),  # 2023-12-31 16:00 UTC
    ],
)
def test_times_are_shown_in_china_standard_time(ms: int, text: str) -> None:
    assert format_time(ms) == text


def test_other_time_and_duration_keys_are_formatted() -> None:
    policy = load_policy_from_mapping(
        {"messages": {"en": {"room_closed": "Closed at {closed_at} for {duration} ({note})."}}}
    )
    detail = {"closed_at": MAY_DAY_MS, "duration": 604800, "note": ["a", "b"]}
    assert render(Reason.ROOM_CLOSED, "en", detail, policy) == (
        "Closed at 2024-05-01 12:30 (Beijing time) for 7 days (a, b)."
    )


def test_a_missing_placeholder_outside_a_segment_leaves_no_trace() -> None:
    policy = load_policy_from_mapping({"messages": {"en": {"room_full": "Full {cap} now.", "room_closed": "{x}"}}})
    assert render(Reason.ROOM_FULL, "en", {}, policy) == "Full now."
    assert render(Reason.ROOM_FULL, "en", {"cap": None}, policy) == "Full now."
    assert render(Reason.ROOM_CLOSED, "en", {}, policy) == ""


def test_a_catalogue_missing_a_reason_is_refused() -> None:
    # A policy file cannot drop a default text (mappings merge), so test the model itself.
    data = default_policy().model_dump(mode="json")
    del data["messages"]["en"]["room_full"]
    with pytest.raises(pydantic.ValidationError) as caught:
        Policy.model_validate_json(json.dumps(data))
    [error] = caught.value.errors()
    assert error["loc"] == ("messages",)
    assert error["msg"] == "missing message for this reason"
    assert error.get("ctx") == {"subpath": "en.room_full"}


def test_a_language_without_a_catalogue_is_refused_at_load() -> None:
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_from_mapping({"messages": {"fr": {}}})
    assert str(caught.value).startswith("policy: messages.fr: input should be 'zh-CN' or 'en'")
