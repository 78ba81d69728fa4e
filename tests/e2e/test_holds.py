"""Held and refused content (Art. 10, 13): sealed, revealed by staff only, held messages released or rejected.

On the content server (tests/e2e/content_fixtures.py): its `rumor` list holds
`HELD` for review and its `cults` list refuses `BLOCKED`. What people see: the
released message in another member's timeline with the original sender and
text, a rejected one nowhere but in the sender's notice, and what the database
file holds of refused content (nothing in clear).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from devtools.homeserver import SynapseProcess

from .content_fixtures import (  # noqa: F401  (fixtures: the content server and its term files)
    BLOCKED,
    HELD,
    content_server_fixture,
    person_fixture,
    poster_fixture,
    session_fixture,
    staff_fixture,
    terms_dir_fixture,
)
from .matrix import Matrix
from .sanction_helpers import eventually, notices, sanction, set_power


async def _member(person: Callable[..., Matrix], poster: Matrix, room: str) -> Matrix:
    member = person()
    status, reply = await member.verify()
    assert status == 200, reply
    assert (await poster.invite(room, member.user_id))[0] == 200
    assert (await member.join(room))[0] == 200
    return member


async def _held(poster: Matrix, staff: Matrix, room: str, text: str, **extra: Any) -> dict[str, Any]:
    path = f"/_matrix/client/v3/rooms/{quote(room)}/send/m.room.message/{secrets.token_hex(8)}"
    return await _hold_of(staff, room, await poster.call("PUT", path, {"msgtype": "m.text", "body": text, **extra}))


async def _hold_of(staff: Matrix, room: str, refused: tuple[int, Any]) -> dict[str, Any]:
    """The hold a refused send made, as staff list it (never with its content)."""
    status, reply = refused
    assert status == 403 and reply["cn.qunzu.detail"]["held"] is True, reply
    status, page = await staff.qunzu("GET", "/admin/holds?limit=200")
    assert status == 200, page
    (hold,) = [h for h in page["items"] if h["room_id"] == room and h["ticket"] == reply["cn.qunzu.detail"]["ticket"]]
    return dict(hold)


async def _bodies(member: Matrix, room: str) -> list[tuple[str, str, dict[str, Any]]]:
    status, page = await member.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/messages?dir=b&limit=50")
    assert status == 200, page
    return [
        (str(e["sender"]), str(e["content"].get("body")), dict(e["content"]))
        for e in page["chunk"]
        if e.get("type") == "m.room.message"
    ]


def _database_bytes(server: SynapseProcess) -> bytes:
    config = yaml.safe_load(server.config_path.read_text())
    path = Path(config["database"]["args"]["database"])
    return b"".join(p.read_bytes() for p in path.parent.iterdir() if p.name.startswith(path.name))


async def test_a_held_message_is_released_as_its_sender_once_and_only_staff_may(
    poster: Matrix, staff: Matrix, person: Callable[..., Matrix]
) -> None:
    room = await poster.new_room(name="读书会")
    member = await _member(person, poster, room)
    status, first = await poster.send_text(room, "今天读第三章")
    assert status == 200, first
    text = f"转发：{HELD} {secrets.token_hex(6)}"
    relation = {"m.in_reply_to": {"event_id": first["event_id"]}}
    hold = await _held(poster, staff, room, text, **{"m.relates_to": relation})
    assert hold["sender"] == poster.user_id and hold["status"] == "held" and hold["category"] == "rumor"
    assert text not in str(hold)  # the list shows no content

    # Nobody but staff sees or decides holds.
    for method, path in (("GET", "/admin/holds"), ("POST", f"/admin/holds/{hold['id']}/release")):
        status, refused = await member.qunzu(method, path, {} if method == "POST" else None)
        assert status == 403 and refused["cn.qunzu.reason"] == "staff_only", refused
    assert text not in [body for _, body, _ in await _bodies(member, room)]

    status, released = await staff.qunzu("POST", f"/admin/holds/{hold['id']}/release", {})
    assert status == 200, released
    assert released["status"] == "released" and released["decided_by"] == staff.user_id

    # Another member sees the person's own message, text intact.
    timeline = await _bodies(member, room)
    (sender, _, content) = next(entry for entry in timeline if entry[1] == text)
    assert sender == poster.user_id and content["msgtype"] == "m.text" and content["m.relates_to"] == relation
    assert content["cn.qunzu.release"] == hold["id"]

    # Twice is a clean conflict; the hold's ticket is closed as released.
    status, again = await staff.qunzu("POST", f"/admin/holds/{hold['id']}/release", {})
    assert status == 409 and again["cn.qunzu.reason"] == "hold_decided", again
    assert again["cn.qunzu.detail"]["status"] == "released" and "已经处理过" in again["error"]
    status, ticket = await staff.qunzu("GET", f"/admin/reports/{hold['ticket']}")
    assert status == 200 and ticket["status"] == "dismissed" and ticket["outcome"] == "released", ticket
    assert len([b for _, b, _ in await _bodies(member, room) if b == text]) == 1


async def test_two_staff_releasing_one_hold_at_once_deliver_it_once(
    poster: Matrix, staff: Matrix, person: Callable[..., Matrix]
) -> None:
    room = await poster.new_room(name="读书会")
    member = await _member(person, poster, room)
    text = f"{HELD} {secrets.token_hex(6)}"
    hold = await _held(poster, staff, room, text)
    other_staff = person(admin=True)
    answers = await asyncio.gather(
        *(s.qunzu("POST", f"/admin/holds/{hold['id']}/release", {}) for s in (staff, other_staff, staff))
    )
    assert sorted(status for status, _ in answers) == [200, 409, 409], answers
    assert len([b for _, b, _ in await _bodies(member, room) if b == text]) == 1


async def test_a_rejected_hold_never_arrives_and_its_sender_is_told_why(
    poster: Matrix, staff: Matrix, person: Callable[..., Matrix]
) -> None:
    room = await poster.new_room(name="读书会")
    member = await _member(person, poster, room)
    text = f"{HELD} {secrets.token_hex(6)}"
    hold = await _held(poster, staff, room, text)

    status, rejected = await staff.qunzu("POST", f"/admin/holds/{hold['id']}/reject", {"reason": "经核实为不实信息"})
    assert status == 200 and rejected["status"] == "rejected", rejected

    told = await eventually(lambda: _first(notices(poster), hold["id"]), 30, "the sender's notice of the rejected hold")
    assert "不予发布" in told and "经核实为不实信息" in told and "!appeal" in told
    assert text not in told  # the notice does not repeat the content
    for decision in ("release", "reject"):
        status, again = await staff.qunzu("POST", f"/admin/holds/{hold['id']}/{decision}", {})
        assert status == 409 and again["cn.qunzu.reason"] == "hold_decided", again
    assert text not in [b for _, b, _ in await _bodies(member, room)]
    status, ticket = await staff.qunzu("GET", f"/admin/reports/{hold['ticket']}")
    assert ticket["status"] == "resolved" and ticket["outcome"] == "rejected", ticket


async def _first(bodies: Any, needle: str) -> str | None:
    return next((body for body in await bodies if needle in body), None)


async def test_a_client_cannot_mark_its_own_message_released_nor_release_into_a_closed_room(
    poster: Matrix, staff: Matrix, person: Callable[..., Matrix]
) -> None:
    room = await poster.new_room(name="读书会")
    await _member(person, poster, room)
    hold = await _held(poster, staff, room, f"{HELD} {secrets.token_hex(6)}")

    # The marker of a release, written by the client itself, waives nothing.
    txn = secrets.token_hex(8)
    forged = {"msgtype": "m.text", "body": f"{HELD} forged", "cn.qunzu.release": hold["id"]}
    status, reply = await poster.call(
        "PUT", f"/_matrix/client/v3/rooms/{quote(room)}/send/m.room.message/{txn}", forged
    )
    assert status == 403 and reply["cn.qunzu.reason"] == "prohibited_content", reply

    await sanction(staff, "room", room, "closure")

    async def sender_put_out() -> bool:
        status, members = await staff.call("GET", f"/_synapse/admin/v1/rooms/{quote(room)}/members")
        return status == 200 and poster.user_id not in members["members"]

    # The closure also puts the members out; the release is refused for the closure all the same.
    await eventually(sender_put_out, 30, "the sender out of the closed room")
    status, refused = await staff.qunzu("POST", f"/admin/holds/{hold['id']}/release", {})
    assert status == 403 and refused["cn.qunzu.reason"] == "room_closed", refused
    status, page = await staff.qunzu("GET", "/admin/holds?limit=200")
    assert any(h["id"] == hold["id"] and h["status"] == "held" for h in page["items"])  # still waiting


async def test_refused_content_is_sealed_not_in_clear_and_revealed_to_staff_only_with_a_reason(
    poster: Matrix, staff: Matrix, person: Callable[..., Matrix], server: SynapseProcess
) -> None:
    room = await poster.new_room(name="读书会")
    member = await _member(person, poster, room)
    marker = f"sealed{secrets.token_hex(8)}"
    status, reply = await poster.send_text(room, f"{BLOCKED} {marker}")
    assert status == 403 and reply["cn.qunzu.reason"] == "prohibited_content", reply

    status, page = await staff.qunzu("GET", "/admin/evidence?limit=200")
    assert status == 200, page
    (item,) = [i for i in page["items"] if i["room_id"] == room and i["action"] == "block"]
    assert item["sender"] == poster.user_id and item["rule"] == "cults" and marker not in str(page)

    # Not in the database file (the WAL included), though the server has seen it.
    assert marker.encode() not in _database_bytes(server)

    path = f"/admin/evidence/{item['id']}/reveal"
    for who in (member, poster):
        status, refused = await who.qunzu("POST", path, {"reason": "想看看"})
        assert status == 403 and refused["cn.qunzu.reason"] == "staff_only", refused
        assert marker not in str(refused)
    status, missing = await staff.qunzu("POST", path, {})
    assert status == 400 and missing["errcode"] == "M_MISSING_PARAM", missing

    # Refused content is no hold: there is nothing to release.
    status, none = await staff.qunzu("POST", f"/admin/holds/{item['id']}/release", {})
    assert status == 404 and "没有这条待审内容" in none["error"], none

    status, revealed = await staff.qunzu("POST", path, {"reason": "核查举报"})
    assert status == 200, revealed
    assert revealed["content"]["body"] == f"{BLOCKED} {marker}" and revealed["sender"] == poster.user_id
    status, audit = await staff.qunzu("GET", f"/admin/audit?subject=evidence:{item['id']}")
    assert status == 200, audit
    (record,) = [e for e in audit["entries"] if e["action"] == "evidence.reveal"]
    assert record["actor"] == staff.user_id and record["details"] == {"reason": "核查举报"}


async def _topic(member: Matrix, room: str) -> tuple[str, str] | None:
    """The room's topic and who set it, as a member's client reads them (None when unset)."""
    status, event = await member.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.topic/?format=event")
    if status == 404:
        return None
    assert status == 200, event
    return str(event["content"]["topic"]), str(event["sender"])


async def test_a_held_room_topic_takes_effect_as_its_sender_when_released_while_the_sender_still_may_set_it(
    poster: Matrix, staff: Matrix, person: Callable[..., Matrix]
) -> None:
    room = await poster.new_room(name="读书会")
    member = await _member(person, poster, room)
    topic = f"本周话题：{HELD} {secrets.token_hex(6)}"
    hold = await _hold_of(staff, room, await poster.send_state(room, "m.room.topic", {"topic": topic}))
    assert hold["event_type"] == "m.room.topic" and hold["status"] == "held" and topic not in str(hold)
    assert await _topic(member, room) is None

    status, released = await staff.qunzu("POST", f"/admin/holds/{hold['id']}/release", {})
    assert status == 200 and released["status"] == "released", released
    # Every member's client shows the topic, set by the person who wrote it.
    assert await _topic(member, room) == (topic, poster.user_id)

    # A room admin's held topic, released after they lost the power to set topics: Synapse
    # refuses it, and the hold waits for another decision.
    await set_power(poster, room, {member.user_id: 50})
    other = f"新话题：{HELD} {secrets.token_hex(6)}"
    demoted = await _hold_of(staff, room, await member.send_state(room, "m.room.topic", {"topic": other}))
    await set_power(poster, room, {member.user_id: 0})
    status, refused = await staff.qunzu("POST", f"/admin/holds/{demoted['id']}/release", {})
    assert status == 409 and refused["cn.qunzu.reason"] == "hold_undeliverable", refused
    assert refused["cn.qunzu.detail"] == {"hold": demoted["id"], "why": "not_permitted"}
    assert "已无权在该群发出这项内容" in refused["error"], refused
    assert await _topic(member, room) == (topic, poster.user_id)
    status, page = await staff.qunzu("GET", "/admin/holds?limit=200")
    assert any(h["id"] == demoted["id"] and h["status"] == "held" for h in page["items"]), page
