"""The module's stores and services in-process: real SQLite or PostgreSQL, a fake ModuleApi, a movable clock.

- `Txn` / `Database`: what the `_<verb>_txn` functions use of Synapse's
  `LoggingTransaction` and `run_db_interaction`, over a DB-API connection.
- `MovableClock`: the module's `Clock`, set and moved by the test.
- `FakeModuleApi`: the part of `ModuleApi` the stores and services call, on a
  `Database`; callbacks, web resources and looping calls are recorded, not run.
  Anything else raises `NotImplementedError` naming the method, so a service
  that needs more of Synapse says so instead of misbehaving.

What only a real Synapse proves (its callbacks' order, state resolution,
what a client receives) stays in tests/e2e.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar, cast

import psycopg2
import psycopg2.errors
from synapse.module_api import LoggingTransaction, ModuleApi

from synapse_module.migrations import MIGRATIONS, migrate_txn
from synapse_module.module import QunzuModule
from synapse_module.store.groups import GroupRecord, NewGroup

T = TypeVar("T")
NOW = 1_700_000_000_000
SERVER = "localhost"
SERVICE = "@qunzu:localhost"

# The Synapse tables the module reads (store/synapse_tables.py), reduced to the columns it reads.
SYNAPSE_TABLES = (
    "CREATE TABLE IF NOT EXISTS current_state_events"
    " (event_id TEXT, room_id TEXT, type TEXT, state_key TEXT, membership TEXT)",
    "CREATE TABLE IF NOT EXISTS local_current_membership (room_id TEXT, user_id TEXT, event_id TEXT, membership TEXT)",
    "CREATE TABLE IF NOT EXISTS room_aliases (room_alias TEXT, room_id TEXT)",
)

# Synapse retries a transaction this many times on a serialization failure or deadlock, then raises
# (synapse/storage/database.py `new_transaction`); the module's own retries (`run_contended`) come on top.
SYNAPSE_TXN_ATTEMPTS = 5
_TRANSIENT = (psycopg2.errors.SerializationFailure, psycopg2.errors.DeadlockDetected)


class Txn:
    """What the store functions use of Synapse's LoggingTransaction, over a DB-API cursor."""

    def __init__(self, cursor: Any, postgres: bool) -> None:
        self._cursor = cursor
        self._postgres = postgres
        name = "psycopg2" if postgres else "sqlite3"
        self.database_engine = SimpleNamespace(module=SimpleNamespace(__name__=name))

    def execute(self, sql: str, args: Any = ()) -> None:
        self._cursor.execute(sql.replace("?", "%s") if self._postgres else sql, tuple(args))

    def execute_batch(self, sql: str, rows: Any) -> None:
        for row in rows:
            self.execute(sql, row)

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self._cursor.fetchall())

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)

    @property
    def description(self) -> Any:
        return self._cursor.description


class Database:
    """Runs transaction functions like `run_db_interaction`: commit, or roll back and retry on conflict.

    One connection per thread; PostgreSQL transactions run at REPEATABLE READ as Synapse's do.
    SQLite has one writer: its transactions are serialised by a lock, as Synapse's single connection does.
    """

    def __init__(self, connect: Callable[[], Any], postgres: bool) -> None:
        self._connect = connect
        self.postgres = postgres
        self._local = threading.local()
        self._sqlite_lock = threading.Lock()

    def _connection(self) -> Any:
        if getattr(self._local, "connection", None) is None:
            connection = self._connect()
            if self.postgres:
                connection.set_session(isolation_level="REPEATABLE READ")
            self._local.connection = connection
        return self._local.connection

    def run(self, func: Callable[..., T], *args: Any, attempts: int = 200) -> T:
        """Run `func(txn, *args)` in a transaction; retry a conflict up to `attempts` times, then raise it."""
        if not self.postgres:
            with self._sqlite_lock:
                return self._run(func, args, attempts)
        return self._run(func, args, attempts)

    def _run(self, func: Callable[..., T], args: tuple[Any, ...], attempts: int) -> T:
        connection = self._connection()
        for attempt in range(1, attempts + 1):
            try:
                result = func(Txn(connection.cursor(), self.postgres), *args)
                connection.commit()
                return result
            except _TRANSIENT:
                connection.rollback()
                if attempt == attempts:
                    raise
            except BaseException:
                connection.rollback()
                raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close this thread's connection (PostgreSQL copies no template another session is connected to)."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one statement (`?` placeholders) and return its rows, if it has any."""

        def select_txn(txn: Txn) -> list[tuple[Any, ...]]:
            txn.execute(sql, args)
            return [tuple(row) for row in txn.fetchall()] if txn.description else []

        return self.run(select_txn)

    def join(self, room_id: str, user_id: str) -> None:
        """A join landing in Synapse's tables."""
        self.run(join_txn, room_id, user_id)


def join_txn(txn: Txn, room_id: str, user_id: str) -> None:
    txn.execute("INSERT INTO current_state_events VALUES (?, ?, 'm.room.member', ?, 'join')", ("$e", room_id, user_id))
    txn.execute("INSERT INTO local_current_membership VALUES (?, ?, '$e', 'join')", (room_id, user_id))


def setup_txn(txn: Txn, version: int | None = None) -> None:
    """Synapse's tables (reduced) and the module's schema up to `version` (all migrations by default)."""
    for statement in SYNAPSE_TABLES:
        txn.execute(statement)
    migrations = tuple(m for m in MIGRATIONS if version is None or m.version <= version)
    migrate_txn(cast(LoggingTransaction, txn), "test", NOW, migrations)


def sqlite_database(path: Path) -> Database:
    return Database(lambda: sqlite3.connect(path, check_same_thread=False), postgres=False)


def postgres_database(dsn: str) -> Database:
    return Database(lambda: psycopg2.connect(dsn), postgres=True)


class MovableClock:
    """The module's `Clock` (synapse_module/clock.py), moved only by the test."""

    def __init__(self, now_ms: int = NOW) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


class FakeAccountData:
    """The account data manager: global account data kept in memory, every write in `writes`."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, str, dict[str, Any]]] = []

    async def put_global(self, user_id: str, data_type: str, new_data: dict[str, Any]) -> None:
        self.writes.append((user_id, data_type, dict(new_data)))

    async def get_global(self, user_id: str, data_type: str) -> dict[str, Any] | None:
        written = [data for user, kind, data in self.writes if (user, kind) == (user_id, data_type)]
        return written[-1] if written else None


class FakeModuleApi:
    """The ModuleApi of one process, on a real database and a movable clock.

    Registered callbacks and resources are kept in `callbacks` / `resources`
    so a test can call them; looping calls in `looping_calls` (a test runs
    one by hand, after moving the clock). Background processes run as
    asyncio tasks; `settle()` waits for them.
    """

    def __init__(
        self,
        database: Database,
        clock: MovableClock,
        *,
        server_name: str = SERVER,
        worker_name: str | None = None,
        admins: set[str] | None = None,
    ) -> None:
        self.database = database
        self.clock = clock
        self.server_name = server_name
        self.worker_name = worker_name
        self.admins = admins if admins is not None else set()
        self.callbacks: dict[str, list[Callable[..., Any]]] = {}
        self.resources: dict[str, Any] = {}
        self.looping_calls: list[tuple[Callable[..., Any], float, tuple[Any, ...]]] = []
        self.cached_functions: list[Any] = []
        self._background_tasks = worker_name is None
        self._tasks: set[asyncio.Future[Any]] = set()
        self.account_data_manager = FakeAccountData()
        # Rooms' current state, as `get_room_state` reads it and `create_and_send_event_into_room` writes it.
        self.room_state: dict[str, dict[tuple[str, str], SimpleNamespace]] = {}
        self.sent_events: list[dict[str, Any]] = []

    def as_module_api(self) -> ModuleApi:
        """This fake, typed as what the module's constructors take."""
        return cast(ModuleApi, self)

    # --- the database and the clock ---

    async def run_db_interaction(self, desc: str, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(
            self.database.run, lambda txn: func(txn, *args, **kwargs), attempts=SYNAPSE_TXN_ATTEMPTS
        )

    def get_current_time_msec(self) -> int:
        return self.clock.now_ms()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    # --- room state (no event auth: what is sent is stored) ---

    async def get_room_state(
        self, room_id: str, event_filter: list[tuple[str, str | None]] | None = None
    ) -> dict[tuple[str, str], SimpleNamespace]:
        state = self.room_state.get(room_id, {})
        if event_filter is None:
            return dict(state)
        return {key: event for key, event in state.items() if (key[0], key[1]) in event_filter}

    async def create_and_send_event_into_room(self, event: dict[str, Any]) -> SimpleNamespace:
        self.sent_events.append(event)
        sent = SimpleNamespace(
            type=event["type"],
            state_key=event.get("state_key"),
            room_id=event["room_id"],
            sender=event["sender"],
            content=dict(event["content"]),
            membership=event["content"].get("membership"),
        )
        if sent.state_key is not None:
            self.room_state.setdefault(sent.room_id, {})[(sent.type, sent.state_key)] = sent
        return sent

    # --- identity ---

    def is_mine(self, id: str) -> bool:
        return id.rsplit(":", 1)[-1] == self.server_name

    async def is_user_admin(self, user_id: str) -> bool:
        return user_id in self.admins

    async def get_userinfo_by_id(self, user_id: str) -> SimpleNamespace | None:
        """From Synapse's `users` table: the fields the module reads (appservice, guest, deactivated)."""
        rows = self.database.query("SELECT appservice_id, is_guest, deactivated FROM users WHERE name = ?", (user_id,))
        if not rows:
            return None
        appservice_id, is_guest, deactivated = rows[0]
        return SimpleNamespace(appservice_id=appservice_id, is_guest=bool(is_guest), is_deactivated=bool(deactivated))

    # --- registration: recorded ---

    def _record(self, **callbacks: Any) -> None:
        for name, callback in callbacks.items():
            if callback is not None:
                self.callbacks.setdefault(name, []).append(callback)

    def register_spam_checker_callbacks(self, **callbacks: Any) -> None:
        self._record(**callbacks)

    def register_third_party_rules_callbacks(self, **callbacks: Any) -> None:
        self._record(**callbacks)

    def register_account_validity_callbacks(self, **callbacks: Any) -> None:
        self._record(**callbacks)

    def register_web_resource(self, path: str, resource: Any) -> None:
        self.resources[path] = resource

    def looping_background_call(self, f: Callable[..., Any], msec: float, *args: Any, **kwargs: Any) -> None:
        self.looping_calls.append((f, msec, args))

    def should_run_background_tasks(self) -> bool:
        return self._background_tasks

    def register_cached_function(self, cached_func: Any) -> None:
        self.cached_functions.append(cached_func)

    async def invalidate_cache(self, cached_func: Any, keys: tuple[Any, ...]) -> None:
        # One process: the caller's own invalidation is all there is (no replication to other workers).
        cached_func.invalidate(keys)

    def run_as_background_process(
        self, desc: str, func: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any
    ) -> None:
        task: asyncio.Future[Any] = asyncio.ensure_future(func(*args, **kwargs))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait for every background process started so far (and those they start)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    def __getattr__(self, name: str) -> Any:
        raise NotImplementedError(f"FakeModuleApi.{name}: this test needs a real Synapse (tests/e2e)")


def insert_event(
    db: Database,
    n: int,
    sender: str,
    room: str,
    ts: int,
    *,
    kind: str = "m.room.message",
    state_key: str | None = None,
    outlier: bool = False,
) -> str:
    """Write an event into Synapse's `events` and `event_json` tables; returns its id (`$e<n>`)."""
    event_id = f"$e{n}"
    content = {"msgtype": "m.text", "body": f"message {n}"}
    db.query(
        "INSERT INTO events (stream_ordering, topological_ordering, event_id, type, room_id, processed, outlier,"
        " origin_server_ts, sender, state_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (n, n, event_id, kind, room, True, outlier, ts, sender, state_key),
    )
    body = json.dumps({"type": kind, "sender": sender, "room_id": room, "content": content})
    db.query(
        "INSERT INTO event_json (event_id, room_id, internal_metadata, json, format_version) VALUES (?, ?, ?, ?, ?)",
        (event_id, room, "{}", body, 3),
    )
    return event_id


async def linked_group(module: QunzuModule, room_id: str, code: str, *, category: str, creator: str) -> GroupRecord:
    """A group of the smallest scale and activity tiers, registered under `code` and linked to `room_id`."""
    policy = module.config.policy
    reservation = await module.store.groups.reserve(
        NewGroup(
            codes=(code,),
            category=category,
            creator=creator,
            scale_tier=policy.scale_tiers.tiers[0].name,
            activity_tier=policy.activity_tiers.tiers[0].name,
            verification_dm=False,
        ),
        None,
    )
    assert reservation.code is not None and await module.store.groups.link(reservation.code, room_id)
    record = await module.groups.record.get(room_id)
    assert record is not None
    return record
