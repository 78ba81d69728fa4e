"""Private chats are not groups until a third person comes (DESIGN.md §6.2), against the shared Synapse.

A verified person is at credit level B (cap 10 rooms created, default policy).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp

from devtools.homeserver import SynapseProcess

from .conftest import fresh_localpart
from .matrix import Matrix
from .test_groups import eventually, group_state, verified

SERVER = "localhost"
CAP_TEXT = "你创建的群数已达上限（已创建 10 个，信用等级 B 最多 10 个）。请先解散或转让不再使用的群。"


async def dm(owner: Matrix, other: Matrix, **extra: Any) -> str:
    return await owner.new_room(is_direct=True, preset="trusted_private_chat", invite=[other.user_id], **extra)


async def alias_room(account: Matrix, code: str) -> str | None:
    status, reply = await account.call("GET", f"/_matrix/client/v3/directory/room/{quote(f'#{code}:{SERVER}')}")
    return str(reply["room_id"]) if status == 200 else None


async def test_eleven_private_chats_leave_the_cap_alone_and_have_no_code_or_page(
    synapse: SynapseProcess, http_session: aiohttp.ClientSession
) -> None:
    owner = await verified(synapse, http_session, "dmowner")
    friend = await verified(synapse, http_session, "friend")
    stranger = await verified(synapse, http_session, "stranger")
    chats = [await dm(owner, friend) for _ in range(11)]

    state = await group_state(owner, chats[0])
    assert state["private_chat"] is True
    code = str(state["code"])
    assert await alias_room(stranger, code) is None  # no #<code> address
    status, reply = await stranger.qunzu("GET", f"/groups/{code}")
    assert status == 404 and reply["errcode"] == "M_NOT_FOUND"  # no page for anyone outside it
    assert (await owner.qunzu("GET", f"/groups/{code}"))[0] == 200
    # It still obeys the rules of every room: a chat between verified people works.
    assert (await owner.send_text(chats[0], "你好"))[0] == 200

    # The cap counts groups only: ten groups still fit, the eleventh does not.
    for _ in range(10):
        await owner.new_room(preset="private_chat")
    status, reply = await owner.create_room(preset="private_chat")
    assert status == 403 and reply["cn.qunzu.reason"] == "create_limit"
    assert reply["cn.qunzu.detail"] == {"cap": 10, "count": 10, "level": "B"}

    # A third person would make a chat a group: refused at the cap, with the text.
    status, reply = await owner.invite(chats[1], stranger.user_id)
    assert status == 403, reply
    assert reply["cn.qunzu.reason"] == "create_limit"
    assert reply["error"] == CAP_TEXT
    # The friend inviting a third person is counted against the owner too; so is opening the door.
    await friend.join(chats[2])
    status, reply = await friend.invite(chats[2], stranger.user_id)
    assert (status, reply["cn.qunzu.reason"]) == (403, "create_limit")
    status, reply = await owner.send_state(chats[3], "m.room.join_rules", {"join_rule": "public"})
    assert (status, reply["cn.qunzu.reason"]) == (403, "create_limit")
    assert (await group_state(owner, chats[1]))["private_chat"] is True


async def test_a_private_chat_becomes_a_group_with_a_code_when_a_third_person_is_invited(
    synapse: SynapseProcess, http_session: aiohttp.ClientSession
) -> None:
    owner = await verified(synapse, http_session, "dmowner")
    friend = await verified(synapse, http_session, "friend")
    third = await verified(synapse, http_session, "third")
    chat = await dm(owner, friend)
    code = str((await group_state(owner, chat))["code"])
    assert await alias_room(owner, code) is None

    status, reply = await owner.invite(chat, third.user_id)
    assert status == 200, reply

    async def published() -> bool:
        return "private_chat" not in await group_state(owner, chat) and await alias_room(third, code) == chat

    await eventually(published)
    assert (await group_state(owner, chat))["code"] == code  # the chat's number becomes its group code
    assert (await third.join(chat))[0] == 200
    status, page = await third.qunzu("GET", f"/groups/{code}")  # a small group's page: for its members
    assert status == 200 and page["code"] == code and page["creator"] == owner.user_id
    # It counts now: nine more groups fill the cap of ten.
    for _ in range(9):
        await owner.new_room(preset="private_chat")
    status, reply = await owner.create_room(preset="private_chat")
    assert (status, reply["cn.qunzu.detail"]["count"]) == (403, 10)


async def test_direct_chats_that_others_can_reach_are_groups_from_the_start(
    synapse: SynapseProcess, http_session: aiohttp.ClientSession
) -> None:
    owner = await verified(synapse, http_session, "dmowner")
    one = await verified(synapse, http_session, "one")
    two = Matrix(http_session, synapse.base_url, synapse.register(fresh_localpart("two")))
    public = await owner.new_room(is_direct=True, preset="public_chat", invite=[one.user_id])
    crowded = await owner.new_room(is_direct=True, invite=[one.user_id, two.user_id])
    knock = await owner.new_room(
        is_direct=True,
        invite=[one.user_id],
        initial_state=[{"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}],
    )
    for room in (public, crowded, knock):
        state = await group_state(owner, room)
        assert "private_chat" not in state
        assert await alias_room(owner, str(state["code"])) == room
