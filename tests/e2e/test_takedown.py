"""Takedown (Art. 11, 12; Cybersecurity Law Art. 47) on the shared Synapse: what members see afterwards.

A taken-down message is redacted by the service account: another member's
`/messages` shows it with empty content and `redacted_because`. Media is
quarantined through Synapse's admin API only while the service account is a
server admin (takedown.py), and the answer says so otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp

from devtools.homeserver import SynapseProcess

from .matrix import Matrix
from .sanction_helpers import SERVICE_USER_ID, verified

REMOVED = "该消息违反法律法规或平台公约，已由平台删除。"


async def _room_of(as_user: Callable[..., Matrix], synapse: SynapseProcess, *people: Matrix) -> str:
    owner = people[0]
    room = await owner.new_room(name="二手交易群", preset="public_chat")
    for person in people[1:]:
        status, reply = await person.join(room)
        assert status == 200, reply
    return room


async def _send(person: Matrix, room: str, body: str) -> str:
    status, reply = await person.send_text(room, body)
    assert status == 200, reply
    return str(reply["event_id"])


async def _seen_by(viewer: Matrix, room: str) -> dict[str, dict[str, Any]]:
    """The room's messages as a member's client pages them back, by event id."""
    status, page = await viewer.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/messages?dir=b&limit=200")
    assert status == 200, page
    return {event["event_id"]: event for event in page["chunk"]}


def _removed(event: dict[str, Any]) -> bool:
    because = event.get("unsigned", {}).get("redacted_because")
    return event["content"] == {} and because is not None and because["sender"] == SERVICE_USER_ID


def _intact(event: dict[str, Any], body: str) -> bool:
    return event["content"].get("body") == body and "redacted_because" not in event.get("unsigned", {})


async def _timestamp(viewer: Matrix, room: str, event_id: str) -> int:
    status, event = await viewer.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/event/{quote(event_id)}")
    assert status == 200, event
    return int(event["origin_server_ts"])


async def test_resolving_a_report_with_takedown_removes_the_message_for_every_member_and_is_audited(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    owner, accused, reporter, witness = [await verified(as_user, synapse, p) for p in ("own", "acc", "rep", "wit")]
    room = await _room_of(as_user, synapse, owner, accused, reporter, witness)
    bad = await _send(accused, room, "先转账五千元保证金，马上发货")
    kept = await _send(accused, room, "今天天气不错")

    status, ticket = await reporter.qunzu(
        "POST", "/reports", {"room_id": room, "event_id": bad, "category": "fraud", "reason": "骗钱"}
    )
    assert status == 200, ticket
    status, refused = await staff.qunzu(
        "POST", f"/admin/reports/{ticket['ticket']}/resolve", {"outcome": "dismissed", "takedown": True}
    )
    assert status == 400, refused
    status, closed = await staff.qunzu(
        "POST",
        f"/admin/reports/{ticket['ticket']}/resolve",
        {"outcome": "resolved", "takedown": True, "reason": "确认为诈骗信息"},
    )
    assert status == 200, closed
    assert closed["status"] == "resolved" and closed["takedown"]["redacted"] == [bad], closed

    for member in (witness, reporter, owner):
        seen = await _seen_by(member, room)
        assert _removed(seen[bad]), seen[bad]
        assert seen[bad]["unsigned"]["redacted_because"]["content"]["reason"] == REMOVED
        assert _intact(seen[kept], "今天天气不错")

    status, audit = await staff.qunzu("GET", f"/admin/audit?subject={ticket['ticket']}&limit=50")
    assert status == 200, audit
    (entry,) = [e for e in audit["entries"] if e["action"] == "content.takedown"]
    assert entry["actor"] == staff.user_id and entry["details"]["reason"] == "确认为诈骗信息"
    assert entry["details"]["redacted"] == [bad] and entry["details"]["ticket"] == ticket["ticket"]

    # Taking it down again changes nothing and says so.
    status, again = await staff.qunzu("POST", "/admin/takedown", {"event_ids": [bad, "$nope"], "reason": "复查"})
    assert status == 200, again
    assert again["redacted"] == [] and again["already_redacted"] == [bad] and again["not_found"] == ["$nope"]


async def test_mass_takedown_removes_exactly_the_persons_messages_since_a_time_in_one_room_then_everywhere(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    owner, spammer, bystander = [await verified(as_user, synapse, p) for p in ("own", "spam", "by")]
    room_a = await _room_of(as_user, synapse, owner, spammer, bystander)
    room_b = await _room_of(as_user, synapse, owner, spammer, bystander)
    old_a = await _send(spammer, room_a, "早先的正常发言 A")
    old_b = await _send(spammer, room_b, "早先的正常发言 B")
    since = await _timestamp(owner, room_b, old_b) + 1
    await asyncio.sleep(0.05)  # the window starts after the older messages' millisecond
    new_a = [await _send(spammer, room_a, f"加群领红包 {n}") for n in (1, 2)]
    other_a = await _send(bystander, room_a, "别信，是骗子")
    new_b = await _send(spammer, room_b, "加群领红包 3")

    body: dict[str, Any] = {"user_id": spammer.user_id, "since": since, "room_id": room_a, "reason": "批量广告"}
    status, one_room = await staff.qunzu("POST", "/admin/takedown", body)
    assert status == 200, one_room
    assert one_room["redacted"] == new_a and one_room["remaining"] == 0 and one_room["failed"] == []

    seen_a, seen_b = await _seen_by(owner, room_a), await _seen_by(owner, room_b)
    assert all(_removed(seen_a[event]) for event in new_a)
    assert _intact(seen_a[old_a], "早先的正常发言 A") and _intact(seen_a[other_a], "别信，是骗子")
    assert _intact(seen_b[new_b], "加群领红包 3")  # another room: not in this call

    del body["room_id"]
    status, everywhere = await staff.qunzu("POST", "/admin/takedown", body)
    assert status == 200, everywhere
    assert everywhere["redacted"] == [new_b] and everywhere["remaining"] == 0

    seen_a, seen_b = await _seen_by(bystander, room_a), await _seen_by(bystander, room_b)
    assert _removed(seen_b[new_b])
    assert _intact(seen_b[old_b], "早先的正常发言 B") and _intact(seen_a[old_a], "早先的正常发言 A")
    assert _intact(seen_a[other_a], "别信，是骗子")

    status, audit = await staff.qunzu("GET", f"/admin/audit?subject={quote(spammer.user_id)}&limit=50")
    assert status == 200, audit
    recorded = [e["details"] for e in audit["entries"] if e["action"] == "content.takedown"]
    assert sorted(d["room_id"] or "" for d in recorded) == ["", room_a]
    assert all(d["reason"] == "批量广告" and d["since"] == since for d in recorded)


async def test_takedown_input_is_bounded_and_refused_plainly(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    member = await verified(as_user, synapse, "plain")
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"user_id": member.user_id, "since": "1e20", "reason": "x"}, 400, "invalid_number"),
        ({"user_id": member.user_id, "since": 10**30, "reason": "x"}, 400, "invalid_number"),
        ({"user_id": member.user_id, "reason": "x"}, 400, ""),
        ({"reason": "x"}, 400, ""),
        ({"event_ids": ["$a"], "user_id": member.user_id, "since": 1_700_000_000_000, "reason": "x"}, 400, ""),
        ({"event_ids": [f"$e{n}" for n in range(101)], "reason": "x"}, 400, ""),
        ({"event_ids": ["$a"]}, 400, ""),
        ({"event_ids": "$a", "reason": "x"}, 400, "invalid_request"),
    ]
    for body, expected, reason in cases:
        status, reply = await staff.qunzu("POST", "/admin/takedown", body)
        assert status == expected, (body, reply)
        assert reply.get("cn.qunzu.reason", "") == reason, (body, reply)
        assert reply["error"], reply
    status, reply = await member.qunzu("POST", "/admin/takedown", {"event_ids": ["$a"], "reason": "x"})
    assert status == 403, reply


async def _upload(person: Matrix, synapse: SynapseProcess, data: bytes) -> str:
    headers = {"Authorization": f"Bearer {person.account.access_token}", "Content-Type": "image/png"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{synapse.base_url}/_matrix/media/v3/upload", data=data, headers=headers) as response,
    ):
        reply = await response.json(content_type=None)
        assert response.status == 200, reply
        return str(reply["content_uri"])


async def _download_status(person: Matrix, synapse: SynapseProcess, mxc: str) -> int:
    server, media_id = mxc.removeprefix("mxc://").split("/", 1)
    headers = {"Authorization": f"Bearer {person.account.access_token}"}
    url = f"{synapse.base_url}/_matrix/client/v1/media/download/{server}/{media_id}"
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        return response.status


async def _send_image(person: Matrix, room: str, mxc: str) -> str:
    path = f"/_matrix/client/v3/rooms/{quote(room)}/send/m.room.message/{mxc[-12:]}"
    status, reply = await person.call("PUT", path, {"msgtype": "m.image", "body": "pic.png", "url": mxc})
    assert status == 200, reply
    return str(reply["event_id"])


async def test_takedown_quarantines_media_only_while_the_service_account_is_a_server_admin(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    owner, poster = [await verified(as_user, synapse, p) for p in ("own", "pic")]
    room = await _room_of(as_user, synapse, owner, poster)
    first = await _upload(poster, synapse, b"\x89PNG first picture")
    event = await _send_image(poster, room, first)
    status, answer = await staff.qunzu("POST", "/admin/takedown", {"event_ids": [event], "reason": "违规图片"})
    assert status == 200, answer
    assert answer["redacted"] == [event]
    assert answer["media"] == {
        "quarantined": [],
        "not_quarantined": [{"mxc": first, "why": "service_account_not_admin"}],
    }
    assert await _download_status(owner, synapse, first) == 200  # the redaction alone leaves the file reachable

    service = f"/_synapse/admin/v2/users/{quote(SERVICE_USER_ID)}"
    status, reply = await staff.call("PUT", service, {"admin": True})
    assert status == 200, reply
    try:
        second = await _upload(poster, synapse, b"\x89PNG second picture")
        event = await _send_image(poster, room, second)
        status, answer = await staff.qunzu("POST", "/admin/takedown", {"event_ids": [event], "reason": "违规图片"})
        assert status == 200, answer
        assert answer["redacted"] == [event] and answer["media"]["quarantined"] == [second], answer
        assert await _download_status(owner, synapse, second) == 404
        assert _removed((await _seen_by(owner, room))[event])
    finally:
        status, reply = await staff.call("PUT", service, {"admin": False})
        assert status == 200, reply
