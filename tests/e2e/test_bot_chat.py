"""The bot chat stays a two-party chat between its owner and the service account (Art. 6; DESIGN.md §6.1).

It is the one chat the real-name gate leaves open, so nothing may turn it into a
room for others: not the creation request, not a state change, an invite, a join,
a knock, the room directory or an upgrade. One open verification chat per person;
leaving it closes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from devtools.homeserver import SynapseProcess

from .conftest import SharedServers, fresh_localpart
from .matrix import Matrix
from .sanction_helpers import SERVICE_USER_ID, eventually, joined_members, verified

SERVICE = SERVICE_USER_ID


async def _state(account: Matrix, room: str, event_type: str, state_key: str = "") -> tuple[int, dict[str, Any]]:
    return await account.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/state/{event_type}/{quote(state_key)}")


async def _service_messages(staff: Matrix, room: str) -> list[str]:
    status, page = await staff.call("GET", f"/_synapse/admin/v1/rooms/{quote(room)}/messages?dir=b&limit=50")
    assert status == 200, page
    return [
        str(event["content"].get("body"))
        for event in page["chunk"]
        if event.get("sender") == SERVICE and event.get("type") == "m.room.message"
    ]


async def _open_request(account: Matrix, other: str) -> tuple[int, dict[str, Any]]:
    """A verification chat asked for with everything that could open it."""
    return await account.create_room(
        is_direct=True,
        invite=[SERVICE],
        preset="public_chat",
        visibility="public",
        creation_content={"additional_creators": [other], "type": "m.space"},
        power_level_content_override={"users": {other: 100}, "invite": 0},
        initial_state=[
            {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "public"}},
            {"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "world_readable"}},
            {"type": "m.room.guest_access", "state_key": "", "content": {"guest_access": "can_join"}},
            {"type": "m.room.canonical_alias", "state_key": "", "content": {"alt_aliases": []}},
            {"type": "m.room.name", "state_key": "", "content": {"name": "我的机器人私聊"}},
        ],
    )


async def test_a_verification_chat_is_created_closed_whatever_the_request_asks(
    member: Matrix, synapse: SynapseProcess, as_user: Callable[..., Matrix]
) -> None:
    other = await verified(as_user, synapse, "other")
    status, reply = await _open_request(member, other.user_id)
    assert status == 200, reply
    room = reply["room_id"]

    assert (await _state(member, room, "m.room.join_rules"))[1]["join_rule"] == "invite"
    assert (await _state(member, room, "m.room.history_visibility"))[1]["history_visibility"] == "shared"
    assert (await _state(member, room, "m.room.guest_access"))[1]["guest_access"] == "forbidden"
    assert (await _state(member, room, "m.room.name"))[1]["name"] == "我的机器人私聊"  # its looks stay free
    create = (await _state(member, room, "m.room.create"))[1]
    assert other.user_id not in create.get("additional_creators", [])
    assert "type" not in create
    assert create["cn.qunzu.bot_chat_owner"] == member.user_id
    levels = (await _state(member, room, "m.room.power_levels"))[1]
    assert other.user_id not in levels.get("users", {})
    # Not in the public room directory either.
    status, listed = await member.call("GET", f"/_matrix/client/v3/directory/list/room/{quote(room)}")
    assert listed["visibility"] == "private"
    # The unverified owner still asks the bot how to verify.
    assert (await member.send_text(room, "!verify"))[0] == 200


async def test_nobody_else_gets_into_a_bot_chat(
    synapse: SynapseProcess, as_user: Callable[..., Matrix], staff: Matrix
) -> None:
    owner = await verified(as_user, synapse, "owner")
    stranger = await verified(as_user, synapse, "stranger")
    room = await owner.new_room(is_direct=True, invite=[SERVICE])
    await eventually(lambda: _joined(staff, room, SERVICE), what="the service account in the chat")

    # An invite by the owner is refused with the reason.
    status, reply = await owner.invite(room, stranger.user_id)
    assert status == 403, reply
    assert reply["cn.qunzu.reason"] == "bot_chat_private"
    assert "只属于你和机器人" in reply["error"]
    # A member event through the state API is an invite too.
    status, reply = await owner.send_state(room, "m.room.member", {"membership": "invite"}, stranger.user_id)
    assert status == 403, reply
    # Joining and knocking are refused.
    status, reply = await stranger.join(room)
    assert status == 403, reply
    assert reply["cn.qunzu.reason"] == "bot_chat_private"
    status, reply = await stranger.call("POST", f"/_matrix/client/v3/knock/{quote(room)}", {})
    assert status == 403, reply
    # An invite by e-mail is refused before any identity server is asked.
    body = {"id_server": "127.0.0.1:1", "id_access_token": "x", "medium": "email", "address": "a@example.org"}
    status, reply = await owner.call("POST", f"/_matrix/client/v3/rooms/{quote(room)}/invite", body)
    assert status == 403, reply
    assert "can not be invited" in reply["error"]

    # An alias pointing at it (no module callback sees the room there) leads nobody in.
    alias = f"#{fresh_localpart('botchat')}:localhost"
    status, reply = await owner.call("PUT", f"/_matrix/client/v3/directory/room/{quote(alias)}", {"room_id": room})
    assert status == 200, reply
    status, reply = await stranger.join(alias)
    assert status == 403, reply
    assert reply.get("cn.qunzu.reason") == "bot_chat_private"

    assert sorted(await joined_members(staff, room)) == sorted([owner.user_id, SERVICE])
    status, members = await staff.call("GET", f"/_synapse/admin/v1/rooms/{quote(room)}/state")
    memberships = {
        event["state_key"]: event["content"]["membership"]
        for event in members["state"]
        if event["type"] == "m.room.member"
    }
    assert stranger.user_id not in memberships


async def _joined(staff: Matrix, room: str, user_id: str) -> bool:
    return user_id in await joined_members(staff, room)


async def test_a_bot_chat_cannot_be_opened_published_or_upgraded(
    synapse: SynapseProcess, as_user: Callable[..., Matrix], staff: Matrix
) -> None:
    owner = await verified(as_user, synapse, "owner")
    room = await owner.new_room(is_direct=True, invite=[SERVICE])
    await eventually(lambda: _joined(staff, room, SERVICE), what="the service account in the chat")

    changes: list[tuple[str, dict[str, Any]]] = [
        ("m.room.join_rules", {"join_rule": "public"}),
        ("m.room.join_rules", {"join_rule": "knock"}),
        ("m.room.history_visibility", {"history_visibility": "world_readable"}),
        ("m.room.guest_access", {"guest_access": "can_join"}),
        ("m.room.canonical_alias", {"alias": f"#x{fresh_localpart()}:localhost"}),
        ("m.room.server_acl", {"allow": ["*"]}),
        ("m.space.parent", {"via": ["localhost"]}),
    ]
    for event_type, content in changes:
        status, reply = await owner.send_state(room, event_type, content)
        assert status == 403, (event_type, reply)
        # The server ACL is kept by the platform in every room (docs/realname.md, federation).
        expected = "protected_state" if event_type == "m.room.server_acl" else "bot_chat_private"
        assert reply["cn.qunzu.reason"] == expected, reply
        assert reply["cn.qunzu.detail"] == {"event_type": event_type}
    status, levels = await _state(owner, room, "m.room.power_levels")
    levels["invite"] = 0
    status, reply = await owner.send_state(room, "m.room.power_levels", levels)
    assert status == 403 and reply["cn.qunzu.reason"] == "bot_chat_private", reply
    assert (await _state(owner, room, "m.room.join_rules"))[1]["join_rule"] == "invite"

    status, reply = await owner.call(
        "PUT", f"/_matrix/client/v3/directory/list/room/{quote(room)}", {"visibility": "public"}
    )
    assert status == 403, reply
    assert reply["cn.qunzu.reason"] == "bot_chat_private"
    status, listed = await owner.call("GET", f"/_matrix/client/v3/directory/list/room/{quote(room)}")
    assert listed["visibility"] == "private"

    status, reply = await owner.call("POST", f"/_matrix/client/v3/rooms/{quote(room)}/upgrade", {"new_version": "12"})
    assert status == 403, reply
    assert reply["cn.qunzu.reason"] == "bot_chat_private"
    status, _ = await _state(owner, room, "m.room.tombstone")
    assert status == 404  # no tombstone, no new room
    # The chat's looks stay the owner's.
    assert (await owner.send_state(room, "m.room.topic", {"topic": "与机器人的私聊"}))[0] == 200


async def test_a_second_verification_chat_sends_the_person_back_to_theirs(member: Matrix, staff: Matrix) -> None:
    status, reply = await member.create_room(is_direct=True, invite=[SERVICE])
    assert status == 200, reply
    first = reply["room_id"]
    await eventually(lambda: _joined(staff, first, SERVICE), what="the service account in the chat")

    status, reply = await member.create_room(is_direct=True, invite=[SERVICE])
    assert status == 403, reply
    assert reply["cn.qunzu.reason"] == "bot_chat_exists"
    assert reply["cn.qunzu.detail"] == {"room_id": first}
    assert first in reply["error"] and "!verify" in reply["error"]
    # Clients may hide that text: the bot says it in the chat they have, as an unread message.
    said = await _service_messages(staff, first)
    assert any("每人只有一个，就是这里" in body for body in said), said
    status, rooms = await member.call("GET", "/_matrix/client/v3/joined_rooms")
    assert rooms["joined_rooms"] == [first]  # nothing new was created


async def test_at_once_only_one_verification_chat_is_created(
    synapse: SynapseProcess, as_user: Callable[..., Matrix]
) -> None:
    person = as_user(synapse.register(fresh_localpart("racer")))
    replies = await asyncio.gather(*(person.create_room(is_direct=True, invite=[SERVICE]) for _ in range(6)))
    created = [reply for status, reply in replies if status == 200]
    refused = [reply for status, reply in replies if status != 200]
    assert len(created) == 1, replies
    assert len(refused) == 5
    assert {reply["cn.qunzu.reason"] for reply in refused} == {"bot_chat_exists"}
    _status, rooms = await person.call("GET", "/_matrix/client/v3/joined_rooms")
    assert rooms["joined_rooms"] == [created[0]["room_id"]]


async def test_leaving_the_verification_chat_closes_it_and_a_new_one_can_be_opened(
    member: Matrix, staff: Matrix
) -> None:
    first = await member.new_room(is_direct=True, invite=[SERVICE])
    await eventually(lambda: _joined(staff, first, SERVICE), what="the service account in the chat")
    status, reply = await member.call("POST", f"/_matrix/client/v3/rooms/{quote(first)}/leave", {})
    assert status == 200, reply
    # At once: the person is no longer in it, so it is not theirs any more.
    second = await member.new_room(is_direct=True, invite=[SERVICE])
    assert second != first
    # The old chat is left empty for good: the service account leaves it too.
    await eventually(lambda: _empty(staff, first), what="the service account leaving the closed chat")
    # Refused by the module (403), or, once nobody of this server is left in it, by Synapse (404).
    status, reply = await member.join(first)
    assert status in (403, 404), reply
    assert not await joined_members(staff, first)
    assert (await member.send_text(second, "!verify"))[0] == 200


async def _empty(staff: Matrix, room: str) -> bool:
    return not await joined_members(staff, room)


async def test_forged_bot_chat_marks_are_removed(member: Matrix, staff: Matrix) -> None:
    verified_status, _ = await member.verify()
    assert verified_status == 200
    room = await member.new_room(
        creation_content={
            "cn.qunzu.notices": True,
            "cn.qunzu.verification_dm": True,
            "cn.qunzu.bot_chat_owner": member.user_id,
        }
    )
    create = (await _state(member, room, "m.room.create"))[1]
    assert not {"cn.qunzu.notices", "cn.qunzu.verification_dm", "cn.qunzu.bot_chat_owner"} & set(create)
    # An ordinary group: the owner may open it up.
    status, reply = await member.send_state(room, "m.room.join_rules", {"join_rule": "public"})
    assert status == 200, reply


@pytest.mark.postgres
async def test_at_once_only_one_verification_chat_is_created_on_postgresql(
    shared_servers: SharedServers, http_session: aiohttp.ClientSession
) -> None:
    server = shared_servers.postgres()
    person = Matrix(http_session, server.base_url, server.register(fresh_localpart("racer")))
    replies = await asyncio.gather(*(person.create_room(is_direct=True, invite=[SERVICE]) for _ in range(6)))
    assert sorted(status for status, _reply in replies) == [200, 403, 403, 403, 403, 403], replies
    assert {reply.get("cn.qunzu.reason") for status, reply in replies if status == 403} == {"bot_chat_exists"}
