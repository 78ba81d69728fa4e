"""MatrixClient (the nio boundary) against a small local homeserver stand-in.

The real-Synapse end-to-end tests live in tests/e2e; here a local aiohttp
server scripts exactly the sync answers that are hard to provoke from
Synapse on demand (a 502 mid-run, history after a join, edits).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from bot.client import MatrixClient
from bot.config import BotConfig
from bot.events import EncryptedRoom, IncomingMessage, Invite
from bot.state import BotState

BOT = "@qunzu:localhost"
ALICE = "@alice:localhost"
ROOM = "!room:localhost"
DM = "!dm:localhost"


def _msg(
    event_id: str, body: str, *, sender: str = ALICE, ts: int = 1000, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "type": "m.room.message",
        "event_id": event_id,
        "sender": sender,
        "origin_server_ts": ts,
        "content": {"msgtype": "m.text", "body": body, **(extra or {})},
    }


def _member(user: str, membership: str, *, sender: str | None = None, **content: Any) -> dict[str, Any]:
    return {
        "type": "m.room.member",
        "event_id": f"$m-{user}-{membership}",
        "sender": sender or user,
        "state_key": user,
        "origin_server_ts": 1000,
        "content": {"membership": membership, **content},
    }


def _sync(next_batch: str, *, join: dict[str, list[dict[str, Any]]] | None = None, invite: Any = None) -> Any:
    rooms: dict[str, Any] = {"join": {}, "invite": {}, "leave": {}}
    for room_id, events in (join or {}).items():
        rooms["join"][room_id] = {"timeline": {"events": events, "limited": False}, "state": {"events": []}}
    for room_id, state in (invite or {}).items():
        rooms["invite"][room_id] = {"invite_state": {"events": state}}
    return {"next_batch": next_batch, "rooms": rooms}


@dataclass
class Homeserver:
    """Serves scripted /sync answers in order; then long-polls until cancelled."""

    answers: list[Any] = field(default_factory=list)
    sync_since: list[str | None] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    async def whoami(self, request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == "Bearer tok"
        return web.json_response({"user_id": BOT, "device_id": "DEV"})

    async def sync(self, request: web.Request) -> web.StreamResponse:
        self.sync_since.append(request.query.get("since"))
        if not self.answers:
            await asyncio.sleep(3600)
        answer = self.answers.pop(0)
        if isinstance(answer, int):
            return web.Response(status=answer, text="<html>bad gateway</html>", content_type="text/html")
        return web.json_response(answer)

    async def send(self, request: web.Request) -> web.Response:
        self.sent.append({"room": request.match_info["room"], **json.loads(await request.text())})
        return web.json_response({"event_id": f"$reply{len(self.sent)}"})


@pytest.fixture
async def homeserver() -> AsyncIterator[Homeserver]:
    hs = Homeserver()
    app = web.Application()
    app.router.add_get("/_matrix/client/v3/account/whoami", hs.whoami)
    app.router.add_get("/_matrix/client/v3/sync", hs.sync)
    app.router.add_put("/_matrix/client/v3/rooms/{room}/send/{type}/{txn}", hs.send)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    hs.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield hs
    await runner.cleanup()


@dataclass
class Sink:
    messages: list[IncomingMessage] = field(default_factory=list)
    invites: list[Invite] = field(default_factory=list)
    encrypted: list[EncryptedRoom] = field(default_factory=list)
    synced: int = 0
    wanted: int = 1
    done: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_message(self, message: IncomingMessage) -> None:
        self.messages.append(message)

    async def on_invite(self, invite: Invite) -> None:
        self.invites.append(invite)

    async def on_encrypted_room(self, room: EncryptedRoom) -> None:
        self.encrypted.append(room)

    async def on_synced(self) -> None:
        self.synced += 1
        if self.synced >= self.wanted:
            self.done.set()


async def _client(hs: Homeserver, tmp_path: Any, delays: list[float]) -> tuple[MatrixClient, BotState]:
    state = await BotState.open(tmp_path / "state.sqlite")
    config = BotConfig.model_validate(
        {"homeserver": hs.url, "user_id": BOT, "access_token": "tok", "state_db": str(tmp_path / "s")}
    )

    async def sleep(delay: float) -> None:
        delays.append(delay)

    client = MatrixClient(config, state, sleep=sleep)
    await client.login()
    return client, state


async def _run_until(client: MatrixClient, sink: Sink) -> None:
    ready = asyncio.Event()
    task = asyncio.create_task(client.sync_loop(sink, ready))
    try:
        await asyncio.wait_for(sink.done.wait(), 10)
        assert ready.is_set()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def _delivered(hs: Homeserver, tmp_path: Any, sink: Sink | None = None) -> Sink:
    """Run a fresh client over `hs`'s scripted syncs until `sink` has what it waits for."""
    sink = sink or Sink()
    client, state = await _client(hs, tmp_path, [])
    try:
        await _run_until(client, sink)
    finally:
        await client.close()
        await state.close()
    return sink


async def test_first_start_skips_old_messages_and_later_resumes_from_the_saved_token(homeserver, tmp_path):
    homeserver.answers = [
        # Initial sync: an old command and a pending direct-chat invite.
        _sync(
            "t1",
            join={ROOM: [_msg("$old", "!help")]},
            invite={DM: [_member(BOT, "invite", sender=ALICE, is_direct=True)]},
        ),
        502,  # Synapse restarting behind a proxy
        _sync("t2", join={ROOM: [_msg("$new", "!help")]}),
    ]
    delays: list[float] = []
    client, state = await _client(homeserver, tmp_path, delays)
    sink = Sink()
    try:
        await _run_until(client, sink)
    finally:
        await client.close()
    assert [m.event_id for m in sink.messages] == ["$new"]
    assert sink.invites == [Invite(DM, ALICE, is_direct=True)]
    assert delays == [1.0]  # one back-off after the 502, reset afterwards
    assert homeserver.sync_since[:3] == [None, "t1", "t1"]
    assert await state.sync_token() == "t2"
    assert await state.direct_rooms() == {DM}
    await state.close()

    # Restart: resume from t2, never from the beginning.
    homeserver.answers = [_sync("t3", join={ROOM: [_msg("$later", "!help")]})]
    homeserver.sync_since.clear()
    client, state = await _client(homeserver, tmp_path, delays)
    sink = Sink()
    try:
        await _run_until(client, sink)
    finally:
        await client.close()
        await state.close()
    assert homeserver.sync_since[0] == "t2"
    assert [m.event_id for m in sink.messages] == ["$later"]


async def test_history_before_our_join_edits_and_notices_are_not_delivered(homeserver, tmp_path):
    await _prime(homeserver, tmp_path)
    reply_body = "> <@bob:localhost> spam\n\n!report fraud"
    homeserver.answers = [
        _sync(
            "t2",
            join={
                ROOM: [
                    _msg("$history", "!help"),
                    _member(BOT, "join"),
                    _msg("$notice", "!help", extra={"msgtype": "m.notice"}),
                    _msg("$edit", "* !help", extra={"m.relates_to": {"rel_type": "m.replace", "event_id": "$x"}}),
                    _msg(
                        "$reply",
                        reply_body,
                        ts=2000,
                        extra={
                            "format": "org.matrix.custom.html",
                            "formatted_body": "<mx-reply><blockquote>spam</blockquote></mx-reply>!report fraud",
                            "m.relates_to": {"m.in_reply_to": {"event_id": "$spam"}},
                        },
                    ),
                    _msg("$own", "!help", sender=BOT),
                ]
            },
        )
    ]
    sink = await _delivered(homeserver, tmp_path)
    assert [m.event_id for m in sink.messages] == ["$reply", "$own"]  # own ones: the dispatcher drops them
    reply = sink.messages[0]
    assert reply.body == "!report fraud"
    assert reply.formatted_body == "!report fraud"
    assert reply.reply_to_event_id == "$spam"
    assert reply.server_ts == 2000
    assert reply.is_direct is False


async def test_direct_chat_is_an_invited_dm_of_two(homeserver, tmp_path):
    homeserver.answers = [
        _sync("t1", invite={DM: [_member(BOT, "invite", sender=ALICE, is_direct=True)]}),
        _sync(
            "t2",
            join={
                DM: [_member(ALICE, "join"), _member(BOT, "join"), _msg("$me", "!me")],
                ROOM: [_member(ALICE, "join"), _member(BOT, "join"), _msg("$me2", "!me")],
            },
        ),
    ]
    sink = await _delivered(homeserver, tmp_path)
    assert {m.event_id: m.is_direct for m in sink.messages} == {"$me": True, "$me2": False}


async def test_a_direct_chat_first_seen_joined_is_direct_by_the_invite_its_join_replaced(homeserver, tmp_path):
    # The module's follower may join the service account before the bot's sync sees the invite:
    # the room then arrives joined, its direct invite only in the join's prev_content.
    def joined_by_the_module(**invite: Any) -> dict[str, Any]:
        join = _member(BOT, "join")
        join["unsigned"] = {"prev_content": {"membership": "invite", **invite}}
        return join

    homeserver.answers = [
        _sync(
            "t1",
            join={
                DM: [_member(ALICE, "join"), joined_by_the_module(is_direct=True), _msg("$appeal", "!appeal")],
                ROOM: [_member(ALICE, "join"), joined_by_the_module(), _msg("$me", "!me")],
            },
        ),
        _sync("t2", join={DM: [_msg("$appeal2", "!appeal 请复核")], ROOM: [_msg("$me2", "!me")]}),
    ]
    # The first sync is the initial one (it finds the chats); t2 brings the messages.
    sink = await _delivered(homeserver, tmp_path)
    assert {m.event_id: m.is_direct for m in sink.messages} == {"$appeal2": True, "$me2": False}
    # Remembered across restarts, like a direct chat whose invite the bot saw.
    state = await BotState.open(tmp_path / "state.sqlite")
    try:
        assert DM in await state.direct_rooms() and ROOM not in await state.direct_rooms()
    finally:
        await state.close()


def _create(sender: str, **content: Any) -> dict[str, Any]:
    return {
        "type": "m.room.create",
        "event_id": f"$create-{sender}",
        "sender": sender,
        "state_key": "",
        "origin_server_ts": 900,
        "content": {"room_version": "12", **content},
    }


async def test_the_notice_chat_the_bot_opened_is_a_direct_chat(homeserver, tmp_path):
    notice, forged = "!notice:localhost", "!forged:localhost"
    homeserver.answers = [
        _sync(
            "t1",
            join={
                # Measure notices say "reply here with !appeal": the module opens it as the bot.
                notice: [_create(BOT, **{"cn.qunzu.notices": True}), _member(BOT, "join"), _member(ALICE, "join")],
                # The mark in a room someone else created means nothing.
                forged: [_create(ALICE, **{"cn.qunzu.notices": True}), _member(ALICE, "join"), _member(BOT, "join")],
            },
        ),
        _sync("t2", join={notice: [_msg("$appeal", "!appeal sn_1 请复核")], forged: [_msg("$me", "!me")]}),
    ]
    # The first sync is the initial one (it finds the chats); t2 brings the messages.
    sink = await _delivered(homeserver, tmp_path)
    assert {m.event_id: m.is_direct for m in sink.messages} == {"$appeal": True, "$me": False}


async def test_send_text_is_a_notice_reply(homeserver, tmp_path):
    client, state = await _client(homeserver, tmp_path, [])
    try:
        event_id = await client.send_text(ROOM, "你好", reply_to="$cmd")
    finally:
        await client.close()
        await state.close()
    assert event_id == "$reply1"
    assert homeserver.sent == [
        {"room": ROOM, "msgtype": "m.notice", "body": "你好", "m.relates_to": {"m.in_reply_to": {"event_id": "$cmd"}}}
    ]


async def _prime(hs: Homeserver, tmp_path: Any) -> None:
    # A state db that already has a sync token (the bot ran before).
    state = await BotState.open(tmp_path / "state.sqlite")
    await state.set_sync_token("t1")
    await state.close()


def _encryption() -> dict[str, Any]:
    return {
        "type": "m.room.encryption",
        "event_id": "$enc",
        "sender": ALICE,
        "state_key": "",
        "origin_server_ts": 1000,
        "content": {"algorithm": "m.megolm.v1.aes-sha2"},
    }


async def test_encrypted_rooms_are_reported_once_with_their_dm_flag(homeserver, tmp_path):
    homeserver.answers = [
        _sync("t1", invite={DM: [_member(BOT, "invite", sender=ALICE, is_direct=True)]}),
        _sync(
            "t2",
            join={
                DM: [_member(ALICE, "join"), _encryption(), _member(BOT, "join")],
                ROOM: [_member(ALICE, "join"), _member(BOT, "join"), _msg("$plain", "!help")],
            },
        ),
        _sync("t3", join={DM: [_msg("$plain-in-dm", "!help")], ROOM: [_encryption()]}),
    ]
    sink = await _delivered(homeserver, tmp_path, Sink(wanted=2))
    assert sink.encrypted == [EncryptedRoom(DM, is_direct=True), EncryptedRoom(ROOM, is_direct=False)]
    # Plain messages in an encrypted room are still delivered.
    assert [m.event_id for m in sink.messages] == ["$plain", "$plain-in-dm"]
