"""Every text a client renders is content-checked (Art. 10), on every path, against a real Synapse.

Refusals are checked before persistence: the person gets 403 ``prohibited_content``
and the text is in neither ``/messages`` nor ``/state``. Membership reasons that no
callback can refuse are redacted by the event-stream follower: the change stands,
the text goes, and the test measures how long it was visible.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from devtools.homeserver import SERVER_NAME, SERVICE_LOCALPART, SynapseProcess

from .conftest import SERVICE_PASSWORD
from .content_fixtures import (  # noqa: F401  (fixtures: the content server of test_content.py)
    BLOCKED,
    FLAGGED,
    content_server_fixture,
    person_fixture,
    poster_fixture,
    session_fixture,
    staff_fixture,
    terms_dir_fixture,
)
from .matrix import Matrix, Reply
from .sanction_helpers import eventually, notices

# Upper bound for the redaction of a membership text: the follower ticks every second.
REDACTION_WINDOW_S = 10.0


def assert_prohibited(reply: Reply) -> None:
    status, body = reply
    assert status == 403, body
    assert body["errcode"] == "M_FORBIDDEN"
    assert body["cn.qunzu.reason"] == "prohibited_content"
    assert body["cn.qunzu.detail"]["category"] == "cults"
    assert BLOCKED not in str(body)
    assert "禁止" in body["error"]


async def send(member: Matrix, room_id: str, event_type: str, content: dict[str, Any]) -> Reply:
    path = f"/_matrix/client/v3/rooms/{quote(room_id)}/send/{event_type}/{secrets.token_hex(8)}"
    return await member.call("PUT", path, content)


async def timeline_text(member: Matrix, room_id: str) -> str:
    status, page = await member.call("GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/messages?dir=b&limit=100")
    assert status == 200, page
    return json.dumps(page["chunk"], ensure_ascii=False)


async def state_text(member: Matrix, room_id: str) -> str:
    status, state = await member.call("GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/state")
    assert status == 200, state
    return json.dumps(state, ensure_ascii=False)


async def assert_not_persisted(member: Matrix, room_id: str) -> None:
    assert BLOCKED not in await timeline_text(member, room_id)
    assert BLOCKED not in await state_text(member, room_id)


# --- messages: polls, redaction reasons ------------------------------------------------


async def test_polls_are_refused_in_the_unstable_form_element_sends(poster: Matrix) -> None:
    room = await poster.new_room(name="读书会")

    def poll(question: str, answer: str) -> dict[str, Any]:
        return {
            "org.matrix.msc3381.poll.start": {
                "question": {"org.matrix.msc1767.text": question, "body": question, "msgtype": "m.text"},
                "kind": "org.matrix.msc3381.poll.disclosed",
                "max_selections": 1,
                "answers": [
                    {"id": "a1", "org.matrix.msc1767.text": "好"},
                    {"id": "a2", "org.matrix.msc1767.text": answer},
                ],
            },
            "org.matrix.msc1767.text": "投票",
        }

    assert_prohibited(await send(poster, room, "org.matrix.msc3381.poll.start", poll(f"{BLOCKED}？", "不好")))
    assert_prohibited(await send(poster, room, "org.matrix.msc3381.poll.start", poll("明天读什么？", BLOCKED)))
    await assert_not_persisted(poster, room)
    status, reply = await send(poster, room, "org.matrix.msc3381.poll.start", poll("明天读什么？", "第四章"))
    assert status == 200, reply


async def test_polls_are_refused_in_the_stable_form(poster: Matrix) -> None:
    room = await poster.new_room(name="读书会")

    def poll(question: str, answer: str) -> dict[str, Any]:
        return {
            "m.poll": {
                "kind": "m.disclosed",
                "max_selections": 1,
                "question": {"m.text": [{"body": question}]},
                "answers": [{"m.id": "a1", "m.text": [{"body": "好"}]}, {"m.id": "a2", "m.text": [{"body": answer}]}],
            },
            "m.text": [{"body": "投票"}],
        }

    assert_prohibited(await send(poster, room, "m.poll.start", poll(f"关于{BLOCKED}", "不好")))
    assert_prohibited(await send(poster, room, "m.poll.start", poll("好吗", f"<{BLOCKED}>")))
    await assert_not_persisted(poster, room)


async def test_a_redaction_reason_is_refused_and_the_message_stays(poster: Matrix) -> None:
    room = await poster.new_room(name="读书会")
    status, sent = await poster.send_text(room, "今天读第三章")
    assert status == 200, sent
    event_id = sent["event_id"]
    path = f"/_matrix/client/v3/rooms/{quote(room)}/redact/{quote(event_id)}/{secrets.token_hex(8)}"
    assert_prohibited(await poster.call("PUT", path, {"reason": f"因为{BLOCKED}"}))
    await assert_not_persisted(poster, room)
    status, event = await poster.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/event/{quote(event_id)}")
    assert status == 200 and event["content"]["body"] == "今天读第三章", event


async def test_an_unknown_event_type_is_checked_by_all_its_strings(poster: Matrix) -> None:
    room = await poster.new_room(name="读书会")
    content = {"label": {"text": f"看{BLOCKED}"}, "url": "https://example.org/x"}
    assert_prohibited(await send(poster, room, "org.example.card", content))
    await assert_not_persisted(poster, room)


# --- state: per-room names, reasons, widgets, topics, aliases -------------------------


async def test_a_per_room_display_name_is_refused_before_it_exists(poster: Matrix) -> None:
    room = await poster.new_room(name="读书会")
    path = f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.member/{quote(poster.user_id)}"
    status, before = await poster.call("GET", path)
    assert status == 200, before
    assert_prohibited(
        await poster.send_state(room, "m.room.member", {**before, "displayname": f"ＦＬＧ{BLOCKED}"}, poster.user_id)
    )
    status, after = await poster.call("GET", path)
    assert status == 200 and after == before, after
    await assert_not_persisted(poster, room)
    status, reply = await poster.send_state(room, "m.room.member", {**before, "displayname": "读书人"}, poster.user_id)
    assert status == 200, reply
    # A name, avatar or reason that is not text: a 400 naming the field (Synapse itself would answer 500).
    for field, value in (("displayname", 5), ("avatar_url", {"url": "x"}), ("reason", ["x"])):
        status, reply = await poster.send_state(room, "m.room.member", {**before, field: value}, poster.user_id)
        assert (status, reply.get("cn.qunzu.reason")) == (400, "invalid_request"), (field, reply)
        assert reply["cn.qunzu.detail"] == {"field": field, "problem": "wrong_type"}, reply
        assert field in reply["error"], reply


async def test_a_kick_reason_through_the_state_api_is_refused(poster: Matrix, person: Callable[..., Matrix]) -> None:
    other = person()
    room = await poster.new_room(name="读书会", preset="public_chat")
    status, reply = await other.join(room)
    assert status == 200, reply
    content = {"membership": "leave", "reason": f"{BLOCKED}"}
    assert_prohibited(await poster.send_state(room, "m.room.member", content, other.user_id))
    status, member = await poster.call(
        "GET", f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.member/{quote(other.user_id)}"
    )
    assert status == 200 and member["membership"] == "join", member
    await assert_not_persisted(poster, room)
    # An invite whose e-mail proof is malformed: a 400 naming the field (Synapse itself would answer 500).
    invitee = person()
    proofs: list[object] = [None, {}, {"signed": {"token": 5}}]
    for proof in proofs:
        invite: dict[str, object] = {"membership": "invite", "third_party_invite": proof}
        status, reply = await poster.send_state(room, "m.room.member", invite, invitee.user_id)
        assert (status, reply.get("cn.qunzu.reason")) == (400, "invalid_request"), (proof, reply)
        assert reply["cn.qunzu.detail"]["field"] == "third_party_invite.signed.token", reply


@pytest.mark.parametrize("event_type", ["im.vector.modular.widgets", "m.widget"])
async def test_widget_names_and_titles_are_refused(poster: Matrix, event_type: str) -> None:
    room = await poster.new_room(name="读书会")
    widget = {"type": "m.custom", "url": "https://example.org/w", "name": "日程", "data": {"title": "本周"}, "id": "w1"}
    assert_prohibited(await poster.send_state(room, event_type, {**widget, "name": BLOCKED}, "w1"))
    assert_prohibited(await poster.send_state(room, event_type, {**widget, "data": {"title": BLOCKED}}, "w1"))
    await assert_not_persisted(poster, room)
    status, reply = await poster.send_state(room, event_type, widget, "w1")
    assert status == 200, reply


async def test_a_topic_in_the_spec_object_form_is_refused(poster: Matrix) -> None:
    room = await poster.new_room(name="读书会")
    content = {"topic": "读书", "m.topic": {"m.text": [{"body": f"读{BLOCKED}", "mimetype": "text/plain"}]}}
    assert_prohibited(await poster.send_state(room, "m.room.topic", content))
    html = {"topic": "读书", "m.topic": {"m.text": [{"body": "法<b>轮</b>功", "mimetype": "text/html"}]}}
    assert_prohibited(await poster.send_state(room, "m.room.topic", html))
    await assert_not_persisted(poster, room)


async def test_a_third_party_invite_display_name_is_refused(poster: Matrix) -> None:
    room = await poster.new_room(name="读书会")
    content = {"display_name": BLOCKED, "key_validity_url": "https://example.org/k", "public_key": "AAAA"}
    assert_prohibited(await poster.send_state(room, "m.room.third_party_invite", content, "token1"))
    await assert_not_persisted(poster, room)


async def test_a_directory_alias_with_a_blocked_name_is_refused(poster: Matrix) -> None:
    room = await poster.new_room(name="读书会")
    alias = quote(f"#{BLOCKED}{secrets.token_hex(3)}:{SERVER_NAME}")
    assert_prohibited(await poster.call("PUT", f"/_matrix/client/v3/directory/room/{alias}", {"room_id": room}))
    status, reply = await poster.call("GET", f"/_matrix/client/v3/directory/room/{alias}")
    assert status == 404, reply
    fine = quote(f"#读书{secrets.token_hex(3)}:{SERVER_NAME}")
    status, reply = await poster.call("PUT", f"/_matrix/client/v3/directory/room/{fine}", {"room_id": room})
    assert status == 200, reply


async def test_canonical_alt_aliases_with_a_blocked_name_are_refused(poster: Matrix, staff: Matrix) -> None:
    room = await poster.new_room(name="读书会")
    # Staff are exempt, so an alias like this can exist; a member still cannot advertise it.
    alias = f"#{BLOCKED}{secrets.token_hex(3)}:{SERVER_NAME}"
    status, reply = await staff.call("PUT", f"/_matrix/client/v3/directory/room/{quote(alias)}", {"room_id": room})
    assert status == 200, reply
    assert_prohibited(await poster.send_state(room, "m.room.canonical_alias", {"alt_aliases": [alias]}))
    assert BLOCKED not in await state_text(poster, room)


async def test_a_kick_reason_the_service_account_would_publish_for_a_room_admin_is_refused(
    poster: Matrix, person: Callable[..., Matrix], server: SynapseProcess, session: aiohttp.ClientSession
) -> None:
    # The bot's path for `!kick @u <reason>`: the module kicks as the service account, for the admin.
    service = Matrix(session, server.base_url, server.ensure_account(SERVICE_LOCALPART, SERVICE_PASSWORD))
    other = person()
    room = await poster.new_room(name="读书会", preset="public_chat")
    for account in (service, other):  # the bot joins every room it is invited to
        status, reply = await account.join(room)
        assert status == 200, reply
    body = {"actor": poster.user_id, "action": "kick", "target": other.user_id, "reason": f"因为{BLOCKED}"}
    assert_prohibited(await service.qunzu("POST", f"/admin/rooms/{quote(room)}/moderate", body))
    member = await _member_event(poster, room, other.user_id)
    assert member["content"]["membership"] == "join", member
    await assert_not_persisted(poster, room)


async def test_an_announcement_the_service_account_would_post_and_pin_is_refused(
    poster: Matrix, server: SynapseProcess, session: aiohttp.ClientSession
) -> None:
    # The bot's path for `!announce <text>`: the module posts and pins as the service account.
    service = Matrix(session, server.base_url, server.ensure_account(SERVICE_LOCALPART, SERVICE_PASSWORD))
    room = await poster.new_room(name="通知群", preset="public_chat")
    status, reply = await service.join(room)
    assert status == 200, reply
    body = {"actor": poster.user_id, "text": f"本周学习{BLOCKED}资料"}
    assert_prohibited(await service.qunzu("POST", f"/admin/rooms/{quote(room)}/announce", body))
    await assert_not_persisted(poster, room)
    status, pins = await poster.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.pinned_events/")
    assert status == 404, pins


# --- createRoom ---------------------------------------------------------------------------


async def _room_count(member: Matrix) -> int:
    status, joined = await member.call("GET", "/_matrix/client/v3/joined_rooms")
    assert status == 200, joined
    return len(joined["joined_rooms"])


@pytest.mark.parametrize(
    "request_body",
    [
        {"room_alias_name": f"{BLOCKED}-room"},
        {"initial_state": [{"type": "m.room.topic", "content": {"m.topic": {"m.text": [{"body": BLOCKED}]}}}]},
        {"initial_state": [{"type": "m.room.topic", "content": {"m.topic": [{"body": BLOCKED}]}}]},
        {"initial_state": [{"type": "im.vector.modular.widgets", "state_key": "w", "content": {"name": BLOCKED}}]},
        {"initial_state": [{"type": "org.example.card", "state_key": "", "content": {"title": BLOCKED}}]},
    ],
    ids=["room_alias_name", "topic_object", "topic_list", "widget", "custom_state"],
)
async def test_create_room_texts_are_refused_before_the_room_exists(
    poster: Matrix, request_body: dict[str, Any]
) -> None:
    before = await _room_count(poster)
    assert_prohibited(await poster.create_room(name="读书会", **request_body))
    assert await _room_count(poster) == before
    if "room_alias_name" in request_body:
        alias = quote(f"#{request_body['room_alias_name']}:{SERVER_NAME}")
        status, reply = await poster.call("GET", f"/_matrix/client/v3/directory/room/{alias}")
        assert status == 404, reply


# --- membership endpoints: repaired after the fact -------------------------------------


async def _member_event(reader: Matrix, room_id: str, user_id: str) -> dict[str, Any]:
    path = f"/_matrix/client/v3/rooms/{quote(room_id)}/state/m.room.member/{quote(user_id)}?format=event"
    status, event = await reader.call("GET", path)
    assert status == 200, event
    return event


async def _assert_reason_redacted(
    reader: Matrix, staff: Matrix, room_id: str, target: str, membership: str, started: float
) -> float:
    """Waits until the member event has no reason; returns the seconds it was visible."""

    async def redacted() -> dict[str, Any] | None:
        event = await _member_event(reader, room_id, target)
        return None if "reason" in event["content"] else event

    event = await eventually(redacted, REDACTION_WINDOW_S, "the membership reason to be redacted")
    window = time.monotonic() - started
    assert event["content"]["membership"] == membership, event
    assert "redacted_because" in event.get("unsigned", {}), event
    status, audit = await staff.qunzu("GET", f"/admin/audit?subject={quote(event['sender'])}")
    assert status == 200, audit
    blocks = [entry for entry in audit["entries"] if entry["action"] == "content.block"]
    assert any(
        entry["details"]["event_type"] == "m.room.member" and entry["details"]["room_id"] == room_id for entry in blocks
    ), audit
    return window


@pytest.mark.parametrize("action", ["invite", "kick", "ban", "leave", "join", "knock"])
async def test_a_membership_reason_is_redacted_and_the_membership_stays(
    poster: Matrix, person: Callable[..., Matrix], staff: Matrix, action: str, capsys: pytest.CaptureFixture[str]
) -> None:
    other = person()
    preset = {"preset": "private_chat"} if action in ("invite", "knock") else {"preset": "public_chat"}
    room = await poster.new_room(name="读书会", **preset)
    reason = f"理由：{BLOCKED}"
    membership = {"kick": "leave", "leave": "leave"}.get(action, action)
    if action == "knock":
        status, reply = await poster.send_state(room, "m.room.join_rules", {"join_rule": "knock"})
        assert status == 200, reply
    if action in ("kick", "ban", "leave"):
        status, reply = await other.join(room)
        assert status == 200, reply
    base = "/_matrix/client/v3"
    calls: dict[str, tuple[Matrix, str, dict[str, Any]]] = {
        "invite": (poster, f"{base}/rooms/{quote(room)}/invite", {"user_id": other.user_id}),
        "kick": (poster, f"{base}/rooms/{quote(room)}/kick", {"user_id": other.user_id}),
        "ban": (poster, f"{base}/rooms/{quote(room)}/ban", {"user_id": other.user_id}),
        "leave": (other, f"{base}/rooms/{quote(room)}/leave", {}),
        "join": (other, f"{base}/join/{quote(room)}", {}),
        "knock": (other, f"{base}/knock/{quote(room)}", {}),
    }
    actor, path, body = calls[action]
    started = time.monotonic()
    status, reply = await actor.call("POST", path, {**body, "reason": reason})
    assert status == 200, reply
    window = await _assert_reason_redacted(poster, staff, room, other.user_id, membership, started)
    with capsys.disabled():
        print(f"\n  membership reason ({action}) visible for {window:.2f} s")
    assert window < REDACTION_WINDOW_S
    assert BLOCKED not in await state_text(poster, room)


async def test_a_per_room_name_given_in_a_join_body_is_redacted_and_the_member_stays(
    poster: Matrix, person: Callable[..., Matrix], staff: Matrix, capsys: pytest.CaptureFixture[str]
) -> None:
    # POST /join/{room} passes its whole body into the join event: a per-room name that
    # bypasses PUT /state (Synapse allows per-room profiles by default).
    other = person()
    room = await poster.new_room(name="读书会", preset="public_chat")
    started = time.monotonic()
    status, reply = await other.call(
        "POST", f"/_matrix/client/v3/join/{quote(room)}", {"displayname": f"ＦＬＧ{BLOCKED}"}
    )
    assert status == 200, reply

    async def redacted() -> dict[str, Any] | None:
        event = await _member_event(poster, room, other.user_id)
        return event if "displayname" not in event["content"] else None

    event = await eventually(redacted, REDACTION_WINDOW_S, "the per-room name to be redacted")
    window = time.monotonic() - started
    assert event["content"]["membership"] == "join" and "redacted_because" in event["unsigned"], event
    with capsys.disabled():
        print(f"\n  per-room name given at join visible for {window:.2f} s")
    assert window < REDACTION_WINDOW_S
    assert BLOCKED not in await state_text(poster, room)
    status, joined = await poster.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/joined_members")
    assert status == 200 and other.user_id in joined["joined"], joined

    # The client showed the name as set: the bot chat says it went, where and why.
    async def told() -> list[str] | None:
        found = [body for body in await notices(other) if "你的群昵称或成员变动" in body]
        return found or None

    (body,) = await eventually(told, what="the notice of the per-room name taken down")
    assert "读书会" in body and "邪教" in body and BLOCKED not in body, body


async def test_a_flagged_membership_reason_stays_and_opens_one_ticket(
    poster: Matrix, person: Callable[..., Matrix], staff: Matrix
) -> None:
    other = person()
    room = await poster.new_room(name="读书会")
    status, reply = await poster.call(
        "POST", f"/_matrix/client/v3/rooms/{quote(room)}/invite", {"user_id": other.user_id, "reason": FLAGGED}
    )
    assert status == 200, reply
    event_id = (await _member_event(poster, room, other.user_id))["event_id"]

    async def ticket() -> list[dict[str, Any]] | None:
        status, queue = await staff.qunzu("GET", "/admin/reports?status=open")
        assert status == 200, queue
        found = [entry for entry in queue["tickets"] if entry["event_id"] == event_id]
        return found or None

    tickets = await eventually(ticket, REDACTION_WINDOW_S, "the flag ticket")
    assert len(tickets) == 1 and tickets[0]["source"] == "content_flag" and tickets[0]["room_id"] == room
    event = await _member_event(poster, room, other.user_id)
    assert event["content"]["reason"] == FLAGGED and "redacted_because" not in event.get("unsigned", {})


async def test_a_flagged_global_display_name_opens_one_ticket_not_one_per_room(
    poster: Matrix, person: Callable[..., Matrix], staff: Matrix
) -> None:
    rooms = [await poster.new_room(name=f"读书会{index}") for index in range(3)]
    path = f"/_matrix/client/v3/profile/{quote(poster.user_id)}/displayname"
    status, reply = await poster.call("PUT", path, {"displayname": f"{FLAGGED}的小王"})
    assert status == 200, reply
    # A later membership text the follower takes down: once it has, it has seen the copies too.
    other = person()
    invite = {"user_id": other.user_id, "reason": BLOCKED}
    status, reply = await poster.call("POST", f"/_matrix/client/v3/rooms/{quote(rooms[-1])}/invite", invite)
    assert status == 200, reply
    await _assert_reason_redacted(poster, staff, rooms[-1], other.user_id, "invite", time.monotonic())

    status, queue = await staff.qunzu("GET", "/admin/reports?status=open")
    assert status == 200, queue
    tickets = [entry for entry in queue["tickets"] if entry["accused"] == poster.user_id]
    assert len(tickets) == 1 and tickets[0]["room_id"] is None, tickets
    for room in rooms:
        event = await _member_event(poster, room, poster.user_id)
        assert event["content"]["displayname"] == f"{FLAGGED}的小王", event
