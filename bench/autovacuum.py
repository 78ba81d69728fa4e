"""What PostgreSQL's autovacuum does on a production server, for a bench server without it.

Production PostgreSQL runs autovacuum: a table that changed by more than a set share since
it was last analyzed is analyzed again, and one with enough dead or newly inserted rows is
vacuumed. Test machines may turn it off (this project's CI machines do, in a `conf.d` file);
a bench on such a server measures plans made from statistics that never move again.

That is not a small effect. Synapse's summary of unread counts (`event_push_summary`) gets
one row per person and room. Analyzed after setup with only the Qunzu server's bot-chat rows
(every room id distinct), it looked as if the room id alone found one row, so PostgreSQL
looked the rows up by room and filtered 500 members' rows for each of them: Synapse's push
rotation took 1.3 to 4.4 s per run instead of 80 ms, back to back through every send round
(bench/ANALYSIS.md). Vanilla's table was empty when analyzed and was spared by chance.

`AutovacuumStandIn` runs while the harness's servers do, only when `SHOW autovacuum` says
off. Every `autovacuum_naptime` it applies autovacuum's own rules with the server's own
settings to each bench database, one table at a time, throttled by
`autovacuum_vacuum_cost_delay` and `autovacuum_vacuum_cost_limit` as autovacuum is.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.extensions

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Thresholds:
    """Autovacuum's settings, as `SHOW` gives them (PostgreSQL 13 and later)."""

    vacuum_threshold: int = 50
    vacuum_scale_factor: float = 0.2
    insert_threshold: int = 1000
    insert_scale_factor: float = 0.2
    analyze_threshold: int = 50
    analyze_scale_factor: float = 0.1
    naptime_s: float = 60.0
    cost_delay_ms: float = 2.0
    cost_limit: int = 200


@dataclass(frozen=True)
class TableActivity:
    """One row of `pg_stat_user_tables` with `pg_class.reltuples` (-1: never counted)."""

    name: str
    reltuples: float
    dead: int
    inserted_since_vacuum: int
    modified_since_analyze: int


def due(table: TableActivity, limits: Thresholds) -> list[str]:
    """What autovacuum would run on `table` now: ``VACUUM``, ``ANALYZE``, both or nothing."""
    rows = max(table.reltuples, 0.0)
    actions = []
    if (
        table.dead > limits.vacuum_threshold + limits.vacuum_scale_factor * rows
        or table.inserted_since_vacuum > limits.insert_threshold + limits.insert_scale_factor * rows
    ):
        actions.append("VACUUM")
    if table.modified_since_analyze > limits.analyze_threshold + limits.analyze_scale_factor * rows:
        actions.append("ANALYZE")
    return actions


_SETTINGS = {
    "autovacuum_vacuum_threshold": "vacuum_threshold",
    "autovacuum_vacuum_scale_factor": "vacuum_scale_factor",
    "autovacuum_vacuum_insert_threshold": "insert_threshold",
    "autovacuum_vacuum_insert_scale_factor": "insert_scale_factor",
    "autovacuum_analyze_threshold": "analyze_threshold",
    "autovacuum_analyze_scale_factor": "analyze_scale_factor",
}


def read_thresholds(cursor: Any) -> Thresholds:
    """The server's own autovacuum settings."""
    values: dict[str, Any] = {}
    cursor.execute("SELECT name, setting FROM pg_settings WHERE name LIKE 'autovacuum%' OR name = 'vacuum_cost_limit'")
    settings = dict(cursor.fetchall())
    for name, field_name in _SETTINGS.items():
        if name in settings:
            kind = float if "scale" in name else int
            values[field_name] = kind(settings[name])
    values["naptime_s"] = float(settings.get("autovacuum_naptime", 60))  # in seconds
    values["cost_delay_ms"] = float(settings.get("autovacuum_vacuum_cost_delay", 2))  # in ms
    limit = int(settings.get("autovacuum_vacuum_cost_limit", -1))
    values["cost_limit"] = limit if limit > 0 else int(settings.get("vacuum_cost_limit", 200))
    return Thresholds(**values)


_ACTIVITY = """
SELECT s.relname, c.reltuples, s.n_dead_tup, s.n_ins_since_vacuum, s.n_mod_since_analyze
FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid
ORDER BY s.relname
"""


class AutovacuumStandIn:
    """Autovacuum's analyze and vacuum rules, run by the harness on its own databases.

    Args:
        dsn: libpq connection string of the server (its `dbname` is replaced per database).
        databases: Returns the databases to look after at each round (they may come and go).
        log: The bench's progress log; one line per database and round that had work.
    """

    def __init__(self, dsn: str, databases: Callable[[], Sequence[str]], log: Callable[[str], None]) -> None:
        self._dsn = dsn
        self._databases = databases
        self._log = log
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._connection: psycopg2.extensions.connection | None = None
        self.runs: list[tuple[str, str, str]] = []  # (database, action, table), in order

    def needed(self) -> Thresholds | None:
        """The server's thresholds when its autovacuum is off; None when it runs its own."""
        with contextlib.closing(psycopg2.connect(self._dsn)) as connection, connection.cursor() as cursor:
            cursor.execute("SHOW autovacuum")
            row = cursor.fetchone()
            if row is not None and row[0] == "on":
                return None
            return read_thresholds(cursor)

    def run_once(self, limits: Thresholds) -> None:
        """One round over every database: each table autovacuum would take, in name order."""
        for database in self._databases():
            if self._stop.is_set():
                return
            try:
                self._database_round(database, limits)
            except psycopg2.Error as exc:
                if not self._stop.is_set():  # a database dropped meanwhile; the next round looks again
                    logger.info("autovacuum stand-in: %s: %s", database, str(exc).strip())

    def _database_round(self, database: str, limits: Thresholds) -> None:
        with self._connect(database) as cursor:
            cursor.execute(_ACTIVITY)
            tables = [TableActivity(str(r[0]), float(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in cursor.fetchall()]
            cursor.execute(f"SET vacuum_cost_delay = '{limits.cost_delay_ms}ms'")
            cursor.execute(f"SET vacuum_cost_limit = {limits.cost_limit}")
            start = time.monotonic()
            done: collections.Counter[str] = collections.Counter()
            for table in tables:
                actions = due(table, limits)
                if not actions or self._stop.is_set():
                    continue
                command = "VACUUM (ANALYZE)" if actions == ["VACUUM", "ANALYZE"] else actions[0]
                cursor.execute(f'{command} "{table.name}"')
                self.runs.append((database, command, table.name))
                done.update(actions)
            if done:
                self._log(
                    f"autovacuum stand-in: {database}: {done['ANALYZE']} tables analyzed,"
                    f" {done['VACUUM']} vacuumed in {time.monotonic() - start:.1f}s"
                )

    @contextlib.contextmanager
    def _connect(self, database: str) -> Iterator[Any]:
        connection = psycopg2.connect(self._dsn, dbname=database)
        connection.autocommit = True  # VACUUM runs outside a transaction
        with self._lock:
            self._connection = connection
        try:
            with connection.cursor() as cursor:
                yield cursor
        finally:
            with self._lock:
                self._connection = None
            connection.close()

    def stop(self) -> None:
        """End the rounds; a VACUUM or ANALYZE under way is cancelled."""
        self._stop.set()
        with self._lock:
            if self._connection is not None:
                self._connection.cancel()

    async def run(self) -> None:
        """Rounds every `autovacuum_naptime` until :meth:`stop`; returns at once if autovacuum is on."""
        limits = await asyncio.to_thread(self.needed)
        if limits is None:
            return
        self._log(f"PostgreSQL's autovacuum is off: the harness applies its rules every {limits.naptime_s:.0f}s")
        while not self._stop.is_set():
            await asyncio.to_thread(self._stop.wait, limits.naptime_s)
            if not self._stop.is_set():
                await asyncio.to_thread(self.run_once, limits)


@contextlib.asynccontextmanager
async def autovacuum_stand_in(
    dsn: str, databases: Callable[[], Sequence[str]], log: Callable[[str], None]
) -> AsyncIterator[AutovacuumStandIn]:
    """Run an :class:`AutovacuumStandIn` for the duration of the block."""
    stand_in = AutovacuumStandIn(dsn, databases, log)
    task = asyncio.create_task(stand_in.run(), name="autovacuum-stand-in")
    try:
        yield stand_in
    finally:
        stand_in.stop()
        with contextlib.suppress(psycopg2.Error):
            await task
