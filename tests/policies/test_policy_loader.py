"""Loading the policy: the bundled default, deep merge, and one-line errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pydantic
import pytest

from policies import Policy, PolicyLoadError, default_policy, load_policy, load_policy_from_mapping
from policies.loader import merge_policy_data
from policies.model import CREDIT_LEVELS

# --- the bundled default matches DESIGN.md §4 ----------------------------------------


def test_bundled_default_loads_and_is_cached() -> None:
    policy = load_policy()
    assert isinstance(policy, Policy)
    assert load_policy(None) is policy is default_policy()


def test_bundled_default_holds_the_design_numbers() -> None:
    policy = default_policy()
    realname = policy.realname
    assert realname.required_for == ("post", "create", "invite")
    assert realname.join_without_verification_up_to_tier == "small"
    assert (realname.max_accounts_per_identity, realname.attempts_per_day) == (3, 5)
    assert realname.federation.allow_remote_users is False
    assert realname.federation.partner_servers == ()
    scale = policy.scale_tiers
    assert [(t.name, t.max_members) for t in scale.tiers] == [
        ("small", 100),
        ("medium", 500),
        ("large", 2000),
        ("huge", 3000),
    ]
    assert (scale.info_page_from_members, scale.approval_from_tier) == (100, "large")
    assert scale.staff_decision_tier == "huge"
    assert [(t.name, t.below) for t in policy.activity_tiers.tiers] == [
        ("quiet", 50),
        ("active", 1000),
        ("hot", None),
    ]
    risks = {name: c.risk for name, c in policy.categories.known.items()}
    assert risks == {
        "general": "normal",
        "family_friends": "normal",
        "work": "normal",
        "study": "normal",
        "interest": "normal",
        "commerce": "elevated",
        "health": "elevated",
        "public_affairs": "high",
        "news": "high",
        "finance": "high",
        "minors": "high",
    }
    assert policy.categories.default_category == "general"
    high = policy.categories.risk_rules["high"]
    assert (high.min_creator_level, high.join_approval_always) == ("B", True)
    credit = policy.credit
    assert (credit.min, credit.max, credit.initial) == (0, 120, 100)
    assert (credit.recovery.points, credit.recovery.every_days) == (1, 7)
    levels = credit.levels
    assert [levels[x].min_score for x in CREDIT_LEVELS] == [110, 90, 70, 60, 0]
    assert [levels[x].rooms_owned for x in CREDIT_LEVELS] == [20, 10, 3, 0, 0]
    assert [levels[x].max_room_tier for x in CREDIT_LEVELS] == ["large", "medium", "small", None, None]
    assert [levels[x].rooms_joined for x in CREDIT_LEVELS] == [1000, 500, 200, 100, 100]
    assert [levels[x].may_create for x in CREDIT_LEVELS] == [True, True, True, False, False]
    assert [levels[x].may_invite for x in CREDIT_LEVELS] == [True, True, True, False, False]
    assert [levels[x].may_post for x in CREDIT_LEVELS] == [True, True, True, True, False]
    sanctions = policy.sanctions
    assert sanctions.repeat_window_days == 90
    assert sanctions.severe_categories == ("terrorism", "child_sexual_content", "fraud", "gambling")
    reports = policy.reports
    assert list(reports.categories) == [
        "politics",
        "terrorism",
        "child_sexual_content",
        "pornography",
        "prostitution",
        "gambling",
        "fraud",
        "drugs",
        "weapons",
        "violence",
        "rumor",
        "privacy",
        "infringement",
        "spam",
        "vulgar",
        "other",
    ]
    assert [n for n, c in reports.categories.items() if c.severity == "severe"] == [
        "politics",
        "terrorism",
        "child_sexual_content",
    ]
    assert reports.deadlines == {"severe": 3600, "illegal": 86400, "other": 259200}
    assert (policy.retention.days, policy.retention.purge_batch_size) == (190, 1000)
    assert policy.convention.version
    assert policy.convention.text["zh-CN"] and policy.convention.text["en"]


def test_policy_is_frozen() -> None:
    with pytest.raises(pydantic.ValidationError):
        default_policy().retention.days = 1


# --- deep merge ----------------------------------------------------------------------


def test_mappings_merge_key_by_key() -> None:
    policy = load_policy_from_mapping({"retention": {"days": 365}, "credit": {"initial": 90}})
    assert policy.retention.days == 365
    assert policy.retention.purge_batch_size == 1000
    assert policy.credit.initial == 90
    assert policy.credit.levels["A"].rooms_owned == 20


def test_lists_replace_the_default() -> None:
    policy = load_policy_from_mapping(
        {
            "scale_tiers": {
                "tiers": [
                    {"name": "small", "max_members": 50, "labels": {"zh-CN": "小", "en": "s"}},
                    {"name": "medium", "max_members": 200, "labels": {"zh-CN": "中", "en": "m"}},
                    {"name": "large", "max_members": 400, "labels": {"zh-CN": "大", "en": "l"}},
                    {"name": "huge", "max_members": 800, "labels": {"zh-CN": "巨", "en": "h"}},
                ]
            },
            "realname": {"federation": {"partner_servers": ["partner.example.cn"]}},
        }
    )
    assert [t.max_members for t in policy.scale_tiers.tiers] == [50, 200, 400, 800]
    assert policy.realname.federation.partner_servers == ("partner.example.cn",)
    assert policy.realname.federation.allow_remote_users is False


def test_operator_may_add_a_category_and_keep_the_others() -> None:
    policy = load_policy_from_mapping(
        {"categories": {"known": {"sports": {"risk": "normal", "labels": {"zh-CN": "体育", "en": "Sports"}}}}}
    )
    assert "sports" in policy.categories.known
    assert len(policy.categories.known) == 12


def test_merge_changes_neither_input() -> None:
    base: dict[str, Any] = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    overrides: dict[str, Any] = {"a": {"b": 2, "c": [3]}, "e": {"f": 1}}
    merged = merge_policy_data(base, overrides)
    assert merged == {"a": {"b": 2, "c": [3]}, "d": 1, "e": {"f": 1}}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    assert overrides == {"a": {"b": 2, "c": [3]}, "e": {"f": 1}}


def test_a_mapping_replaces_a_scalar_and_a_scalar_a_mapping() -> None:
    assert merge_policy_data({"a": 1}, {"a": {"b": 2}}) == {"a": {"b": 2}}
    assert merge_policy_data({"a": {"b": 2}}, {"a": 1}) == {"a": 1}


def test_durations_may_be_written_as_text() -> None:
    policy = load_policy_from_mapping({"reports": {"deadlines": {"severe": "30m", "other": 7200}}})
    assert policy.reports.deadlines == {"severe": 1800, "illegal": 86400, "other": 7200}


# --- validation errors: one line naming the key path ---------------------------------


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (
            {"retention": {"days": 100}},
            "policy: retention.days: must be at least 184 (six calendar months, Art. 13), got 100",
        ),
        ({"retention": {"dayz": 200}}, "policy: retention.dayz: unknown key"),
        ({"colour": "red"}, "policy: colour: unknown key"),
        (
            {"realname": {"max_accounts_per_identity": "3"}},
            "policy: realname.max_accounts_per_identity: input should be a valid integer, got '3'",
        ),
        ({"realname": 5}, "policy: realname: input should be a mapping, got 5"),
        (
            {"scale_tiers": {"approval_from_tier": "giant"}},
            "policy: scale_tiers.approval_from_tier: unknown tier 'giant' (known: small, medium, large, huge)",
        ),
        (
            {"scale_tiers": {"staff_decision_tier": "small"}},
            "policy: scale_tiers.staff_decision_tier: cannot be the smallest tier",
        ),
        (
            {"realname": {"join_without_verification_up_to_tier": "tiny"}},
            "policy: realname.join_without_verification_up_to_tier: unknown tier 'tiny' "
            "(known: small, medium, large, huge)",
        ),
        (
            {"credit": {"levels": {"B": {"max_room_tier": "giant"}}}},
            "policy: credit.levels.B.max_room_tier: unknown tier 'giant' (known: small, medium, large, huge)",
        ),
        (
            {"credit": {"levels": {"E": {"min_score": 10}}}},
            "policy: credit.levels.E.min_score: must be at most credit.min (0) so every score has a level, got 10",
        ),
        (
            {"credit": {"levels": {"C": {"min_score": 95}}}},
            "policy: credit.levels.C.min_score: must be below B's min_score (90), got 95",
        ),
        (
            {"credit": {"levels": {"A": {"min_score": 130}}}},
            "policy: credit.levels.A.min_score: must be reachable (at most credit.max, 120), got 130",
        ),
        ({"credit": {"initial": 130}}, "policy: credit.initial: must lie between min and max (0..120), got 130"),
        (
            {"categories": {"default_category": "nope"}},
            "policy: categories.default_category: unknown category 'nope' (known: general, "
            "family_friends, work, study, interest, commerce, health, public_affairs, news, "
            "finance, minors)",
        ),
        (
            {"categories": {"known": {"general": {"enabled": False}}}},
            "policy: categories.default_category: the default category must be enabled",
        ),
        (
            {"categories": {"known": {"x": {"risk": "extreme", "labels": {"zh-CN": "x", "en": "x"}}}}},
            "policy: categories.known.x.risk: input should be 'normal', 'elevated' or 'high', got 'extreme'",
        ),
        (
            {"categories": {"known": {"x": {"risk": "normal", "labels": {"zh-CN": "x"}}}}},
            "policy: categories.known.x.labels: needs a text for every language, missing en",
        ),
        (
            {"sanctions": {"ladders": {"room": [{"measure": "mute", "duration": "7d", "credit_delta": -1}]}}},
            "policy: sanctions.ladders.room.0.measure: mute is not a room measure "
            "(use one of closure, posting_suspension, warning)",
        ),
        (
            {"sanctions": {"ladders": {"member": []}}},
            "policy: sanctions.ladders.member: missing; needs at least one step",
        ),
        (
            {"sanctions": {"ladders": {"room": [{"measure": "warning", "duration": "soon", "credit_delta": 0}]}}},
            "policy: sanctions.ladders.room.0.duration: cannot read duration 'soon': "
            "use e.g. 90s, 30m, 12h, 7d, 2w or perm",
        ),
        (
            {"sanctions": {"ladders": {"room": [{"measure": "warning", "duration": 0, "credit_delta": 5}]}}},
            "policy: sanctions.ladders.room.0.credit_delta: input should be less than or equal to 0, got 5",
        ),
        (
            {"messages": {"en": {"room_full": "Full [[ ({count}/{cap})"}}},
            "policy: messages.en.room_full: unbalanced [[ ]] segment",
        ),
        (
            {"messages": {"en": {"room_full": ""}}},
            "policy: messages.en.room_full: string should have at least 1 character, got ''",
        ),
        (
            {"activity_tiers": {"tiers": [{"name": "quiet", "below": 50}, {"name": "hot", "below": 10}]}},
            "policy: activity_tiers.tiers: only the last tier has no upper bound (below: null)",
        ),
        (
            {
                "activity_tiers": {
                    "tiers": [{"name": "a", "below": 50}, {"name": "b", "below": 10}, {"name": "c", "below": None}]
                }
            },
            "policy: activity_tiers.tiers: below must increase strictly from tier to tier",
        ),
        (
            {"reports": {"deadlines": {"severe": "perm"}}},
            "policy: reports.deadlines.severe: input should be a valid integer, got None",
        ),
        (
            {"convention": {"version": 2}},
            "policy: convention.version: input should be a valid string, got 2",
        ),
    ],
)
def test_invalid_policy_is_refused_with_one_line_naming_the_key(overrides: dict[str, Any], line: str) -> None:
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_from_mapping(overrides)
    assert str(caught.value) == line


def test_scale_tiers_must_increase_strictly() -> None:
    tiers = [
        {"name": "small", "max_members": 100, "labels": {"zh-CN": "小", "en": "s"}},
        {"name": "medium", "max_members": 100, "labels": {"zh-CN": "中", "en": "m"}},
    ]
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_from_mapping({"scale_tiers": {"tiers": tiers}})
    assert str(caught.value) == (
        "policy: scale_tiers.tiers: max_members must increase strictly: medium (100) is not above small (100)"
    )


def test_several_problems_are_counted_on_the_same_line() -> None:
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_from_mapping({"retention": {"days": 1, "purge_batch_size": 0}})
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("policy: retention.days: must be at least 184")
    assert message.endswith("(and 1 more problem)")


def test_non_text_key_is_refused_with_its_path() -> None:
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_from_mapping({"retention": {1: 2}})
    assert str(caught.value) == "policy: retention.1: keys must be text; quote the key"


# --- files ---------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_operator_file_is_merged_over_the_default(tmp_path: Path) -> None:
    path = write(tmp_path, "retention:\n  days: 200\nconvention:\n  version: 2025-01-01\n")
    policy = load_policy(path)
    assert policy.retention.days == 200
    assert policy.retention.purge_batch_size == 1000
    assert policy.convention.version == "2025-01-01"  # an unquoted YAML date becomes text
    assert load_policy(str(path)) == policy


def test_empty_file_changes_nothing(tmp_path: Path) -> None:
    assert load_policy(write(tmp_path, "# nothing to change\n")) == default_policy()


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("retention: [1, 2\n", "not valid YAML at line 2, column 1: expected ',' or ']', but got '<stream end>'"),
        ("a: b: c\n", "not valid YAML at line 1, column 5: mapping values are not allowed here"),
        ("- retention\n- days\n", "the top level must be a mapping of policy keys, got a list"),
        ("just text\n", "the top level must be a mapping of policy keys, got a single value (str)"),
        ("retention:\n  days: 100\n", None),
    ],
)
def test_bad_file_gives_one_clear_line(tmp_path: Path, text: str, line: str | None) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PolicyLoadError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert "\n" not in message
    if line is None:
        assert message.startswith("policy: retention.days: must be at least 184")
    else:
        assert message == f"policy: {path}: {line}"


def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(PolicyLoadError) as caught:
        load_policy(path)
    assert str(caught.value) == f"policy: {path}: file not found"


def test_directory_is_not_a_policy_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyLoadError) as caught:
        load_policy(tmp_path)
    assert str(caught.value) == f"policy: {tmp_path}: is a directory, not a file"


def test_non_utf8_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes("retention: 天".encode("gb18030"))
    with pytest.raises(PolicyLoadError) as caught:
        load_policy(path)
    assert str(caught.value) == f"policy: {path}: not UTF-8 text"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "retention: {days: 200}\n")
    path.chmod(0)
    with pytest.raises(PolicyLoadError) as caught:
        load_policy(path)
    assert str(caught.value) == f"policy: {path}: cannot read: Permission denied"


def test_other_os_errors_are_named_with_their_cause(tmp_path: Path) -> None:
    path = tmp_path / ("x" * 300)  # longer than any file name may be
    with pytest.raises(PolicyLoadError) as caught:
        load_policy(path)
    assert str(caught.value) == f"policy: {path}: cannot read: File name too long"
