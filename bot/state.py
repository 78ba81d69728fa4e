"""The bot's own small state (aiosqlite): session, sync token, handled
command events, outbox, direct and encrypted rooms. Every SQL statement of
the bot is in this file.

Compliance state never lives here (DESIGN §2): losing this file only means the
bot logs in again and skips the history it has not seen.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Self

import aiosqlite

from bot.errors import StateError
from bot.events import Clock, now_ms, system_clock

logger = logging.getLogger(__name__)

# Each entry migrates from version i to i+1; PRAGMA user_version holds the count applied.
_MIGRATIONS: Final[tuple[str, ...]] = (
    """
    CREATE TABLE kv (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE handled_events (
        event_id   TEXT PRIMARY KEY,
        handled_ms INTEGER NOT NULL
    );
    CREATE INDEX handled_events_by_time ON handled_events (handled_ms);
    CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        room_id         TEXT NOT NULL,
        body            TEXT NOT NULL,
        reply_to        TEXT,
        notice          INTEGER NOT NULL,
        txn_id          TEXT NOT NULL,
        created_ms      INTEGER NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL
    );
    CREATE INDEX outbox_due ON outbox (next_attempt_ms);
    CREATE TABLE direct_rooms (
        room_id TEXT PRIMARY KEY
    );
    """,
    """
    CREATE TABLE encrypted_rooms (
        room_id  TEXT PRIMARY KEY,
        found_ms INTEGER NOT NULL
    );
    """,
    # The moderation desk (bot/desk.py): what was announced once, and the reminder schedule
    # that APScheduler's in-memory scheduler is re-armed from at every start.
    """
    CREATE TABLE announced (
        kind TEXT NOT NULL,
        key  TEXT NOT NULL,
        ms   INTEGER NOT NULL,
        PRIMARY KEY (kind, key)
    );
    CREATE TABLE schedule (
        id      TEXT PRIMARY KEY,
        kind    TEXT NOT NULL,
        due_ms  INTEGER NOT NULL,
        payload TEXT NOT NULL
    );
    """,
)
SCHEMA_VERSION: Final = len(_MIGRATIONS)

_SYNC_TOKEN: Final = "sync_token"
_USER_ID: Final = "session.user_id"
_DEVICE_ID: Final = "session.device_id"
_ACCESS_TOKEN: Final = "session.access_token"

#: Outbox retry delay cap (seconds) and the attempts after which a message is dropped.
OUTBOX_MAX_DELAY_S: Final = 3600
OUTBOX_MAX_ATTEMPTS: Final = 12


@dataclass(frozen=True)
class Session:
    """A saved login: reused at restart so the bot keeps one device."""

    user_id: str
    device_id: str
    access_token: str | None


@dataclass(frozen=True)
class OutboxItem:
    """A message waiting to be sent.

    ``txn_id`` stays the same across attempts so the homeserver drops a
    duplicate when an earlier attempt did arrive after all.
    """

    id: int
    room_id: str
    body: str
    reply_to: str | None
    notice: bool
    txn_id: str
    attempts: int


@dataclass(frozen=True)
class ScheduledItem:
    """A reminder or digest the desk fires at ``due_ms`` (persisted so restarts keep it)."""

    id: str
    kind: str
    due_ms: int
    payload: str


class BotState:
    """Async handle on the state database. Create with :meth:`open`."""

    def __init__(self, db: aiosqlite.Connection, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    @classmethod
    async def open(cls, path: str | Path, clock: Clock = system_clock) -> Self:
        """Open (creating and migrating as needed) the database at ``path``.

        Raises:
            StateError: The file cannot be opened or has a newer schema.
        """
        path = Path(path)
        fresh = not path.exists()
        try:
            if path.parent != Path():
                path.parent.mkdir(parents=True, exist_ok=True)
            db = await aiosqlite.connect(path)
        except (OSError, aiosqlite.Error) as exc:
            raise StateError(f"cannot open state database {path}: {exc}") from exc
        if fresh:
            # It holds the bot's access token: only the bot's user may read it.
            os.chmod(path, 0o600)
        state = cls(db, clock)
        try:
            await state._migrate()
        except BaseException:
            await db.close()
            raise
        return state

    async def close(self) -> None:
        """Close the database."""
        await self._db.close()

    async def _migrate(self) -> None:
        try:
            await self._db.execute("PRAGMA journal_mode=WAL")
            async with self._db.execute("PRAGMA user_version") as cur:
                row = await cur.fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise StateError(f"state database has schema {version}, this bot knows {SCHEMA_VERSION}")
            for target in range(version + 1, SCHEMA_VERSION + 1):
                await self._db.executescript(
                    f"BEGIN; {_MIGRATIONS[target - 1]} PRAGMA user_version = {target}; COMMIT;"
                )
                logger.info("state database migrated to schema %s", target)
        except aiosqlite.Error as exc:
            raise StateError(f"state database unusable: {exc}") from exc

    async def schema_version(self) -> int:
        """The applied schema version."""
        async with self._db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    # --- key-value -----------------------------------------------------------

    async def get(self, key: str) -> str | None:
        """The value stored under ``key``, or None."""
        async with self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)) as cur:
            row = await cur.fetchone()
        return None if row is None else str(row[0])

    async def put(self, key: str, value: str | None) -> None:
        """Store ``value`` under ``key``; None deletes the key."""
        if value is None:
            await self._db.execute("DELETE FROM kv WHERE key = ?", (key,))
        else:
            await self._db.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
        await self._db.commit()

    async def sync_token(self) -> str | None:
        """The ``next_batch`` of the last fully handled sync, or None."""
        return await self.get(_SYNC_TOKEN)

    async def set_sync_token(self, token: str) -> None:
        """Remember ``token`` as the point to resume syncing from."""
        await self.put(_SYNC_TOKEN, token)

    async def session(self) -> Session | None:
        """The saved login, or None."""
        user_id, device_id = await self.get(_USER_ID), await self.get(_DEVICE_ID)
        if user_id is None or device_id is None:
            return None
        return Session(user_id, device_id, await self.get(_ACCESS_TOKEN))

    async def save_session(self, session: Session) -> None:
        """Remember the login (the device id is kept even when the token is dropped)."""
        await self.put(_USER_ID, session.user_id)
        await self.put(_DEVICE_ID, session.device_id)
        await self.put(_ACCESS_TOKEN, session.access_token)

    # --- direct chats ---------------------------------------------------------

    async def add_direct_room(self, room_id: str) -> None:
        """Remember that the bot was invited to ``room_id`` as a direct chat."""
        await self._db.execute("INSERT OR IGNORE INTO direct_rooms (room_id) VALUES (?)", (room_id,))
        await self._db.commit()

    async def direct_rooms(self) -> set[str]:
        """Rooms the bot was invited to as direct chats."""
        async with self._db.execute("SELECT room_id FROM direct_rooms") as cur:
            return {str(row[0]) for row in await cur.fetchall()}

    async def claim_encrypted_room(self, room_id: str) -> bool:
        """Remember that ``room_id`` is encrypted; True only the first time.

        So the bot says so once per room, not after every restart.
        """
        cur = await self._db.execute(
            "INSERT OR IGNORE INTO encrypted_rooms (room_id, found_ms) VALUES (?, ?)",
            (room_id, now_ms(self._clock)),
        )
        await self._db.commit()
        return cur.rowcount == 1

    # --- handled events ------------------------------------------------------

    async def claim_event(self, event_id: str) -> bool:
        """Mark ``event_id`` handled; True only the first time (at-most-once).

        The claim comes before the handler runs: a crash mid-command loses that
        command rather than running it twice after a sync replay.
        """
        cur = await self._db.execute(
            "INSERT OR IGNORE INTO handled_events (event_id, handled_ms) VALUES (?, ?)",
            (event_id, now_ms(self._clock)),
        )
        await self._db.commit()
        return cur.rowcount == 1

    async def is_handled(self, event_id: str) -> bool:
        """Whether ``event_id`` was claimed before."""
        async with self._db.execute("SELECT 1 FROM handled_events WHERE event_id = ?", (event_id,)) as cur:
            return await cur.fetchone() is not None

    async def prune_handled(self, max_age_s: float) -> int:
        """Forget handled events older than ``max_age_s``; returns how many.

        Sync never replays further back than the saved token, so old ids only
        take space.
        """
        cutoff = now_ms(self._clock) - int(max_age_s * 1000)
        cur = await self._db.execute("DELETE FROM handled_events WHERE handled_ms < ?", (cutoff,))
        await self._db.commit()
        return cur.rowcount

    # --- outbox ---------------------------------------------------------------

    async def enqueue(self, room_id: str, body: str, *, reply_to: str | None = None, notice: bool = True) -> int:
        """Queue a message to send as soon as possible; returns its id."""
        now = now_ms(self._clock)
        cur = await self._db.execute(
            "INSERT INTO outbox (room_id, body, reply_to, notice, txn_id, created_ms,"
            " next_attempt_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (room_id, body, reply_to, int(notice), f"qunzu-{uuid.uuid4().hex}", now, now),
        )
        await self._db.commit()
        assert cur.lastrowid is not None
        return cur.lastrowid

    async def due(self, limit: int = 20) -> list[OutboxItem]:
        """Messages whose next attempt is due, oldest first."""
        async with self._db.execute(
            "SELECT id, room_id, body, reply_to, notice, txn_id, attempts FROM outbox"
            " WHERE next_attempt_ms <= ? ORDER BY id LIMIT ?",
            (now_ms(self._clock), limit),
        ) as cur:
            rows = await cur.fetchall()
        return [OutboxItem(int(r[0]), str(r[1]), str(r[2]), r[3], bool(r[4]), str(r[5]), int(r[6])) for r in rows]

    async def mark_sent(self, item_id: int) -> None:
        """Remove a sent message (its text is not kept once delivered)."""
        await self._db.execute("DELETE FROM outbox WHERE id = ?", (item_id,))
        await self._db.commit()

    async def mark_failed(self, item_id: int, *, permanent: bool = False) -> bool:
        """Record a failed attempt and schedule the next with exponential backoff.

        Args:
            item_id: The outbox id.
            permanent: The failure will not go away (e.g. the bot was removed
                from the room): drop the message now.

        Returns:
            True when the message was dropped (permanent or too many attempts).
        """
        async with self._db.execute("SELECT attempts FROM outbox WHERE id = ?", (item_id,)) as cur:
            row = await cur.fetchone()
        if row is None:
            return True
        attempts = int(row[0]) + 1
        if permanent or attempts >= OUTBOX_MAX_ATTEMPTS:
            await self._db.execute("DELETE FROM outbox WHERE id = ?", (item_id,))
            await self._db.commit()
            return True
        delay_ms = min(2**attempts, OUTBOX_MAX_DELAY_S) * 1000
        await self._db.execute(
            "UPDATE outbox SET attempts = ?, next_attempt_ms = ? WHERE id = ?",
            (attempts, now_ms(self._clock) + delay_ms, item_id),
        )
        await self._db.commit()
        return False

    async def outbox_size(self) -> int:
        """Messages still waiting."""
        async with self._db.execute("SELECT COUNT(*) FROM outbox") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    # --- moderation desk -------------------------------------------------------

    async def claim_announcement(self, kind: str, key: str) -> bool:
        """Remember that ``kind``/``key`` (a ticket, a pending review …) was announced; True the first time."""
        cur = await self._db.execute(
            "INSERT OR IGNORE INTO announced (kind, key, ms) VALUES (?, ?, ?)", (kind, key, now_ms(self._clock))
        )
        await self._db.commit()
        return cur.rowcount == 1

    async def add_schedule(self, item: ScheduledItem) -> bool:
        """Persist a scheduled reminder; True when it was new (ids are stable per ticket and kind)."""
        cur = await self._db.execute(
            "INSERT OR IGNORE INTO schedule (id, kind, due_ms, payload) VALUES (?, ?, ?, ?)",
            (item.id, item.kind, item.due_ms, item.payload),
        )
        await self._db.commit()
        return cur.rowcount == 1

    async def schedules(self) -> list[ScheduledItem]:
        """Every persisted reminder, soonest first."""
        async with self._db.execute("SELECT id, kind, due_ms, payload FROM schedule ORDER BY due_ms, id") as cur:
            rows = await cur.fetchall()
        return [ScheduledItem(str(r[0]), str(r[1]), int(r[2]), str(r[3])) for r in rows]

    async def remove_schedule(self, item_id: str) -> bool:
        """Forget a reminder once it fired (or is moot); True when it was still there."""
        cur = await self._db.execute("DELETE FROM schedule WHERE id = ?", (item_id,))
        await self._db.commit()
        return cur.rowcount == 1
