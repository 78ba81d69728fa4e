"""SQL of a room's mute-all (全员禁言, Art. 9): rows of `qunzu_sanctions` like a room admin's mute.

A mute-all is a row with `subject_type = 'room_all'` (subject and room_id = the room,
measure `mute_all`, ladder `room_admin`), written with its audit record, found through
the `(room_id, subject)` index of room admins' mutes. A new mute-all lifts the one in
force in the same transaction, so a room has at most one; its end is `end_ts` and the
clock ends it (the `_ACTIVE` predicate), so nothing has to run when it ends.
"""

from __future__ import annotations

import secrets

from synapse.module_api import LoggingTransaction, ModuleApi

from policies import PERMANENT

from ..audit import AuditChain
from ..clock import Clock
from .audit import AuditRecord, append_record_txn
from .measures import _ACTIVE, Sanction, _insert_txn, room_admin_measure

ROOM_ALL = "room_all"
MEASURE = "mute_all"


class MuteAllStore:
    """Async access to rooms' mute-all rows."""

    def __init__(self, api: ModuleApi, clock: Clock, chain: AuditChain) -> None:
        self._api = api
        self._clock = clock
        self._chain = chain

    async def start(self, room_id: str, actor: str, reason: str, end_ts: int | None, audit: AuditRecord) -> str:
        """Mute everyone but the admins in the room until `end_ts` (None: until lifted); returns the row's id."""
        now = self._clock.now_ms()
        row = room_admin_measure(
            "ma_" + secrets.token_hex(8), ROOM_ALL, room_id, room_id, MEASURE, None, actor, reason, now, end_ts
        )
        await self._api.run_db_interaction("qunzu_mute_all_start", _start_txn, self._chain, row, audit)
        return row.id

    async def lift(self, room_id: str, actor: str, reason: str, audit: AuditRecord) -> int:
        """Lift the room's mute-all in force; returns how many rows were lifted (0 or 1)."""
        return await self._api.run_db_interaction(
            "qunzu_mute_all_lift", _lift_txn, self._chain, room_id, actor, reason, audit, self._clock.now_ms()
        )

    async def ended(self, since_ms: int, once_prefix: str, limit: int) -> list[tuple[str, str, int]]:
        """Mute-alls that ended by themselves after `since_ms` and by now, and whose `qunzu_once` key
        (`once_prefix` + id) was not taken: (id, room, end), oldest end first."""
        return await self._api.run_db_interaction(
            "qunzu_mute_all_ended", _ended_txn, since_ms, self._clock.now_ms(), once_prefix, limit
        )

    async def end(self, room_id: str) -> int | None:
        """End of the room's mute-all in force (`PERMANENT`: until lifted), or None when there is none."""
        return await self._api.run_db_interaction("qunzu_mute_all_end", _end_txn, room_id, self._clock.now_ms())


def _lift_active_txn(txn: LoggingTransaction, room_id: str, actor: str, reason: str, now_ms: int) -> int:
    txn.execute(
        "UPDATE qunzu_sanctions SET lifted_ts = ?, lifted_by = ?, lift_reason = ?"
        f" WHERE subject_type = ? AND room_id = ? AND subject = ? AND {_ACTIVE}",
        (now_ms, actor, reason, ROOM_ALL, room_id, room_id, now_ms),
    )
    return int(txn.rowcount)


def _start_txn(txn: LoggingTransaction, chain: AuditChain, row: Sanction, audit: AuditRecord) -> None:
    assert row.room_id is not None
    _lift_active_txn(txn, row.room_id, row.actor, "replaced", row.start_ts)
    _insert_txn(txn, row)
    append_record_txn(
        txn, chain, row.start_ts, AuditRecord(audit.actor, audit.action, audit.subject, {**audit.details, "id": row.id})
    )


def _lift_txn(
    txn: LoggingTransaction, chain: AuditChain, room_id: str, actor: str, reason: str, audit: AuditRecord, now_ms: int
) -> int:
    lifted = _lift_active_txn(txn, room_id, actor, reason, now_ms)
    if lifted:
        append_record_txn(txn, chain, now_ms, audit)
    return lifted


def _end_txn(txn: LoggingTransaction, room_id: str, now_ms: int) -> int | None:
    txn.execute(
        f"SELECT end_ts FROM qunzu_sanctions WHERE subject_type = ? AND room_id = ? AND subject = ? AND {_ACTIVE}",
        (ROOM_ALL, room_id, room_id, now_ms),
    )
    ends = [PERMANENT if row[0] is None else int(row[0]) for row in txn.fetchall()]
    if not ends:
        return None
    return PERMANENT if PERMANENT in ends else max(ends)


def _ended_txn(
    txn: LoggingTransaction, since_ms: int, now_ms: int, once_prefix: str, limit: int
) -> list[tuple[str, str, int]]:
    # Lifted ones were ended by a person, who was answered then; the start of a new one lifts the old.
    # Those told already are left out here, so a batch never fills with them.
    txn.execute(
        "SELECT s.id, s.room_id, s.end_ts FROM qunzu_sanctions AS s"
        " LEFT JOIN qunzu_once AS o ON o.key = ? || s.id"
        " WHERE s.subject_type = ? AND s.end_ts > ? AND s.end_ts <= ? AND s.lifted_ts IS NULL AND o.key IS NULL"
        " ORDER BY s.end_ts, s.id LIMIT ?",
        (once_prefix, ROOM_ALL, since_ms, now_ms, limit),
    )
    return [(str(row[0]), str(row[1]), int(row[2])) for row in txn.fetchall()]
