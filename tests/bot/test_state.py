"""The bot's own state on a real SQLite file."""

from __future__ import annotations

import sqlite3
import stat

import pytest

from bot.errors import StateError
from bot.state import OUTBOX_MAX_ATTEMPTS, SCHEMA_VERSION, BotState, Session


async def test_sync_token_and_session_survive_a_restart(tmp_path, clock):
    path = tmp_path / "state.sqlite"
    st = await BotState.open(path, clock)
    assert await st.sync_token() is None
    assert await st.session() is None
    await st.set_sync_token("s1_2_3")
    await st.save_session(Session("@qunzu:localhost", "DEV1", "tok"))
    await st.close()

    st = await BotState.open(path, clock)
    try:
        assert await st.sync_token() == "s1_2_3"
        assert await st.session() == Session("@qunzu:localhost", "DEV1", "tok")
        await st.save_session(Session("@qunzu:localhost", "DEV1", None))
        assert await st.session() == Session("@qunzu:localhost", "DEV1", None)
        assert await st.schema_version() == SCHEMA_VERSION
    finally:
        await st.close()


async def test_state_file_is_private(tmp_path, clock):
    path = tmp_path / "sub" / "state.sqlite"
    st = await BotState.open(path, clock)
    await st.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_newer_schema_is_refused(tmp_path, clock):
    path = tmp_path / "state.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StateError, match="schema"):
        await BotState.open(path, clock)


async def test_kv_set_none_deletes(state):
    await state.put("k", "v")
    assert await state.get("k") == "v"
    await state.put("k", None)
    assert await state.get("k") is None


async def test_an_event_is_claimed_once(state):
    assert await state.claim_event("$a") is True
    assert await state.claim_event("$a") is False
    assert await state.is_handled("$a")
    assert not await state.is_handled("$b")


async def test_old_handled_ids_are_pruned(state, clock):
    await state.claim_event("$old")
    clock.now += 8 * 24 * 3600
    await state.claim_event("$new")
    assert await state.prune_handled(7 * 24 * 3600) == 1
    assert not await state.is_handled("$old")
    assert await state.is_handled("$new")


async def test_outbox_enqueue_due_and_mark_sent(state):
    first = await state.enqueue("!r:x", "one", reply_to="$e")
    second = await state.enqueue("!r:x", "two", notice=False)
    items = await state.due()
    assert [(i.id, i.body, i.reply_to, i.notice) for i in items] == [
        (first, "one", "$e", True),
        (second, "two", None, False),
    ]
    assert items[0].txn_id != items[1].txn_id
    await state.mark_sent(first)
    assert [i.id for i in await state.due()] == [second]


async def test_outbox_retries_with_backoff_and_keeps_the_txn_id(state, clock):
    item_id = await state.enqueue("!r:x", "hi")
    [before] = await state.due()
    assert await state.mark_failed(item_id) is False
    assert await state.due() == []  # not due until the backoff passed
    clock.now += 2
    [after] = await state.due()
    assert after.attempts == 1
    assert after.txn_id == before.txn_id  # the homeserver deduplicates a late first attempt


async def test_outbox_drops_after_too_many_attempts_or_permanent_failure(state, clock):
    item_id = await state.enqueue("!r:x", "hi")
    for _ in range(OUTBOX_MAX_ATTEMPTS - 1):
        assert await state.mark_failed(item_id) is False
    assert await state.mark_failed(item_id) is True
    assert await state.outbox_size() == 0

    other = await state.enqueue("!r:x", "hi")
    assert await state.mark_failed(other, permanent=True) is True
    assert await state.outbox_size() == 0


async def test_an_encrypted_room_is_claimed_once_across_restarts(tmp_path, clock):
    path = tmp_path / "state.sqlite"
    st = await BotState.open(path, clock)
    assert await st.claim_encrypted_room("!e2e:localhost") is True
    assert await st.claim_encrypted_room("!e2e:localhost") is False
    await st.close()
    st = await BotState.open(path, clock)
    try:
        assert await st.claim_encrypted_room("!e2e:localhost") is False
        assert await st.claim_encrypted_room("!other:localhost") is True
    finally:
        await st.close()


async def test_a_version_1_database_is_migrated_keeping_its_data(tmp_path, clock):
    path = tmp_path / "state.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE handled_events (event_id TEXT PRIMARY KEY, handled_ms INTEGER NOT NULL);"
            "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, room_id TEXT NOT NULL, body TEXT NOT NULL,"
            " reply_to TEXT, notice INTEGER NOT NULL, txn_id TEXT NOT NULL, created_ms INTEGER NOT NULL,"
            " attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER NOT NULL);"
            "CREATE TABLE direct_rooms (room_id TEXT PRIMARY KEY);"
            "INSERT INTO kv VALUES ('sync_token', 's9');"
            "PRAGMA user_version = 1;"
        )
    db.close()
    st = await BotState.open(path, clock)
    try:
        assert await st.schema_version() == SCHEMA_VERSION
        assert await st.sync_token() == "s9"
        assert await st.claim_encrypted_room("!e2e:localhost") is True
    finally:
        await st.close()
