"""Room roles (Art. 8, 9): the one rule the module and the bot share, per room version."""

from __future__ import annotations

from typing import Any

import pytest

from policies.decisions import may_change_power_levels, may_set_membership
from policies.reasons import Reason
from policies.roles import (
    CREATOR_POWER,
    RoomRole,
    override_names_creator,
    platform_shortfall,
    room_admins,
    room_creators,
    room_role,
    version_change_keeps_creators,
)

OWNER = "@owner:qunzu.test"
CO = "@co:qunzu.test"
ADMIN = "@admin:qunzu.test"
MOD = "@mod:qunzu.test"
MEMBER = "@member:qunzu.test"


def _create(version: str, **extra: Any) -> dict[str, Any]:
    content: dict[str, Any] = {"room_version": version, **extra}
    if version.isdigit() and int(version) < 11:
        content.setdefault("creator", OWNER)
    return content


def _levels(version: str) -> dict[str, Any]:
    users = {ADMIN: 50, MOD: 49, MEMBER: 0}
    if not int(version) >= 12:
        users[OWNER] = 100  # before v12 the creator is listed with its power
    return {"users": users, "users_default": 0, "kick": 50}


@pytest.mark.parametrize(
    ("version", "user", "role", "power"),
    [
        ("10", OWNER, "creator", 100),
        ("10", ADMIN, "admin", 50),
        ("10", MOD, "member", 49),
        ("10", MEMBER, "member", 0),
        ("10", "@stranger:qunzu.test", "member", 0),
        ("11", OWNER, "creator", 100),
        ("11", ADMIN, "admin", 50),
        ("11", MOD, "member", 49),
        ("12", OWNER, "creator", CREATOR_POWER),
        ("12", ADMIN, "admin", 50),
        ("12", MOD, "member", 49),
        ("12", MEMBER, "member", 0),
    ],
)
def test_roles_by_room_version(version: str, user: str, role: str, power: int) -> None:
    assert room_role(user, OWNER, _create(version), _levels(version)) == RoomRole(role, power)  # type: ignore[arg-type]


@pytest.mark.parametrize(("version", "is_creator"), [("10", False), ("11", False), ("12", True)])
def test_additional_creators_count_only_from_room_version_12(version: str, is_creator: bool) -> None:
    create = _create(version, additional_creators=[CO])
    role = room_role(CO, OWNER, create, _levels(version))
    assert (role.role == "creator") is is_creator
    assert (CO in room_creators(OWNER, create)) is is_creator
    assert role.is_admin is is_creator


def test_before_v11_the_creator_is_content_creator_and_from_v11_the_sender() -> None:
    assert room_creators("@sender:qunzu.test", {"room_version": "10", "creator": OWNER}) == {OWNER}
    assert room_creators("@sender:qunzu.test", {"room_version": "11", "creator": OWNER}) == {"@sender:qunzu.test"}
    assert room_creators(OWNER, {"room_version": "org.matrix.hydra.11", "additional_creators": [CO]}) == {OWNER, CO}


@pytest.mark.parametrize("version", ["10", "11"])
def test_before_v12_a_creator_who_lowered_their_own_power_keeps_the_label_with_that_power(version: str) -> None:
    levels = {"users": {OWNER: 10}}
    assert room_role(OWNER, OWNER, _create(version), levels) == RoomRole("creator", 10)


@pytest.mark.parametrize(("version", "owner_power"), [("10", 100), ("11", 100), ("12", CREATOR_POWER)])
def test_without_power_levels_the_creator_has_100_or_unbounded_and_others_nothing(
    version: str, owner_power: int
) -> None:
    assert room_role(OWNER, OWNER, _create(version), None) == RoomRole("creator", owner_power)
    assert room_role(MEMBER, OWNER, _create(version), None) == RoomRole("member", 0)


@pytest.mark.parametrize(
    ("levels", "power"),
    [
        ({"users_default": 50}, 50),
        ({"users": {MEMBER: "60"}}, 60),  # old rooms allow integer strings
        ({"users": {MEMBER: True}}, 0),
        ({"users": {MEMBER: "lots"}}, 0),
        ({"users": "not a map", "users_default": 10}, 10),
    ],
)
def test_power_is_read_as_synapse_reads_it(levels: dict[str, Any], power: int) -> None:
    assert room_role(MEMBER, OWNER, _create("10"), levels).power == power


@pytest.mark.parametrize("version", ["10", "11", "12"])
def test_admins_are_non_creators_at_50_or_more(version: str) -> None:
    assert room_admins(OWNER, _create(version), _levels(version)) == [ADMIN]
    assert room_admins(OWNER, _create(version), None) == []


def test_creators_outrank_everyone_else_and_others_need_more_power() -> None:
    creator, admin, peer, member = (
        RoomRole("creator", 100),
        RoomRole("admin", 100),
        RoomRole("admin", 100),
        RoomRole("member", 0),
    )
    assert creator.outranks(admin) and creator.outranks(member)
    assert not admin.outranks(creator) and not admin.outranks(peer)
    assert admin.outranks(member) and not member.outranks(admin)
    assert not creator.outranks(RoomRole("creator", CREATOR_POWER))


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1", True),
        ("10", True),
        ("11", True),
        ("org.matrix.msc3757.11", True),
        ("12", False),
        ("org.matrix.hydra.11", False),
        ("13", None),
        ("org.example.unknown", None),
        (None, None),
        (12, None),
    ],
)
def test_an_override_names_the_creator_before_version_12_only(version: object, expected: bool | None) -> None:
    assert override_names_creator(version) is expected


@pytest.mark.parametrize(
    ("old", "new", "kept"),
    [
        ("10", "11", True),
        ("11", "12", True),
        ("12", "12", True),
        ("12", "org.matrix.hydra.11", True),
        ("12", "11", False),
        ("org.matrix.hydra.11", "10", False),
        ("12", "13", True),  # Synapse refuses a version it does not know itself
        ("12", None, True),
    ],
)
def test_a_version_12_room_is_not_moved_to_an_earlier_version(old: str, new: object, kept: bool) -> None:
    assert version_change_keeps_creators(old, new) is kept


SERVICE = "@qunzu:qunzu.test"
# Synapse's own defaults for a new room, with the service account at 100 as the module makes it.
SYNAPSE_LEVELS: dict[str, Any] = {
    "users": {OWNER: 100, SERVICE: 100},
    "events": {
        "m.room.name": 50,
        "m.room.power_levels": 100,
        "m.room.history_visibility": 100,
        "m.room.canonical_alias": 50,
        "m.room.avatar": 50,
        "m.room.tombstone": 100,
        "m.room.server_acl": 100,
        "m.room.encryption": 100,
    },
    "state_default": 50,
    "events_default": 0,
    "ban": 50,
    "kick": 50,
    "redact": 50,
    "invite": 0,
}


@pytest.mark.parametrize(
    ("change", "lost"),
    [
        ({}, None),
        ({"users": {OWNER: 100, SERVICE: 99}}, "m.room.server_acl"),
        ({"users": {OWNER: 100}}, "kick"),
        ({"users": {OWNER: 100}, "users_default": 100}, None),
        ({"kick": 101}, "kick"),
        ({"ban": 150}, "ban"),
        ({"redact": 101}, "redact"),
        ({"invite": 101}, "invite"),
        ({"state_default": 101}, "m.room.join_rules"),
        ({"events": {"m.room.join_rules": 101}}, "m.room.join_rules"),
        ({"events": {"cn.qunzu.group": 101}}, "cn.qunzu.group"),
        ({"events": {"m.room.pinned_events": "200"}}, "m.room.pinned_events"),
        ({"events_default": 101}, "m.room.message"),
        ({"events": {"m.room.redaction": 101}}, "m.room.redaction"),
        # What the platform never does in a group: upgrades and power levels stay the owner's.
        ({"events": {"m.room.tombstone": 150, "m.room.power_levels": 150}}, None),
        ({"events": {"m.room.topic": 101}}, None),
    ],
)
def test_the_platform_keeps_every_power_it_acts_with(change: dict[str, Any], lost: str | None) -> None:
    create = _create("10")
    levels = {**SYNAPSE_LEVELS, **change}
    assert platform_shortfall(SERVICE, create, room_creators(OWNER, create), levels) == lost


def test_a_creator_of_a_version_12_room_holds_every_power_the_platform_needs() -> None:
    create = _create("12", additional_creators=[SERVICE])
    creators = room_creators(OWNER, create)
    assert platform_shortfall(SERVICE, create, creators, {"kick": 10**6, "users": {}}) is None
    plain = _create("12")
    levels = {"kick": 150, "users": {SERVICE: 100}}
    assert platform_shortfall(SERVICE, plain, room_creators(OWNER, plain), levels) == "kick"


def test_a_change_may_not_take_a_power_the_service_account_holds() -> None:
    assert may_change_power_levels(None, None).allowed
    refused = may_change_power_levels(None, "kick", "why")
    assert (refused.reason, dict(refused.detail)) == (
        Reason.PROTECTED_STATE,
        {"event_type": "m.room.power_levels", "action": "kick", "explanation": "why"},
    )
    # A room made before the module, whose service account lacked a power already, stays changeable.
    assert may_change_power_levels("kick", "kick").allowed
    assert may_change_power_levels("kick", None).allowed


@pytest.mark.parametrize(
    ("sender", "target", "membership", "allowed"),
    [
        (OWNER, SERVICE, "leave", False),
        (OWNER, SERVICE, "ban", False),
        (OWNER, SERVICE, "invite", True),
        (SERVICE, SERVICE, "leave", True),  # the platform leaves a closed bot chat itself
        (OWNER, MEMBER, "ban", True),
        (MEMBER, MEMBER, "leave", True),
    ],
)
def test_nobody_else_puts_the_service_account_out(sender: str, target: str, membership: str, allowed: bool) -> None:
    decision = may_set_membership(sender, target, membership, service=SERVICE)
    assert decision.allowed is allowed
    if not allowed:
        assert decision.reason is Reason.PROTECTED_STATE and decision.detail["user"] == SERVICE
