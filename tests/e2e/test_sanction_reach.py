"""Sanctions reach every path to their effect (Art. 9, 11), on a real Synapse.

- A room admin's mute binds the person: every account of the verified identity, in that room.
- A suspended admin cannot redact others' messages, nor kick in a room created a moment ago.
- A muted person cannot post through reactions, edits or state events either.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from devtools.homeserver import SynapseProcess

from .identities import fresh_id_number
from .matrix import Matrix
from .sanction_helpers import eventually, joined_members, notices, sanction, set_power, verified


async def _moderate(staff: Matrix, room: str, **body: Any) -> dict[str, Any]:
    status, reply = await staff.qunzu("POST", f"/admin/rooms/{quote(room)}/moderate", body)
    assert status == 200, reply
    return reply


async def _send(account: Matrix, room: str, event_type: str, content: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    path = f"/_matrix/client/v3/rooms/{quote(room)}/send/{event_type}/{secrets.token_hex(8)}"
    return await account.call("PUT", path, content)


async def _redact(account: Matrix, room: str, event_id: str) -> tuple[int, dict[str, Any]]:
    path = f"/_matrix/client/v3/rooms/{quote(room)}/redact/{quote(event_id)}/{secrets.token_hex(8)}"
    return await account.call("PUT", path, {"reason": "删除"})


async def _body(account: Matrix, room: str, event_id: str) -> Any:
    status, event = await account.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/event/{quote(event_id)}")
    assert status == 200, event
    return event["content"].get("body")


# --- a room admin's mute follows the identity (Art. 9, 11) ------------------------------------------


async def test_a_room_mute_binds_every_account_of_the_identity_in_that_room_only(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    number = fresh_id_number()
    first = await verified(as_user, synapse, "first", id_number=number)
    second = await verified(as_user, synapse, "second", id_number=number)
    room = await staff.new_room(name="读书会", preset="public_chat")
    other = await staff.new_room(name="跑步群", preset="public_chat")
    for account in (first, second):
        for joined in (room, other):
            assert (await account.join(joined))[0] == 200
    # The second account was read before the mute: no cached "not muted" may survive it.
    assert (await second.send_text(room, "我还能说话"))[0] == 200

    mute = await _moderate(staff, room, action="mute", target=first.user_id, duration="1h", reason="刷屏")
    for account in (first, second):
        status, reply = await account.send_text(room, "换个账号继续说")
        assert status == 403, reply
        assert reply["cn.qunzu.reason"] == "posting_suspended_user"
        # The refusal names the room mute to appeal (`!appeal rm_…`).
        assert reply["cn.qunzu.detail"] == {"until": mute["until"], "permanent": False, "ref": mute["id"]}
        assert f"!appeal {mute['id']} <理由>" in reply["error"]
        assert "禁言" in reply["error"]
        # A room mute holds in that room only.
        assert (await account.send_text(other, "这里可以说话"))[0] == 200

    # Unmuting either account lifts the person's mute.
    lifted = await _moderate(staff, room, action="unmute", target=second.user_id, reason="已改正")
    assert lifted["lifted"] == 1
    for account in (first, second):
        assert (await account.send_text(room, "我回来了"))[0] == 200


async def test_an_account_verified_after_the_mute_is_muted_too(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    number = fresh_id_number()
    first = await verified(as_user, synapse, "first", id_number=number)
    later = as_user(synapse.register(f"later{secrets.token_hex(4)}"))
    room = await staff.new_room(name="读书会", preset="public_chat")
    for account in (first, later):
        assert (await account.join(room))[0] == 200
    status, reply = await later.send_text(room, "还没实名")
    assert status == 403 and reply["cn.qunzu.reason"] == "realname_required"
    await _moderate(staff, room, action="mute", target=first.user_id, duration="1h", reason="刷屏")

    status, reply = await later.verify(id_number=number)
    assert status == 200, reply
    status, reply = await later.send_text(room, "新账号来说")
    assert status == 403, reply
    assert reply["cn.qunzu.reason"] == "posting_suspended_user"


# --- a suspended admin (Art. 11 暂停管理权限) ---------------------------------------------------------


async def test_a_suspended_admin_cannot_redact_others_messages_but_their_own(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    owner = await verified(as_user, synapse, "owner")
    admin = await verified(as_user, synapse, "adm")
    member = await verified(as_user, synapse, "member")
    room = await owner.new_room(name="管理测试群", preset="public_chat")
    for person in (admin, member):
        assert (await person.join(room))[0] == 200
    await set_power(owner, room, {admin.user_id: 50})
    status, theirs = await member.send_text(room, "一条普通消息")
    assert status == 200
    status, mine = await admin.send_text(room, "管理员自己的消息")
    assert status == 200
    record = await sanction(staff, "user", admin.user_id, "admin_suspension", duration="1d")

    status, reply = await _redact(admin, room, theirs["event_id"])
    assert status == 403, reply
    assert reply["cn.qunzu.reason"] == "admin_suspended"
    assert reply["cn.qunzu.detail"] == {"until": record["end"], "permanent": False, "ref": record["id"]}
    assert "管理权限" in reply["error"]
    assert await _body(member, room, theirs["event_id"]) == "一条普通消息"  # still there
    # An event id the server does not have cannot be shown to be their own.
    status, reply = await _redact(admin, room, "$not-an-event-here")
    assert status == 403 and reply["cn.qunzu.reason"] == "admin_suspended", reply

    status, reply = await _redact(admin, room, mine["event_id"])
    assert status == 200, reply
    assert await _body(member, room, mine["event_id"]) is None  # own messages may still go
    # Another admin in good standing still redacts.
    status, reply = await _redact(owner, room, theirs["event_id"])
    assert status == 200, reply


async def test_a_suspended_admin_cannot_kick_in_a_room_created_moments_before(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    admin = await verified(as_user, synapse, "adm")
    member = await verified(as_user, synapse, "member")
    record = await sanction(staff, "user", admin.user_id, "admin_suspension", duration="1d")
    # Creating a room is not an admin function: its initial state is set up as usual.
    room = await admin.new_room(name="新群", topic="刚建的群", preset="public_chat")
    assert (await member.join(room))[0] == 200

    status, reply = await admin.call(
        "POST", f"/_matrix/client/v3/rooms/{quote(room)}/kick", {"user_id": member.user_id}
    )
    assert status == 403, reply
    assert reply["cn.qunzu.reason"] == "admin_suspended"
    assert reply["cn.qunzu.detail"] == {"until": record["end"], "permanent": False}
    assert member.user_id in await joined_members(staff, room)
    status, reply = await admin.call("POST", f"/_matrix/client/v3/rooms/{quote(room)}/ban", {"user_id": member.user_id})
    assert status == 403 and reply["cn.qunzu.reason"] == "admin_suspended", reply
    # Nor the room's settings: its name, its power levels.
    status, reply = await admin.send_state(room, "m.room.name", {"name": "改名"})
    assert status == 403 and reply["cn.qunzu.reason"] == "admin_suspended", reply
    status, levels = await admin.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.power_levels/")
    levels.setdefault("users", {})[member.user_id] = 50
    status, reply = await admin.send_state(room, "m.room.power_levels", levels)
    assert status == 403 and reply["cn.qunzu.reason"] == "admin_suspended", reply
    # Posting is no admin function.
    assert (await admin.send_text(room, "我还能发言"))[0] == 200


# --- a muted person, on every path to posting -----------------------------------------------------------


async def test_a_muted_person_cannot_post_by_reaction_edit_or_state(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    owner = await verified(as_user, synapse, "owner")
    member = await verified(as_user, synapse, "member")
    room = await owner.new_room(name="禁言测试群", preset="public_chat")
    assert (await member.join(room))[0] == 200
    status, sent = await member.send_text(room, "禁言前的消息")
    assert status == 200
    await set_power(owner, room, {member.user_id: 50})
    await sanction(staff, "user", member.user_id, "mute", duration="1d")

    attempts: list[tuple[str, dict[str, Any]]] = [
        ("m.reaction", {"m.relates_to": {"rel_type": "m.annotation", "event_id": sent["event_id"], "key": "广告"}}),
        (
            "m.room.message",
            {
                "msgtype": "m.text",
                "body": "* 改过的内容",
                "m.new_content": {"msgtype": "m.text", "body": "改过的内容"},
                "m.relates_to": {"rel_type": "m.replace", "event_id": sent["event_id"]},
            },
        ),
        ("m.sticker", {"body": "贴纸", "url": "mxc://localhost/x", "info": {}}),
    ]
    for event_type, content in attempts:
        status, reply = await _send(member, room, event_type, content)
        assert status == 403, (event_type, reply)
        assert reply["cn.qunzu.reason"] == "posting_suspended_user"
    for event_type, content in [("m.room.topic", {"topic": "禁言者写的公告"}), ("m.room.name", {"name": "改名"})]:
        status, reply = await member.send_state(room, event_type, content)
        assert status == 403, (event_type, reply)
        assert reply["cn.qunzu.reason"] == "posting_suspended_user"
    # A per-room name or a kick reason set through the state API is shown in the timeline like a message.
    own = f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.member/{quote(member.user_id)}"
    status, current = await member.call("GET", own)
    assert status == 200, current
    status, reply = await member.call("PUT", own, {**current, "displayname": "禁言者的新群昵称"})
    assert (status, reply.get("cn.qunzu.reason")) == (403, "posting_suspended_user"), reply
    # A new per-room avatar is a picture shown in the timeline the same way.
    status, reply = await member.call("PUT", own, {**current, "avatar_url": "mxc://localhost/avatar"})
    assert (status, reply.get("cn.qunzu.reason")) == (403, "posting_suspended_user"), reply
    # What the room already shows is nothing new: a client sending its membership again passes.
    status, reply = await member.call("PUT", own, current)
    assert status == 200, reply
    status, shown = await owner.call("GET", own)
    assert shown.get("displayname") == current.get("displayname"), shown
    # A new global name or avatar would be copied into the timeline of each of their rooms: it is
    # set back to what the rooms show before Synapse answers, and the rooms keep showing it.
    for field, value in (("displayname", "禁言者的新名字"), ("avatar_url", "mxc://localhost/muted-avatar")):
        path = f"/_matrix/client/v3/profile/{quote(member.user_id)}/{field}"
        status, reply = await member.call("PUT", path, {field: value})
        assert status == 200, reply
        status, reply = await member.call("GET", path)
        assert reply.get(field) == current.get(field), (field, reply)
        await asyncio.sleep(1)  # Synapse copies profile changes into rooms in a background task
        status, shown = await owner.call("GET", own)
        assert shown.get(field) == current.get(field), (field, shown)
    # Joining with a per-room name in the body (Synapse builds that event without asking): taken down
    # within moments, the membership stands; a plain join carries the global name and stands.
    plain, named = await owner.new_room(preset="public_chat"), await owner.new_room(preset="public_chat")
    assert (await member.join(plain))[0] == 200
    join_path = f"/_matrix/client/v3/join/{quote(named)}"
    assert (await member.call("POST", join_path, {"displayname": "禁言者的群昵称"}))[0] == 200

    async def looks_gone() -> bool:
        path = f"/_matrix/client/v3/rooms/{quote(named)}/state/m.room.member/{quote(member.user_id)}"
        status, event = await owner.call("GET", path)
        return status == 200 and event == {"membership": "join"}

    await eventually(looks_gone, what="the muted person's per-room name taken down")
    status, group = await owner.call("GET", f"/_matrix/client/v3/rooms/{quote(named)}/state/cn.qunzu.group/")
    assert status == 200, group

    async def told() -> list[str] | None:
        found = [body for body in await notices(member) if "你的群昵称或成员变动" in body and group["code"] in body]
        return found or None

    (body,) = await eventually(told, what="the notice of the per-room name taken down")
    assert "暂停发布" in body or "禁言" in body, body
    plain_path = f"/_matrix/client/v3/rooms/{quote(plain)}/state/m.room.member/{quote(member.user_id)}"
    status, event = await owner.call("GET", plain_path)
    assert event.get("displayname") == current.get("displayname"), event  # the follower went past it already
    # Staff may rename them (Synapse's admin API): their decision stands.
    admin_path = f"/_synapse/admin/v2/users/{quote(member.user_id)}"
    assert (await staff.call("PUT", admin_path, {"displayname": "已处理用户"}))[0] == 200
    status, reply = await member.call("GET", f"/_matrix/client/v3/profile/{quote(member.user_id)}/displayname")
    assert reply.get("displayname") == "已处理用户", reply
    # Someone under no measure renames as before.
    owner_profile = f"/_matrix/client/v3/profile/{quote(owner.user_id)}/displayname"
    assert (await owner.call("PUT", owner_profile, {"displayname": "群主新名字"}))[0] == 200
    assert (await owner.call("GET", owner_profile))[1].get("displayname") == "群主新名字"
    kick = f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.member/{quote(owner.user_id)}"
    status, reply = await member.call("PUT", kick, {"membership": "leave", "reason": "禁言者的理由"})
    assert (status, reply.get("cn.qunzu.reason")) == (403, "posting_suspended_user"), reply
    # Nor in a room of their own: what a creation carries is published as theirs (Synapse asks nobody).
    for carried in ({"name": "禁言者的新群"}, {"topic": "禁言者的公告"}, {"initial_state": [_named("新群名")]}):
        status, reply = await member.create_room(preset="public_chat", **carried)
        assert (status, reply.get("cn.qunzu.reason")) == (403, "posting_suspended_user"), (carried, reply)
        assert "恢复时间" in reply["error"] or "解除时间" in reply["error"], reply
    # A room that carries nothing to read may still be made: the suspension is about publishing.
    status, reply = await member.create_room(preset="private_chat")
    assert status == 200, reply
    # A reason on a membership change is published text too (Synapse asks nobody): it is taken
    # down within moments; the leave stands.
    path = f"/_matrix/client/v3/rooms/{quote(room)}/leave"
    assert (await member.call("POST", path, {"reason": "禁言者的告别"}))[0] == 200

    async def reason_gone() -> bool:
        status, event = await owner.call(
            "GET", f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.member/{member.user_id}"
        )
        return status == 200 and event == {"membership": "leave"}

    await eventually(reason_gone, what="the muted person's reason taken down")
    status, audit = await staff.qunzu("GET", f"/admin/audit?subject={quote(member.user_id)}")
    assert status == 200, audit
    removed = [entry for entry in audit["entries"] if entry["action"] == "membership.reason_removed"]
    assert [entry["details"]["why"] for entry in removed] == ["posting_suspended_user"], removed
    looks = [entry for entry in audit["entries"] if entry["action"] == "membership.looks_removed"]
    assert [(entry["details"]["room_id"], entry["details"]["why"]) for entry in looks] == [
        (named, "posting_suspended_user")
    ], looks


def _named(name: str) -> dict[str, Any]:
    return {"type": "m.room.name", "state_key": "", "content": {"name": name}}


async def test_a_suspended_admin_cannot_upgrade_a_room_and_nothing_is_left_behind(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    owner = await verified(as_user, synapse, "owner")
    admin = await verified(as_user, synapse, "adm")
    room = await owner.new_room(name="升级测试群", preset="public_chat")
    assert (await admin.join(room))[0] == 200
    await set_power(owner, room, {admin.user_id: 100})
    record = await sanction(staff, "user", admin.user_id, "admin_suspension", duration="1d")
    status, before = await admin.call("GET", "/_matrix/client/v3/joined_rooms")

    status, reply = await admin.call("POST", f"/_matrix/client/v3/rooms/{quote(room)}/upgrade", {"new_version": "12"})
    assert status == 403, reply
    assert reply["cn.qunzu.reason"] == "admin_suspended"
    assert reply["cn.qunzu.detail"] == {"until": record["end"], "permanent": False}
    status, _ = await admin.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.tombstone/")
    assert status == 404  # no tombstone
    status, after = await admin.call("GET", "/_matrix/client/v3/joined_rooms")
    assert after["joined_rooms"] == before["joined_rooms"]  # and no new room
