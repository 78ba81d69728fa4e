"""Every branch of the pure decisions (Art. 6, 7, 8, 11 and DESIGN.md §4)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pytest

from policies import (
    PERMANENT,
    Decision,
    Reason,
    RoomFacts,
    default_policy,
    invite_is_approval,
    invite_may_need_confirmation,
    load_policy_from_mapping,
    may_bind_identity,
    may_change_bot_chat_state,
    may_change_category,
    may_change_state,
    may_create,
    may_enter_bot_chat,
    may_invite,
    may_join,
    may_knock,
    may_moderate,
    may_open_verification_chat,
    may_post,
    may_set_category,
    may_set_tier,
    may_upgrade,
    member_cap,
    needs_join_approval,
)
from policies.decisions import (
    effective_tier,
    may_be_co_creator,
    may_be_in_one_more_room,
    may_open_up,
    may_publish_on_membership,
    may_rename,
    may_send_member_content,
    required_join_rule,
)

from ..facts import room_facts as room
from ..facts import user_facts as user

POLICY = default_policy()
NOW = 1_700_000_000_000
LATER = NOW + 3_600_000
EARLIER = NOW - 1


UNVERIFIED = {"verified": False, "verification_level": 0, "credit_score": None}


def assert_refused(decision: Decision, reason: Reason, **detail: object) -> None:
    assert not decision.allowed
    assert decision.reason is reason
    for key, value in detail.items():
        assert decision.detail.get(key) == value, key


# --- Decision ------------------------------------------------------------------------


def test_allow_has_no_reason_and_empty_detail() -> None:
    decision = Decision.allow()
    assert decision.allowed
    assert decision.reason is None
    assert dict(decision.detail) == {}


def test_refuse_carries_reason_and_read_only_detail() -> None:
    decision = Decision.refuse(Reason.ROOM_FULL, cap=100, count=100)
    assert_refused(decision, Reason.ROOM_FULL, cap=100, count=100)
    with pytest.raises(TypeError):
        decision.detail["cap"] = 5  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.allowed = True  # type: ignore[misc]


def test_decision_detail_is_copied_not_shared() -> None:
    source: dict[str, object] = {"cap": 1}
    decision = Decision(allowed=False, reason=Reason.ROOM_FULL, detail=source)
    source["cap"] = 2
    assert decision.detail["cap"] == 1


@pytest.mark.parametrize(("allowed", "reason"), [(True, Reason.ROOM_FULL), (False, None)])
def test_decision_refuses_inconsistent_reason(allowed: bool, reason: Reason | None) -> None:
    with pytest.raises(ValueError, match="reason exactly when"):
        Decision(allowed=allowed, reason=reason)


# --- may_post ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_changes", "room_changes", "reason", "detail"),
    [
        ({"blacklisted": True}, {}, Reason.BLACKLISTED, {}),
        (UNVERIFIED, {}, Reason.REALNAME_REQUIRED, {"action": "post"}),
        (
            {"verification_level": 0},
            {},
            Reason.REALNAME_LEVEL_INSUFFICIENT,
            {"required_level": 1, "verification_level": 0},
        ),
        (
            {"convention_accepted": False},
            {},
            Reason.CONVENTION_NOT_ACCEPTED,
            {"version": POLICY.convention.version},
        ),
        ({}, {"closed": True}, Reason.ROOM_CLOSED, {}),
        ({}, {"frozen": True}, Reason.EMERGENCY_FREEZE, {}),
        (
            {"muted_until_ms": LATER},
            {},
            Reason.POSTING_SUSPENDED_USER,
            {"until": LATER, "permanent": False},
        ),
        (
            {"muted_until_ms": PERMANENT},
            {},
            Reason.POSTING_SUSPENDED_USER,
            {"until": None, "permanent": True},
        ),
        (
            {},
            {"posting_suspended_until_ms": LATER},
            Reason.POSTING_SUSPENDED_ROOM,
            {"until": LATER, "permanent": False},
        ),
        (
            {},
            {"posting_suspended_until_ms": PERMANENT},
            Reason.POSTING_SUSPENDED_ROOM,
            {"until": None, "permanent": True},
        ),
        ({"credit_score": 59}, {}, Reason.CREDIT_INSUFFICIENT, {"level": "E", "action": "post"}),
        # Order: blacklist before real name before convention before sanctions before credit.
        ({"blacklisted": True, **UNVERIFIED}, {"closed": True}, Reason.BLACKLISTED, {}),
        ({**UNVERIFIED, "convention_accepted": False}, {}, Reason.REALNAME_REQUIRED, {}),
        ({"convention_accepted": False}, {"closed": True}, Reason.CONVENTION_NOT_ACCEPTED, {}),
        ({"muted_until_ms": LATER}, {"closed": True}, Reason.ROOM_CLOSED, {}),
        ({"muted_until_ms": LATER}, {"frozen": True}, Reason.EMERGENCY_FREEZE, {}),
        (
            {"muted_until_ms": LATER},
            {"posting_suspended_until_ms": LATER},
            Reason.POSTING_SUSPENDED_USER,
            {},
        ),
        ({"credit_score": 0, "muted_until_ms": LATER}, {}, Reason.POSTING_SUSPENDED_USER, {}),
    ],
)
def test_may_post_refuses_with_the_first_failing_check(
    user_changes: dict[str, object],
    room_changes: dict[str, object],
    reason: Reason,
    detail: dict[str, object],
) -> None:
    decision = may_post(user(**user_changes), room(**room_changes), NOW, POLICY)
    assert_refused(decision, reason, **detail)


@pytest.mark.parametrize(
    ("user_changes", "room_changes"),
    [
        ({}, {}),
        ({"muted_until_ms": EARLIER}, {}),
        ({"muted_until_ms": NOW}, {}),
        ({}, {"posting_suspended_until_ms": EARLIER}),
        ({"credit_score": 60}, {}),  # D may still post
        (
            {"exempt": True, "blacklisted": True, **UNVERIFIED, "convention_accepted": False},
            {"closed": True, "frozen": True},
        ),
    ],
)
def test_may_post_allows_members_in_good_standing_and_exempt_accounts(
    user_changes: dict[str, object], room_changes: dict[str, object]
) -> None:
    assert may_post(user(**user_changes), room(**room_changes), NOW, POLICY).allowed


def test_unverified_user_may_post_when_operator_drops_the_realname_requirement() -> None:
    policy = load_policy_from_mapping({"realname": {"required_for": ["create", "invite"]}})
    assert may_post(user(**UNVERIFIED), room(), NOW, policy).allowed


def test_higher_required_verification_level_refuses_basic_verification() -> None:
    policy = load_policy_from_mapping({"realname": {"required_level": 2}})
    assert_refused(
        may_post(user(), room(), NOW, policy),
        Reason.REALNAME_LEVEL_INSUFFICIENT,
        required_level=2,
    )


# --- may_create ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_changes", "category", "reason", "detail"),
    [
        ({}, "nonsense", Reason.INVALID_CATEGORY, {"category": "nonsense"}),
        ({"exempt": True}, "nonsense", Reason.INVALID_CATEGORY, {}),
        ({"blacklisted": True}, "general", Reason.BLACKLISTED, {}),
        (UNVERIFIED, "general", Reason.REALNAME_REQUIRED, {"action": "create"}),
        ({"verification_level": 0}, "general", Reason.REALNAME_LEVEL_INSUFFICIENT, {}),
        ({"creation_revoked": True}, "general", Reason.CREATE_REVOKED, {"permanent": True}),
        (
            {"creation_revoked": True, "creation_revoked_until_ms": LATER},
            "general",
            Reason.CREATE_REVOKED,
            {"until": LATER, "permanent": False},
        ),
        (
            {"credit_score": 65},
            "general",
            Reason.CREDIT_INSUFFICIENT,
            {"level": "D", "action": "create"},
        ),
        ({"credit_score": 10}, "general", Reason.CREDIT_INSUFFICIENT, {"level": "E"}),
        (
            {"credit_score": 75},
            "news",
            Reason.CREDIT_INSUFFICIENT,
            {"level": "C", "required_level": "B", "category": "news"},
        ),
        (
            {"credit_score": 75, "rooms_owned": 3},
            "general",
            Reason.CREATE_LIMIT,
            {"cap": 3, "count": 3, "level": "C"},
        ),
        ({"rooms_owned": 10}, "work", Reason.CREATE_LIMIT, {"cap": 10, "count": 10, "level": "B"}),
        ({"credit_score": 115, "rooms_owned": 20}, "general", Reason.CREATE_LIMIT, {"cap": 20}),
        # Order: revoked creation before the credit level.
        ({"creation_revoked": True, "credit_score": 0}, "general", Reason.CREATE_REVOKED, {}),
        ({"blacklisted": True, **UNVERIFIED}, "general", Reason.BLACKLISTED, {}),
    ],
)
def test_may_create_refuses_with_the_first_failing_check(
    user_changes: dict[str, object], category: str, reason: Reason, detail: dict[str, object]
) -> None:
    assert_refused(may_create(user(**user_changes), category, POLICY), reason, **detail)


# --- may_upgrade ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_changes", "room_changes", "reason", "detail"),
    [
        # The predecessor's measures bind everyone, the exempt included.
        ({"exempt": True}, {"closed": True}, Reason.ROOM_CLOSED, {}),
        ({"exempt": True}, {"frozen": True}, Reason.EMERGENCY_FREEZE, {}),
        ({"exempt": True}, {"posting_suspended_until_ms": LATER}, Reason.POSTING_SUSPENDED_ROOM, {"until": LATER}),
        ({}, {"posting_suspended_until_ms": PERMANENT}, Reason.POSTING_SUSPENDED_ROOM, {"permanent": True}),
        ({"blacklisted": True}, {}, Reason.BLACKLISTED, {}),
        (UNVERIFIED, {}, Reason.REALNAME_REQUIRED, {"action": "create"}),
        ({"muted_until_ms": LATER}, {}, Reason.POSTING_SUSPENDED_USER, {"until": LATER}),
        ({"admin_suspended": True}, {}, Reason.ADMIN_SUSPENDED, {}),
        ({"creation_revoked": True}, {}, Reason.CREATE_REVOKED, {}),
        ({"credit_score": 65}, {}, Reason.CREDIT_INSUFFICIENT, {"level": "D", "action": "create"}),
        ({"credit_score": 75}, {"category": "news"}, Reason.CREDIT_INSUFFICIENT, {"required_level": "B"}),
        # Above the cap (the level fell after the rooms were made): refused with the real count.
        ({"credit_score": 75, "rooms_owned": 4}, {}, Reason.CREATE_LIMIT, {"cap": 3, "count": 4, "upgrade": True}),
    ],
)
def test_may_upgrade_refuses_with_the_first_failing_check(
    user_changes: dict[str, object], room_changes: dict[str, object], reason: Reason, detail: dict[str, object]
) -> None:
    assert_refused(may_upgrade(user(**user_changes), room(**room_changes), NOW, POLICY), reason, **detail)


def test_an_upgrade_replaces_a_room_so_an_owner_at_the_cap_may_upgrade() -> None:
    at_cap = user(credit_score=75, rooms_owned=3)
    assert may_upgrade(at_cap, room(), NOW, POLICY).allowed
    assert may_upgrade(user(exempt=True, **UNVERIFIED), room(), NOW, POLICY).allowed
    assert may_upgrade(user(), room(posting_suspended_until_ms=EARLIER), NOW, POLICY).allowed
    # A category disabled since the room was made is vetted as the default category.
    assert may_upgrade(user(), room(category="nonsense"), NOW, POLICY).allowed


def test_level_c_user_is_refused_fourth_room_with_create_limit() -> None:
    level_c = user(credit_score=80)
    assert may_create(dataclasses.replace(level_c, rooms_owned=2), "general", POLICY).allowed
    assert_refused(
        may_create(dataclasses.replace(level_c, rooms_owned=3), "general", POLICY),
        Reason.CREATE_LIMIT,
        cap=3,
        count=3,
        level="C",
    )


@pytest.mark.parametrize(
    ("user_changes", "category"),
    [
        ({}, "general"),
        ({}, "news"),  # level B may create high-risk rooms
        ({"credit_score": 115, "rooms_owned": 19}, "finance"),
        ({"credit_score": 75}, "commerce"),  # elevated risk has no creator-level rule
        ({"exempt": True, "blacklisted": True, "creation_revoked": True, **UNVERIFIED}, "minors"),
    ],
)
def test_may_create_allows_qualified_creators(user_changes: dict[str, object], category: str) -> None:
    assert may_create(user(**user_changes), category, POLICY).allowed


def test_high_risk_category_may_demand_a_stronger_verification() -> None:
    policy = load_policy_from_mapping({"categories": {"risk_rules": {"high": {"min_verification_level": 2}}}})
    assert may_create(user(), "general", policy).allowed
    assert_refused(may_create(user(), "news", policy), Reason.REALNAME_LEVEL_INSUFFICIENT, required_level=2)


def test_disabled_category_cannot_be_created() -> None:
    policy = load_policy_from_mapping({"categories": {"known": {"news": {"enabled": False}}}})
    assert_refused(may_create(user(), "news", policy), Reason.INVALID_CATEGORY)


@pytest.mark.parametrize(
    ("owner_changes", "category", "allowed"),
    [
        ({"credit_score": 80}, "general", True),
        ({"credit_score": 80}, "news", False),  # high risk asks level B of the owner (Art. 8)
        ({"credit_score": 90}, "news", True),
        ({"credit_score": 0, "exempt": True}, "news", True),
        ({"credit_score": 80, "rooms_owned": 99}, "general", True),  # an existing room: no cap asked again
    ],
)
def test_changing_a_category_vets_the_owner_by_level_like_creating_one(
    owner_changes: dict[str, object], category: str, allowed: bool
) -> None:
    owner = user(**owner_changes)
    decision = may_change_category(owner, category, POLICY)
    assert decision.allowed is allowed
    if not allowed:
        assert_refused(decision, Reason.CREDIT_INSUFFICIENT, level="C", required_level="B", category=category)
        created = may_create(owner, category, POLICY)
        assert created.reason is decision.reason
        assert {k: v for k, v in created.detail.items() if k != "action"} == dict(decision.detail)


def test_changing_to_an_unknown_category_is_invalid_category() -> None:
    assert_refused(may_change_category(user(), "nonsense", POLICY), Reason.INVALID_CATEGORY, category="nonsense")


# --- may_join ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_changes", "room_changes", "invited", "reason", "detail"),
    [
        ({"blacklisted": True}, {}, True, Reason.BLACKLISTED, {}),
        (UNVERIFIED, {"member_count": 150}, True, Reason.REALNAME_REQUIRED, {"action": "join"}),
        # A stale recorded tier never loosens a rule; a larger recorded tier counts.
        (UNVERIFIED, {"tier": "medium"}, True, Reason.REALNAME_REQUIRED, {}),
        (
            {"verification_level": 0},
            {"member_count": 150},
            True,
            Reason.REALNAME_LEVEL_INSUFFICIENT,
            {},
        ),
        ({}, {"closed": True}, True, Reason.ROOM_CLOSED, {}),
        ({}, {"frozen": True}, True, Reason.EMERGENCY_FREEZE, {}),
        ({}, {"member_count": 500}, True, Reason.ROOM_FULL, {"cap": 500, "count": 500}),
        (
            {},
            {"member_count": 100, "owner_level": "C"},
            True,
            Reason.ROOM_FULL,
            {"cap": 100, "count": 100},
        ),
        ({}, {"member_count": 100, "owner_level": "D"}, True, Reason.ROOM_FULL, {"cap": 100}),
        ({}, {"member_count": 2000, "owner_level": "A"}, True, Reason.ROOM_FULL, {"cap": 2000}),
        ({}, {"member_count": 2000, "owner_level": None}, True, Reason.ROOM_FULL, {"cap": 2000}),
        (
            {},
            {"member_count": 3000, "owner_level": None, "granted_tier": "huge"},
            True,
            Reason.ROOM_FULL,
            {"cap": 3000},
        ),
        (
            {"credit_score": 50, "rooms_joined": 100},
            {},
            True,
            Reason.JOIN_LIMIT,
            {"cap": 100, "count": 100, "level": "E"},
        ),
        (
            {"credit_score": 75, "rooms_joined": 200},
            {},
            True,
            Reason.JOIN_LIMIT,
            {"cap": 200, "level": "C"},
        ),
        # An unverified account is judged at the initial score (level B).
        (
            {**UNVERIFIED, "rooms_joined": 500},
            {},
            True,
            Reason.JOIN_LIMIT,
            {"cap": 500, "level": "B"},
        ),
        (
            {},
            {"member_count": 600, "owner_level": "A"},
            False,
            Reason.JOIN_APPROVAL_REQUIRED,
            {"tier": "large"},
        ),
        (
            {},
            {"category": "news"},
            False,
            Reason.JOIN_APPROVAL_REQUIRED,
            {"tier": "small", "category": "news"},
        ),
        # Order: realname before room state; room full before join limit and approval.
        (UNVERIFIED, {"member_count": 150, "closed": True}, False, Reason.REALNAME_REQUIRED, {}),
        ({"blacklisted": True}, {"closed": True}, False, Reason.BLACKLISTED, {}),
        ({}, {"closed": True, "frozen": True}, False, Reason.ROOM_CLOSED, {}),
        (
            {"rooms_joined": 500},
            {"member_count": 500, "category": "news"},
            False,
            Reason.ROOM_FULL,
            {},
        ),
        ({"rooms_joined": 500}, {"category": "news"}, False, Reason.JOIN_LIMIT, {}),
    ],
)
def test_may_join_refuses_with_the_first_failing_check(
    user_changes: dict[str, object],
    room_changes: dict[str, object],
    invited: bool,
    reason: Reason,
    detail: dict[str, object],
) -> None:
    decision = may_join(user(**user_changes), room(**room_changes), invited, NOW, POLICY)
    assert_refused(decision, reason, **detail)


@pytest.mark.parametrize(
    ("room_changes", "allowed"),
    [
        ({"category": "minors"}, False),  # high risk: approval at any size
        ({"member_count": 600, "owner_level": "A"}, False),  # the approval tier
        ({}, True),  # no approval needed: any member's invite lets the invitee in
        ({"member_count": 499}, True),
    ],
)
def test_a_plain_members_invite_into_an_approval_room_waits_for_an_admin(
    room_changes: dict[str, object], allowed: bool
) -> None:
    decision = may_join(user(), room(**room_changes), True, NOW, POLICY, invite_confirmed=False)
    if allowed:
        assert decision.allowed
    else:
        assert_refused(decision, Reason.JOIN_APPROVAL_REQUIRED, via="invite")
    assert may_join(user(), room(**room_changes), True, NOW, POLICY, invite_confirmed=True).allowed


@pytest.mark.parametrize(
    ("room_changes", "members_up_to", "may_matter"),
    [
        ({}, 10, False),  # small
        ({}, 500, False),  # the last count of medium: no approval yet
        ({}, 501, True),  # large from 501 (approval_from_tier: large)
        ({"member_count": 600}, 10, True),  # the room's own count counts too
        ({"tier": "large"}, 10, True),  # a recorded tier holds whatever the count
        ({"category": "news"}, 10, True),  # high risk: approval at any size
    ],
)
def test_an_invite_can_decide_a_join_only_where_approval_is_or_may_become_needed(
    room_changes: dict[str, object], members_up_to: int, may_matter: bool
) -> None:
    assert invite_may_need_confirmation(room(**room_changes), members_up_to, POLICY) is may_matter


def test_where_an_invite_cannot_decide_a_join_it_decides_nothing_up_to_that_count() -> None:
    # The join callback skips reading the invite on this answer, so it must hold for every
    # count the room may reach meanwhile, and for every joiner.
    joiners = [user(), user(**UNVERIFIED), user(blacklisted=True), user(rooms_joined=10_000)]
    for members in range(0, 700, 13):
        for meanwhile in (0, 1, 50):
            if invite_may_need_confirmation(room(member_count=members), members + meanwhile, POLICY):
                continue
            for count in range(members, members + meanwhile + 1):
                for joiner in joiners:
                    grown = room(member_count=count)
                    unconfirmed = may_join(joiner, grown, True, NOW, POLICY, invite_confirmed=False)
                    assert unconfirmed == may_join(joiner, grown, True, NOW, POLICY, invite_confirmed=True)


@pytest.mark.parametrize(
    ("admin", "platform", "suspended", "approval"),
    [
        (True, False, False, True),
        (False, True, False, True),
        (False, False, False, False),
        (True, False, True, False),  # Art. 11: a suspended admin's invite is a request like a member's
    ],
)
def test_only_an_admins_or_the_platforms_invite_is_the_approval(
    admin: bool, platform: bool, suspended: bool, approval: bool
) -> None:
    decision = invite_is_approval(inviter_is_admin=admin, inviter_is_platform=platform, inviter_suspended=suspended)
    assert decision is approval


@pytest.mark.parametrize(
    ("user_changes", "room_changes", "invited"),
    [
        ({}, {}, False),
        (UNVERIFIED, {"member_count": 99}, False),  # small rooms stay open
        ({}, {"member_count": 499}, False),
        ({}, {"member_count": 600, "owner_level": "A"}, True),  # the invite is the approval
        ({}, {"category": "minors"}, True),
        ({"credit_score": 75, "rooms_joined": 199}, {}, False),
        ({}, {"member_count": 2999, "owner_level": None, "granted_tier": "huge"}, True),
        ({"muted_until_ms": PERMANENT}, {"posting_suspended_until_ms": LATER}, False),
        (
            {"exempt": True, "blacklisted": True, **UNVERIFIED, "rooms_joined": 10_000},
            {"closed": True, "frozen": True, "member_count": 5000, "category": "news"},
            False,
        ),
    ],
)
def test_may_join_allows_eligible_joiners(
    user_changes: dict[str, object], room_changes: dict[str, object], invited: bool
) -> None:
    assert may_join(user(**user_changes), room(**room_changes), invited, NOW, POLICY).allowed


@pytest.mark.parametrize(
    ("user_changes", "allowed", "detail"),
    [
        ({"rooms_joined": 499}, True, {}),
        ({"rooms_joined": 500}, False, {"cap": 500, "count": 500, "level": "B"}),
        ({"credit_score": 75, "rooms_joined": 200}, False, {"cap": 200, "count": 200, "level": "C"}),
        ({"exempt": True, "rooms_joined": 10_000}, True, {}),
    ],
)
def test_a_creator_is_held_to_the_rooms_joined_cap_like_a_joiner(
    user_changes: dict[str, object], allowed: bool, detail: dict[str, object]
) -> None:
    decision = may_be_in_one_more_room(user(**user_changes), POLICY)
    if allowed:
        assert decision.allowed
    else:
        assert_refused(decision, Reason.JOIN_LIMIT, **detail)


# --- may_invite ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_changes", "room_changes", "reason", "detail"),
    [
        ({"blacklisted": True}, {}, Reason.BLACKLISTED, {}),
        (UNVERIFIED, {}, Reason.REALNAME_REQUIRED, {"action": "invite"}),
        ({"verification_level": 0}, {}, Reason.REALNAME_LEVEL_INSUFFICIENT, {}),
        ({}, {"closed": True}, Reason.ROOM_CLOSED, {}),
        ({}, {"frozen": True}, Reason.EMERGENCY_FREEZE, {}),
        ({"credit_score": 65}, {}, Reason.CREDIT_INSUFFICIENT, {"level": "D", "action": "invite"}),
        ({}, {"member_count": 500}, Reason.ROOM_FULL, {"cap": 500, "count": 500}),
        ({"credit_score": 65}, {"closed": True}, Reason.ROOM_CLOSED, {}),
    ],
)
def test_may_invite_refuses_with_the_first_failing_check(
    user_changes: dict[str, object],
    room_changes: dict[str, object],
    reason: Reason,
    detail: dict[str, object],
) -> None:
    assert_refused(may_invite(user(**user_changes), room(**room_changes), POLICY), reason, **detail)


@pytest.mark.parametrize(
    "user_changes", [{}, {"credit_score": 70}, {"exempt": True, "blacklisted": True, **UNVERIFIED}]
)
def test_may_invite_allows_verified_members_and_exempt_accounts(
    user_changes: dict[str, object],
) -> None:
    assert may_invite(user(**user_changes), room(), POLICY).allowed


# --- may_moderate, may_change_state --------------------------------------------------


@pytest.mark.parametrize(
    ("user_changes", "room_changes", "reason"),
    [
        ({"blacklisted": True}, {}, Reason.BLACKLISTED),
        ({"admin_suspended": True}, {}, Reason.ADMIN_SUSPENDED),
        ({}, {"closed": True}, Reason.ROOM_CLOSED),
        ({"admin_suspended": True}, {"closed": True}, Reason.ADMIN_SUSPENDED),
    ],
)
def test_suspended_admin_may_not_moderate(
    user_changes: dict[str, object], room_changes: dict[str, object], reason: Reason
) -> None:
    assert_refused(may_moderate(user(**user_changes), room(**room_changes), POLICY), reason)


@pytest.mark.parametrize("user_changes", [{}, {"exempt": True, "admin_suspended": True, "blacklisted": True}])
def test_admin_in_good_standing_may_moderate(user_changes: dict[str, object]) -> None:
    assert may_moderate(user(**user_changes), room(), POLICY).allowed


def test_refusals_for_measures_with_an_end_say_when_it_comes() -> None:
    blacklisted = user(blacklisted=True, blacklisted_until_ms=LATER)
    suspended = user(admin_suspended=True, admin_suspended_until_ms=LATER)
    for decision in (
        may_post(blacklisted, room(), NOW, POLICY),
        may_join(blacklisted, room(), False, NOW, POLICY),
        may_create(blacklisted, "general", POLICY),
        may_invite(blacklisted, room(), POLICY),
        may_knock(blacklisted, room()),
        may_moderate(blacklisted, room(), POLICY),
        may_moderate(suspended, room(), POLICY),
        may_upgrade(suspended, room(), NOW, POLICY),
    ):
        assert not decision.allowed and decision.detail == {"until": LATER, "permanent": False}, decision
    # Without an end (or PERMANENT) the refusal says it has none.
    forever = user(blacklisted=True, blacklisted_until_ms=PERMANENT)
    assert may_post(forever, room(), NOW, POLICY).detail == {"until": None, "permanent": True}


@pytest.mark.parametrize(
    ("user_changes", "room_changes", "reason"),
    [
        ({"blacklisted": True}, {}, Reason.BLACKLISTED),
        ({}, {"closed": True}, Reason.ROOM_CLOSED),
        ({"blacklisted": True}, {"closed": True}, Reason.BLACKLISTED),
    ],
)
def test_the_blacklisted_do_not_knock_and_nobody_knocks_on_a_closed_room(
    user_changes: dict[str, object], room_changes: dict[str, object], reason: Reason
) -> None:
    assert_refused(may_knock(user(**user_changes), room(**room_changes)), reason)
    assert may_knock(user(), room()).allowed


@pytest.mark.parametrize(
    ("is_service", "event_type", "allowed"),
    [
        (True, "cn.qunzu.group", True),
        (False, "cn.qunzu.group", False),
        (False, "m.room.name", True),
        (True, "m.room.topic", True),
    ],
)
def test_only_the_service_account_changes_protected_state(is_service: bool, event_type: str, allowed: bool) -> None:
    decision = may_change_state(is_service, event_type)
    assert decision.allowed is allowed
    if not allowed:
        assert_refused(decision, Reason.PROTECTED_STATE, event_type=event_type)


# --- categories, tiers, identity binding ---------------------------------------------


@pytest.mark.parametrize("category", list(POLICY.categories.known))
def test_every_known_category_may_be_set(category: str) -> None:
    assert may_set_category(category, POLICY).allowed


@pytest.mark.parametrize("category", ["", "General", "politics", "family-friends"])
def test_unknown_category_is_refused_with_the_choices(category: str) -> None:
    decision = may_set_category(category, POLICY)
    assert_refused(decision, Reason.INVALID_CATEGORY, category=category)
    assert decision.detail["categories"] == tuple(POLICY.categories.known)
    assert len(tuple(POLICY.categories.known)) == 11


@pytest.mark.parametrize(
    ("owner_level", "tier", "staff", "detail"),
    [
        ("B", "gigantic", False, {"tier": "gigantic"}),
        ("B", "gigantic", True, {"tier": "gigantic"}),
        ("A", "huge", False, {"tier": "huge", "staff_decision_required": True}),
        (None, "huge", False, {"staff_decision_required": True}),
        ("B", "large", False, {"tier": "large", "max_tier": "medium", "level": "B"}),
        ("C", "medium", False, {"max_tier": "small", "level": "C"}),
        ("D", "medium", False, {"max_tier": "small", "level": "D"}),
    ],
)
def test_tier_beyond_the_owner_level_or_needing_staff_is_refused(
    owner_level: str | None, tier: str, staff: bool, detail: Mapping[str, object]
) -> None:
    decision = may_set_tier(owner_level, tier, POLICY, staff_decision=staff)
    assert_refused(decision, Reason.TIER_NOT_ALLOWED, **detail)


@pytest.mark.parametrize(
    ("owner_level", "tier", "staff"),
    [("B", "medium", False), ("A", "large", False), (None, "large", False), ("E", "huge", True)],
)
def test_tier_within_the_owner_level_or_by_staff_is_allowed(owner_level: str | None, tier: str, staff: bool) -> None:
    assert may_set_tier(owner_level, tier, POLICY, staff_decision=staff).allowed


@pytest.mark.parametrize(("existing", "allowed"), [(0, True), (2, True), (3, False), (7, False)])
def test_one_identity_verifies_at_most_three_accounts(existing: int, allowed: bool) -> None:
    decision = may_bind_identity(existing, POLICY)
    assert decision.allowed is allowed
    if not allowed:
        assert_refused(decision, Reason.IDENTITY_IN_USE, cap=3, count=existing)


# --- approval, caps and tiers of rooms -----------------------------------------------


@pytest.mark.parametrize(
    ("room_changes", "needed"),
    [
        ({}, False),
        ({"member_count": 500}, False),
        ({"member_count": 501}, True),
        ({"tier": "large", "member_count": 5}, True),
        ({"tier": "huge"}, True),
        ({"category": "news"}, True),
        ({"category": "public_affairs"}, True),
        ({"category": "finance"}, True),
        ({"category": "minors"}, True),
        ({"category": "commerce"}, False),
        ({"category": "unknown_legacy"}, False),
    ],
)
def test_join_approval_is_needed_from_large_rooms_and_in_high_risk_categories(
    room_changes: dict[str, object], needed: bool
) -> None:
    assert needs_join_approval(room(**room_changes), POLICY) is needed


@pytest.mark.parametrize(
    ("room_changes", "rule"),
    [
        ({}, None),
        ({"category": "news"}, "knock"),
        ({"category": "news", "join_rule": "knock"}, None),
        ({"member_count": 600, "join_rule": "invite"}, None),
        ({"member_count": 600}, "knock"),
    ],
)
def test_public_rooms_needing_approval_must_switch_to_knock(room_changes: dict[str, object], rule: str | None) -> None:
    assert required_join_rule(room(**room_changes), POLICY) == rule


@pytest.mark.parametrize(
    ("room_changes", "cap"),
    [
        ({"owner_level": "A"}, 2000),
        ({"owner_level": "B"}, 500),
        ({"owner_level": "C"}, 100),
        ({"owner_level": "D"}, 100),
        ({"owner_level": "E"}, 100),
        ({"owner_level": None}, 2000),
        ({"owner_level": "C", "granted_tier": "large"}, 2000),
        ({"owner_level": None, "granted_tier": "huge"}, 3000),
    ],
)
def test_member_cap_follows_owner_level_staff_grants_and_the_ceiling(room_changes: dict[str, object], cap: int) -> None:
    assert member_cap(room(**room_changes), POLICY) == cap


def test_owner_level_allowing_huge_still_needs_a_staff_grant_for_huge_rooms() -> None:
    policy = load_policy_from_mapping({"credit": {"levels": {"A": {"max_room_tier": "huge"}}}})
    assert member_cap(room(owner_level="A"), policy) == 2000


@pytest.mark.parametrize(
    ("room_changes", "tier"),
    [
        ({"tier": "small", "member_count": 10}, "small"),
        ({"tier": "small", "member_count": 300}, "medium"),
        ({"tier": "large", "member_count": 10}, "large"),
        ({"tier": "no_such_tier", "member_count": 10}, "small"),
    ],
)
def test_effective_tier_is_the_larger_of_recorded_and_counted(room_changes: dict[str, object], tier: str) -> None:
    assert effective_tier(room(**room_changes), POLICY) == tier


# --- the bot chat (Art. 6; DESIGN.md §6.3) -----------------------------------------------

OWNER = "@alice:example.org"
SERVICE = "@qunzu:example.org"


def bot_chat(**changes: object) -> RoomFacts:
    return room(**{"verification_dm": True, "bot_chat_owner": OWNER, "join_rule": "invite", **changes})


def test_unverified_user_may_message_the_bot_in_the_verification_chat() -> None:
    unverified = user(**UNVERIFIED, convention_accepted=False)
    assert may_post(unverified, bot_chat(), NOW, POLICY).allowed


@pytest.mark.parametrize(
    "changes",
    [
        {"muted_until_ms": NOW + 3_600_000},
        {"muted_until_ms": PERMANENT},
        {"credit_score": 10},  # level E: read only elsewhere
        {**UNVERIFIED, "muted_until_ms": PERMANENT},
    ],
)
def test_sanctioned_people_still_reach_the_bot_in_their_own_bot_chat(changes: dict[str, object]) -> None:
    person = user(**changes)
    assert may_post(person, bot_chat(), NOW, POLICY).allowed
    # Everywhere else the measure holds.
    assert not may_post(person, room(), NOW, POLICY).allowed


def test_the_bot_chat_channel_is_its_owners_only() -> None:
    stranger = user(user_id="@mallory:example.org", **UNVERIFIED)
    assert_refused(may_post(stranger, bot_chat(), NOW, POLICY), Reason.REALNAME_REQUIRED)
    muted = user(user_id="@mallory:example.org", muted_until_ms=PERMANENT)
    assert_refused(may_post(muted, bot_chat(), NOW, POLICY), Reason.POSTING_SUSPENDED_USER)


def test_verification_chat_does_not_open_state_events() -> None:
    decision = may_post(user(**UNVERIFIED), bot_chat(), NOW, POLICY, is_message=False)
    assert_refused(decision, Reason.REALNAME_REQUIRED)
    decision = may_post(user(muted_until_ms=PERMANENT), bot_chat(), NOW, POLICY, is_message=False)
    assert_refused(decision, Reason.POSTING_SUSPENDED_USER)


def test_the_blacklisted_appeal_in_their_bot_chat_but_open_no_new_one() -> None:
    banned = user(blacklisted=True)
    # The refusal and the notice tell them to send !appeal to the bot: that must work.
    assert may_post(banned, bot_chat(), NOW, POLICY).allowed
    assert_refused(may_post(banned, bot_chat(), NOW, POLICY, is_message=False), Reason.BLACKLISTED)
    assert_refused(may_post(banned, room(), NOW, POLICY), Reason.BLACKLISTED)
    assert_refused(may_open_verification_chat(banned), Reason.BLACKLISTED)


def test_verification_chat_stays_closed_to_freezes() -> None:
    assert may_open_verification_chat(user(**UNVERIFIED)).allowed
    assert_refused(may_post(user(), bot_chat(frozen=True), NOW, POLICY), Reason.EMERGENCY_FREEZE)


def test_a_second_verification_chat_points_to_the_first() -> None:
    assert_refused(
        may_open_verification_chat(user(), "!first:example.org"), Reason.BOT_CHAT_EXISTS, room_id="!first:example.org"
    )
    assert_refused(may_open_verification_chat(user(), None, has_open=True), Reason.BOT_CHAT_EXISTS, room_id=None)


@pytest.mark.parametrize(
    ("event_type", "sender", "allowed"),
    [
        ("m.room.name", OWNER, True),
        ("m.room.topic", OWNER, True),
        ("m.room.encryption", OWNER, True),  # decided by the encryption rule
        ("m.room.join_rules", OWNER, False),
        ("m.room.history_visibility", OWNER, False),
        ("m.room.guest_access", OWNER, False),
        ("m.room.power_levels", OWNER, False),
        ("m.room.canonical_alias", OWNER, False),
        ("m.room.tombstone", OWNER, False),
        ("m.room.third_party_invite", OWNER, False),
        ("m.space.parent", OWNER, False),
        ("m.room.join_rules", SERVICE, True),
    ],
)
def test_only_the_looks_of_a_bot_chat_may_change(event_type: str, sender: str, allowed: bool) -> None:
    decision = may_change_bot_chat_state(bot_chat(), sender, SERVICE, event_type)
    assert decision.allowed is allowed
    if not allowed:
        assert_refused(decision, Reason.BOT_CHAT_PRIVATE, event_type=event_type)
    assert may_change_bot_chat_state(room(), sender, SERVICE, event_type).allowed  # groups: other rules


def test_a_bot_chat_is_never_published_upgraded_or_invited_into_by_address() -> None:
    assert_refused(may_open_up(bot_chat()), Reason.BOT_CHAT_PRIVATE)
    assert may_open_up(room()).allowed


def test_a_bot_chat_admits_its_owner_and_the_service_only() -> None:
    assert may_enter_bot_chat(bot_chat(), OWNER, SERVICE).allowed
    assert may_enter_bot_chat(bot_chat(), SERVICE, SERVICE).allowed
    assert_refused(may_enter_bot_chat(bot_chat(), "@bob:example.org", SERVICE), Reason.BOT_CHAT_PRIVATE)
    assert may_enter_bot_chat(room(), "@bob:example.org", SERVICE).allowed


@pytest.mark.parametrize(
    ("change", "check"),
    [
        ({}, None),
        ({"blacklisted": True}, "blacklisted"),
        ({"verified": False}, "realname"),
        ({"creation_revoked": True}, "create_revoked"),
        ({"admin_suspended": True}, "admin_suspended"),
        ({"verified": False, "exempt": True}, None),
    ],
)
def test_a_co_creator_is_vetted_like_an_owner_who_administers(change: dict[str, object], check: str | None) -> None:
    decision = may_be_co_creator(user(**change), POLICY)
    if check is None:
        assert decision.allowed
    else:
        assert decision.reason is Reason.PROTECTED_STATE
        assert decision.detail == {"setting": "additional_creators", "user": "@alice:example.org", "check": check}


@pytest.mark.parametrize(
    ("user_changes", "room_changes", "reason"),
    [
        # The person's own standing decides, as for a state event...
        ({"muted_until_ms": LATER}, {}, Reason.POSTING_SUSPENDED_USER),
        ({"blacklisted": True}, {}, Reason.BLACKLISTED),
        (UNVERIFIED, {}, Reason.REALNAME_REQUIRED),
        ({"convention_accepted": False}, {}, Reason.CONVENTION_NOT_ACCEPTED),
        ({"credit_score": 0}, {}, Reason.CREDIT_INSUFFICIENT),
        ({"muted_until_ms": LATER}, {"closed": True, "frozen": True}, Reason.POSTING_SUSPENDED_USER),
        # ...and the room's closure, freeze or suspension does not: the platform ends memberships there.
        ({}, {"closed": True}, None),
        ({}, {"frozen": True}, None),
        ({}, {"posting_suspended_until_ms": LATER}, None),
        ({"muted_until_ms": EARLIER}, {}, None),
        # Their own bot chat is no channel for texts on a membership: a muted owner is refused there too.
        ({"muted_until_ms": LATER}, {"bot_chat_owner": "@alice:example.org"}, Reason.POSTING_SUSPENDED_USER),
    ],
)
def test_texts_on_a_membership_follow_the_persons_own_standing(
    user_changes: dict[str, object], room_changes: dict[str, object], reason: Reason | None
) -> None:
    decision = may_publish_on_membership(user(**user_changes), room(**room_changes), NOW, POLICY)
    if reason is None:
        assert decision.allowed, decision
    else:
        assert_refused(decision, reason)


@pytest.mark.parametrize(
    ("user_changes", "reason"),
    [
        ({"blacklisted": True}, Reason.BLACKLISTED),
        ({"muted_until_ms": LATER}, Reason.POSTING_SUSPENDED_USER),
        ({"credit_score": 0}, Reason.CREDIT_INSUFFICIENT),
        # The name is voluntary: people name themselves before they verify or accept the convention.
        ({**UNVERIFIED, "convention_accepted": False}, None),
        ({"muted_until_ms": EARLIER}, None),
        ({"exempt": True, "blacklisted": True, "muted_until_ms": LATER}, None),
    ],
)
def test_a_new_global_name_is_copied_into_rooms_unless_a_measure_stops_publishing(
    user_changes: dict[str, object], reason: Reason | None
) -> None:
    decision = may_rename(user(**user_changes), NOW, POLICY)
    if reason is None:
        assert decision.allowed, decision
    else:
        assert_refused(decision, reason)


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ({"membership": "join"}, None),
        ({"membership": "join", "displayname": "读书人", "avatar_url": "mxc://a/b", "reason": "x"}, None),
        ({"membership": "join", "displayname": None}, None),
        ({"membership": "join", "displayname": 5}, "displayname"),
        ({"membership": "join", "avatar_url": {"url": "mxc://a/b"}}, "avatar_url"),
        ({"membership": "leave", "reason": ["x"]}, "reason"),
        ({"membership": "invite", "third_party_invite": {"signed": {"token": "t", "mxid": "@a:b"}}}, None),
        ({"membership": "invite", "third_party_invite": None}, "third_party_invite.signed.token"),
        ({"membership": "invite", "third_party_invite": {}}, "third_party_invite.signed.token"),
        ({"membership": "invite", "third_party_invite": {"signed": {"token": 5}}}, "third_party_invite.signed.token"),
    ],
)
def test_a_member_events_name_avatar_and_reason_are_text_or_absent(
    content: dict[str, object], field: str | None
) -> None:
    decision = may_send_member_content(content)
    if field is None:
        assert decision.allowed, decision
    else:
        assert_refused(decision, Reason.INVALID_REQUEST, field=field, problem="wrong_type")
