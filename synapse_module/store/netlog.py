"""SQL of the network log (Art. 13 网络日志) and of the catch-up from Synapse's event stream.

Every insert is `ON CONFLICT (id) DO NOTHING`: the live writer, the catch-up
and a retried transaction may all offer the same row, and it is stored once.

The catch-up reads Synapse's own `events` and `event_json` through
`synapse_tables.py`; `tests/e2e/test_records.py` fails if a Synapse upgrade changes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from synapse.module_api import LoggingTransaction, ModuleApi

from ..clock import Clock
from .synapse_tables import SynapseEvent, synapse_events_after_txn, synapse_max_stream_txn

_COLUMNS: Final = (
    "id, kind, ts, stream, user_id, target, room_id, group_code, event_type, membership,"
    " device_id, ip, user_agent, content_enc"
)


@dataclass(frozen=True)
class LogEntry:
    """One row of the network log; `content_enc` is FieldCipher output (owner: `owner_of`)."""

    id: str
    kind: str
    ts: int
    user_id: str
    stream: int | None = None
    target: str | None = None
    room_id: str | None = None
    group_code: str | None = None
    event_type: str | None = None
    membership: str | None = None
    device_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    content_enc: str | None = None

    def row(self) -> tuple[Any, ...]:
        return (
            self.id,
            self.kind,
            self.ts,
            self.stream,
            self.user_id,
            self.target,
            self.room_id,
            self.group_code,
            self.event_type,
            self.membership,
            self.device_id,
            self.ip,
            self.user_agent,
            self.content_enc,
        )


def owner_of(entry_id: str, room_id: str | None) -> str:
    """What a row's content is bound to: copied into another row it no longer decrypts."""
    return f"{room_id or ''}|{entry_id}"


class NetlogStore:
    """Async access to `qunzu_netlog` and `qunzu_netlog_cursor`."""

    def __init__(self, api: ModuleApi, clock: Clock) -> None:
        self._api = api
        self._clock = clock

    async def insert(self, entries: Sequence[LogEntry]) -> None:
        await self._api.run_db_interaction("qunzu_netlog_insert", _insert_txn, [e.row() for e in entries])

    async def catch_up_batch(self, entries: Sequence[LogEntry], cursor: int) -> None:
        """Insert what the catch-up found and move its cursor, in one transaction."""
        await self._api.run_db_interaction("qunzu_netlog_catch_up", _catch_up_txn, [e.row() for e in entries], cursor)

    async def existing_ids(self, ids: Sequence[str]) -> set[str]:
        return await self._api.run_db_interaction("qunzu_netlog_existing", _existing_txn, list(ids))

    async def cursor(self) -> int | None:
        return await self._api.run_db_interaction("qunzu_netlog_cursor", _cursor_txn)

    async def synapse_events_after(self, stream: int, limit: int, received_before_ms: int | None) -> list[SynapseEvent]:
        return await self._api.run_db_interaction(
            "qunzu_synapse_events_after", synapse_events_after_txn, stream, limit, received_before_ms
        )

    async def synapse_max_stream(self) -> int:
        return await self._api.run_db_interaction("qunzu_synapse_max_stream", synapse_max_stream_txn)

    async def in_range(
        self, since_ms: int, until_ms: int, subject: str | None, after: tuple[int, str] | None, limit: int
    ) -> list[LogEntry]:
        """Rows with `since_ms <= ts < until_ms` (of one user or room when `subject` is set), by time."""
        return await self._api.run_db_interaction(
            "qunzu_netlog_range", _range_txn, since_ms, until_ms, subject, after, limit
        )

    async def logins_of(self, user_ids: Sequence[str], until_ms: int) -> list[LogEntry]:
        """Every login row of these users before `until_ms`, oldest first."""
        return await self._api.run_db_interaction("qunzu_netlog_logins", _logins_txn, list(user_ids), until_ms)

    async def purge_before(self, before_ms: int, limit: int) -> int:
        return await self._api.run_db_interaction("qunzu_netlog_purge", _purge_txn, before_ms, limit)


def _insert_txn(txn: LoggingTransaction, rows: list[tuple[Any, ...]]) -> None:
    txn.execute_batch(
        f"INSERT INTO qunzu_netlog ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO NOTHING",
        rows,
    )


def _catch_up_txn(txn: LoggingTransaction, rows: list[tuple[Any, ...]], cursor: int) -> None:
    if rows:
        _insert_txn(txn, rows)
    txn.execute(
        "INSERT INTO qunzu_netlog_cursor (id, stream) VALUES (1, ?)"
        " ON CONFLICT (id) DO UPDATE SET stream = excluded.stream WHERE qunzu_netlog_cursor.stream < excluded.stream",
        (cursor,),
    )


def _existing_txn(txn: LoggingTransaction, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), 100):
        chunk = ids[start : start + 100]
        txn.execute(f"SELECT id FROM qunzu_netlog WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
        found.update(str(r[0]) for r in txn.fetchall())
    return found


def _cursor_txn(txn: LoggingTransaction) -> int | None:
    txn.execute("SELECT stream FROM qunzu_netlog_cursor WHERE id = 1")
    row = txn.fetchone()
    return None if row is None else int(row[0])


def _entry(r: tuple[Any, ...]) -> LogEntry:
    return LogEntry(
        id=r[0],
        kind=r[1],
        ts=int(r[2]),
        stream=None if r[3] is None else int(r[3]),
        user_id=r[4],
        target=r[5],
        room_id=r[6],
        group_code=r[7],
        event_type=r[8],
        membership=r[9],
        device_id=r[10],
        ip=r[11],
        user_agent=r[12],
        content_enc=r[13],
    )


def _range_txn(
    txn: LoggingTransaction,
    since_ms: int,
    until_ms: int,
    subject: str | None,
    after: tuple[int, str] | None,
    limit: int,
) -> list[LogEntry]:
    clauses = ["ts >= ?", "ts < ?"]
    args: list[Any] = [since_ms, until_ms]
    if subject is not None:
        clauses.append("(user_id = ? OR target = ? OR room_id = ?)")
        args += [subject, subject, subject]
    if after is not None:
        clauses.append("(ts > ? OR (ts = ? AND id > ?))")
        args += [after[0], after[0], after[1]]
    txn.execute(
        f"SELECT {_COLUMNS} FROM qunzu_netlog WHERE {' AND '.join(clauses)} ORDER BY ts, id LIMIT ?",
        (*args, limit),
    )
    return [_entry(r) for r in txn.fetchall()]


def _logins_txn(txn: LoggingTransaction, user_ids: list[str], until_ms: int) -> list[LogEntry]:
    entries: list[LogEntry] = []
    for user_id in user_ids:
        txn.execute(
            f"SELECT {_COLUMNS} FROM qunzu_netlog WHERE user_id = ? AND kind = 'login' AND ts < ? ORDER BY ts",
            (user_id, until_ms),
        )
        entries += [_entry(r) for r in txn.fetchall()]
    return entries


def _purge_txn(txn: LoggingTransaction, before_ms: int, limit: int) -> int:
    # One statement per batch: the oldest `limit` rows found by the ts index, deleted by primary
    # key inside the database, so the batch is a short transaction and Synapse's process (its
    # reactor shares the GIL with this thread) never holds the ids.
    txn.execute(
        "DELETE FROM qunzu_netlog WHERE id IN (SELECT id FROM qunzu_netlog WHERE ts < ? ORDER BY ts LIMIT ?)",
        (before_ms, limit),
    )
    return max(txn.rowcount, 0)
