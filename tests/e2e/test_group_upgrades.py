"""Room upgrades and tombstones (Art. 5, 8, 11) against a real Synapse.

An upgrade creates a room: it is vetted like a creation and refused for a room under
a measure, before Synapse makes the new room or sends the old room's tombstone. A
tombstone made by hand never moves a group out from under its freezes and approval.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote

import pytest

from devtools.homeserver import SynapseProcess
from policies.display import format_time

from .conftest import fresh_localpart
from .matrix import Matrix, Reply
from .sanction_helpers import SERVICE_USER_ID, eventually, sanction, set_power, verified


async def upgrade(account: Matrix, room_id: str, version: str = "12") -> Reply:
    return await account.call("POST", f"/_matrix/client/v3/rooms/{quote(room_id)}/upgrade", {"new_version": version})


async def state(account: Matrix, room_id: str, event_type: str) -> Reply:
    return await account.call("GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/state/{event_type}/")


async def code_of(account: Matrix, room_id: str) -> str:
    status, group = await state(account, room_id, "cn.qunzu.group")
    assert status == 200, group
    return str(group["code"])


async def alias_target(account: Matrix, code: str) -> str | None:
    status, reply = await account.call("GET", f"/_matrix/client/v3/directory/room/{quote(f'#{code}:localhost')}")
    return str(reply["room_id"]) if status == 200 else None


async def joined_rooms(account: Matrix) -> set[str]:
    status, reply = await account.call("GET", "/_matrix/client/v3/joined_rooms")
    assert status == 200, reply
    return set(reply["joined_rooms"])


async def rooms_created_by(staff: Matrix, user_id: str) -> set[str]:
    """Rooms on the server (admin API) whose creator is the user."""
    status, reply = await staff.call("GET", "/_synapse/admin/v1/rooms?limit=100000")
    assert status == 200, reply
    return {room["room_id"] for room in reply["rooms"] if room["creator"] == user_id}


class Snapshot:
    """What must stay exactly as it was when an upgrade is refused."""

    def __init__(self, owner: Matrix, staff: Matrix, room_id: str) -> None:
        self.owner, self.staff, self.room_id = owner, staff, room_id
        self.code = ""
        self.joined: set[str] = set()
        self.rooms: set[str] = set()

    async def take(self) -> Snapshot:
        self.code = await code_of(self.owner, self.room_id)
        self.joined = await joined_rooms(self.owner)
        self.rooms = await rooms_created_by(self.staff, self.owner.user_id)
        return self

    async def assert_unchanged(self) -> None:
        status, tombstone = await state(self.owner, self.room_id, "m.room.tombstone")
        assert status == 404, tombstone
        assert await joined_rooms(self.owner) == self.joined
        assert await rooms_created_by(self.staff, self.owner.user_id) == self.rooms
        assert await alias_target(self.owner, self.code) == self.room_id


def assert_refused(reply: Reply, reason: str) -> dict[str, Any]:
    status, body = reply
    assert status == 403, body
    assert body["cn.qunzu.reason"] == reason, body
    assert body["error"] != "You are not permitted to create rooms"  # our text, in the configured language
    return body


@contextlib.asynccontextmanager
async def frozen(staff: Matrix, scope: str) -> AsyncIterator[None]:
    status, record = await staff.qunzu("POST", "/admin/emergency", {"scope": scope, "reason": "应急演练"})
    assert status == 200, record
    try:
        yield
    finally:
        status, lifted = await staff.qunzu("DELETE", f"/admin/emergency/{record['id']}", {"reason": "演练结束"})
        assert status == 200, lifted


# --- refused upgrades leave nothing behind ----------------------------------------------------------


async def test_an_unverified_admin_cannot_upgrade_a_room(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix, member: Matrix
) -> None:
    owner = await verified(as_user, synapse, "owner")
    # Before room version 12 an admin with power 100 may upgrade (from 12 on, only creators).
    room = await owner.new_room(name="升级测试", preset="public_chat", room_version="11")
    assert (await member.join(room))[0] == 200  # joining a small room needs no real name
    await set_power(owner, room, {member.user_id: 100})
    before = await Snapshot(member, staff, room).take()
    body = assert_refused(await upgrade(member, room), "realname_required")
    assert "实名" in body["error"]
    await before.assert_unchanged()


async def test_an_owner_whose_creation_right_is_revoked_cannot_upgrade(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    owner = await verified(as_user, synapse, "owner")
    room = await owner.new_room(name="升级测试")
    record = await sanction(staff, "user", owner.user_id, "creation_revoked", duration="30d")
    before = await Snapshot(owner, staff, room).take()
    body = assert_refused(await upgrade(owner, room), "create_revoked")
    await before.assert_unchanged()
    # The refusal says when the right comes back, and which measure to appeal.
    assert body["cn.qunzu.detail"]["until"] == record["end"] and body["cn.qunzu.detail"]["ref"] == record["id"]
    ends = format_time(record["end"])
    assert body["error"].startswith(f"你的建群资格已被取消，恢复时间：{ends}。"), body["error"]
    status, created = await owner.create_room(name="新群")
    assert status == 403 and created["cn.qunzu.reason"] == "create_revoked", created
    assert f"恢复时间：{ends}" in created["error"], created["error"]


async def test_an_upgrade_replaces_a_room_so_only_an_owner_above_the_cap_is_refused(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    # Level C may own 3 rooms: an owner of 3 may still upgrade one, an owner of 4 may not.
    above = await verified(as_user, synapse, "owner")
    at_cap = await verified(as_user, synapse, "owner")
    rooms = {above.user_id: [await above.new_room() for _ in range(4)]}
    rooms[at_cap.user_id] = [await at_cap.new_room() for _ in range(3)]
    for owner in (above, at_cap):
        body = {"delta": -25, "reason": "测试降级"}
        status, change = await staff.qunzu("POST", f"/admin/users/{owner.user_id}/credit", body)
        assert status == 200 and change["level"] == "C", change

    before = await Snapshot(above, staff, rooms[above.user_id][0]).take()
    body = assert_refused(await upgrade(above, rooms[above.user_id][0]), "create_limit")
    assert body["cn.qunzu.detail"] == {"cap": 3, "count": 4, "level": "C", "upgrade": True}
    await before.assert_unchanged()
    # Synapse wrote a `rooms` row for the refused upgrade's room: the backfill of codes leaves it alone.
    status, run = await staff.qunzu("POST", "/admin/jobs/backfill_group_codes", {})
    assert status == 200, run
    status, refused = await above.create_room(name="第五个")
    assert refused.get("cn.qunzu.detail", {}).get("count") == 4, refused

    status, reply = await upgrade(at_cap, rooms[at_cap.user_id][0])
    assert status == 200, reply
    # The group moved: the owner still owns 3 rooms, so a fourth creation is refused as before.
    status, refused = await at_cap.create_room(name="第四个")
    assert refused.get("cn.qunzu.detail", {}).get("count") == 3, refused


async def test_a_posting_suspended_room_cannot_be_upgraded(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    owner = await verified(as_user, synapse, "owner")
    room = await owner.new_room(name="整改中", preset="public_chat", room_version="11")
    assert (await staff.join(room))[0] == 200
    await set_power(owner, room, {staff.user_id: 100})
    await sanction(staff, "room", room, "posting_suspension", duration="1h")
    before = await Snapshot(owner, staff, room).take()
    assert_refused(await upgrade(owner, room), "posting_suspended_room")
    await before.assert_unchanged()
    # Server admins too: the measure would stay behind in the old room.
    staff_before = await Snapshot(staff, staff, room).take()
    assert_refused(await upgrade(staff, room), "posting_suspended_room")
    await staff_before.assert_unchanged()
    # Nor may a new room present itself as the room's continuation.
    successor = {"predecessor": {"room_id": room}}
    assert_refused(await owner.create_room(name="另起炉灶", creation_content=successor), "posting_suspended_room")
    await before.assert_unchanged()


async def test_a_room_under_a_category_freeze_cannot_be_upgraded(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    owner = await verified(as_user, synapse, "owner")
    room = await owner.new_room(name="兴趣群", creation_content={"cn.qunzu.category": "interest"})
    before = await Snapshot(owner, staff, room).take()
    async with frozen(staff, "category:interest"):
        assert_refused(await upgrade(owner, room), "emergency_freeze")
    await before.assert_unchanged()


# --- legitimate upgrades ------------------------------------------------------------------------------


@pytest.mark.parametrize(("old_version", "new_version"), [("10", "11"), ("11", "12"), ("12", "12")])
async def test_an_upgrade_carries_the_group_in_every_room_version(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, old_version: str, new_version: str
) -> None:
    owner = await verified(as_user, synapse, "owner")
    room = await owner.new_room(name="版本升级", room_version=old_version)
    code = await code_of(owner, room)
    status, reply = await upgrade(owner, room, new_version)
    assert status == 200, reply
    new_room = reply["replacement_room"]

    async def carried() -> bool:
        status, group = await state(owner, new_room, "cn.qunzu.group")
        return status == 200 and group.get("code") == code

    await eventually(carried, what="the group in the new room")
    assert await alias_target(owner, code) == new_room
    status, page = await owner.qunzu("GET", f"/groups/{code}")
    assert status == 200 and page["room_id"] == new_room
    status, levels = await state(owner, new_room, "m.room.power_levels")
    assert status == 200, levels
    # Room version 12 makes creators all-powerful and keeps them out of `users`; before, they are in it.
    if new_version == "12":
        assert owner.user_id not in levels["users"]
    else:
        assert levels["users"][owner.user_id] == 100
    assert levels["users"][SERVICE_USER_ID] == 100
    assert (await owner.send_text(new_room, "新群照常"))[0] == 200


async def test_the_backfill_leaves_a_new_upgrade_to_its_group(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    owner = await verified(as_user, synapse, "owner")
    room = await owner.new_room(name="补码之前")
    code = await code_of(owner, room)
    status, reply = await upgrade(owner, room)
    assert status == 200, reply
    new_room = reply["replacement_room"]
    # Right after the upgrade, before the follower carries the group over.
    status, run = await staff.qunzu("POST", "/admin/jobs/backfill_group_codes", {})
    assert status == 200, run

    async def carried() -> bool:
        status, group = await state(owner, new_room, "cn.qunzu.group")
        return status == 200 and group.get("code") == code

    await eventually(carried, what="the group in the new room")
    status, page = await owner.qunzu("GET", f"/groups/{code}")
    assert status == 200 and page["room_id"] == new_room
    # Nor does the old room, which its group left, get a code (and a place in the owner's count).
    status, run = await staff.qunzu("POST", "/admin/jobs/backfill_group_codes", {})
    assert status == 200, run
    assert await code_of(owner, room) == code


async def test_the_new_room_keeps_join_approval_from_its_first_moment(
    as_user: Callable[..., Matrix], synapse: SynapseProcess
) -> None:
    owner = await verified(as_user, synapse, "owner")
    room = await owner.new_room(name="新闻群", creation_content={"cn.qunzu.category": "news"})
    status, reply = await upgrade(owner, room)
    assert status == 200, reply
    new_room = reply["replacement_room"]
    # Right away, before or after the group is carried over: a high-risk category stays on knock.
    refused = assert_refused(
        await owner.send_state(new_room, "m.room.join_rules", {"join_rule": "public"}), "join_approval_required"
    )
    assert refused["cn.qunzu.detail"]["category"] == "news"
    status, rules = await state(owner, new_room, "m.room.join_rules")
    assert status == 200 and rules["join_rule"] == "knock"


# --- hand-made tombstones ------------------------------------------------------------------------------


async def test_hand_made_tombstones_are_refused_and_the_group_stays_gated_and_freezable(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix, member: Matrix
) -> None:
    owner = await verified(as_user, synapse, "owner")
    room = await owner.new_room(name="新闻群", preset="public_chat", creation_content={"cn.qunzu.category": "news"})
    other = await owner.new_room(name="别的群")
    # A room made with createRoom that names this one as predecessor is a group of its own.
    claimed = await owner.new_room(name="冒名接替", creation_content={"predecessor": {"room_id": room}})
    code = await code_of(owner, room)
    for replacement in ("!doesnotexist:localhost", other, claimed):
        body = {"body": "本群已迁移", "replacement_room": replacement}
        refused = assert_refused(await owner.send_state(room, "m.room.tombstone", body), "protected_state")
        assert refused["cn.qunzu.detail"]["event_type"] == "m.room.tombstone"
    status, _ = await state(owner, room, "m.room.tombstone")
    assert status == 404

    status, page = await owner.qunzu("GET", f"/groups/{code}")
    assert status == 200 and page["room_id"] == room and page["category"] == "news"
    assert_refused(await member.join(room), "join_approval_required")
    async with frozen(staff, "category:news"):
        assert_refused(await owner.send_text(room, "冻结中"), "emergency_freeze")


async def test_a_tombstone_in_the_initial_state_does_not_move_the_group(
    as_user: Callable[..., Matrix], synapse: SynapseProcess
) -> None:
    # Synapse does not spam-check the initial state: the registry decides on its own.
    owner = await verified(as_user, synapse, "owner")
    tombstone = {"type": "m.room.tombstone", "state_key": "", "content": {"replacement_room": "!gone:localhost"}}
    room = await owner.new_room(name="出生即迁移", initial_state=[tombstone])
    code = await code_of(owner, room)

    async def service_joined() -> bool:
        status, reply = await owner.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/joined_members")
        return status == 200 and SERVICE_USER_ID in reply["joined"]

    # The follower handles the room's events in order: the service account's join comes after the tombstone.
    await eventually(service_joined, what="the service account in the room")
    status, page = await owner.qunzu("GET", f"/groups/{code}")
    assert status == 200 and page["room_id"] == room


# --- creators besides the sender (room version 12, MSC4289) ------------------------------------------


async def test_only_verified_people_under_no_measure_become_co_creators(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    """A creator's power cannot be taken away: `additional_creators` are vetted at creation and upgrade."""
    owner = await verified(as_user, synapse, "owner")
    partner = await verified(as_user, synapse, "partner")
    stranger = as_user(synapse.register(fresh_localpart("nobody")), synapse)  # never verified
    suspended = await verified(as_user, synapse, "suspended")
    await sanction(staff, "user", suspended.user_id, "admin_suspension", duration="1d")
    joined_before = await joined_rooms(owner)

    for refused in (stranger, suspended):
        creation = {"additional_creators": [partner.user_id, refused.user_id]}
        status, body = await owner.create_room(room_version="12", creation_content=creation)
        assert status == 403, body
        assert body["cn.qunzu.reason"] == "protected_state", body
        assert body["cn.qunzu.detail"]["user"] == refused.user_id, body
        assert refused.user_id in body["error"] and "共同创建者" in body["error"], body
    assert await joined_rooms(owner) == joined_before  # nothing was made

    status, reply = await owner.create_room(
        room_version="12", creation_content={"additional_creators": [partner.user_id]}
    )
    assert status == 200, reply
    status, create = await state(owner, reply["room_id"], "m.room.create")
    assert create["additional_creators"] == [partner.user_id], create

    room = await owner.new_room(name="升级共建", room_version="11")
    before = await Snapshot(owner, staff, room).take()
    request = {"new_version": "12", "additional_creators": [stranger.user_id]}
    status, body = await owner.call("POST", f"/_matrix/client/v3/rooms/{quote(room)}/upgrade", request)
    assert status == 403, body
    assert body["cn.qunzu.detail"]["user"] == stranger.user_id, body
    await before.assert_unchanged()


async def test_a_trusted_private_chat_with_an_unverified_invitee_gives_them_no_creator_power(
    as_user: Callable[..., Matrix], synapse: SynapseProcess
) -> None:
    """The preset's creators are a client's convenience: the chat is made, the invitee is a plain member."""
    owner = await verified(as_user, synapse, "owner")
    stranger = as_user(synapse.register(fresh_localpart("nobody")), synapse)
    status, reply = await owner.create_room(
        room_version="12", preset="trusted_private_chat", is_direct=True, invite=[stranger.user_id]
    )
    assert status == 200, reply
    status, create = await state(owner, reply["room_id"], "m.room.create")
    assert stranger.user_id not in create.get("additional_creators", []), create
    status, levels = await state(owner, reply["room_id"], "m.room.power_levels")
    assert levels.get("users", {}).get(stranger.user_id, levels.get("users_default", 0)) == 0, levels
