"""SQL of group announcements (Art. 9): `qunzu_announcements`.

Every `!announce` is a row: posted at once in ordinary groups, or `pending` until staff
approve or reject it in large and high-risk groups. A decision moves a row out of
`pending` exactly once (`_decide_txn` guards on the status), so two staff members
deciding at once cannot both post it.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from synapse.module_api import LoggingTransaction, ModuleApi

from ..audit import AuditChain
from ..clock import Clock
from .audit import AuditRecord, append_record_txn

PENDING = "pending"
POSTED = "posted"
REJECTED = "rejected"
FAILED = "failed"

_COLUMNS = "id, room_id, actor, text, status, created_ts, decided_ts, decided_by, decision_reason, event_id"


@dataclass(frozen=True)
class Announcement:
    """One announcement and where it stands."""

    id: str
    room_id: str
    actor: str
    text: str
    status: str
    created_ts: int
    decided_ts: int | None
    decided_by: str | None
    decision_reason: str | None
    event_id: str | None


class AnnouncementStore:
    """Async access to `qunzu_announcements`."""

    def __init__(self, api: ModuleApi, clock: Clock, chain: AuditChain) -> None:
        self._api = api
        self._clock = clock
        self._chain = chain

    async def add(self, room_id: str, actor: str, text: str, status: str, audit: AuditRecord) -> Announcement:
        """A new announcement (`pending`, or `posted` once its event exists: see `set_event`)."""
        row = Announcement(
            "an_" + secrets.token_hex(8), room_id, actor, text, status, self._clock.now_ms(), None, None, None, None
        )
        await self._api.run_db_interaction("qunzu_announcement_add", _add_txn, self._chain, row, audit)
        return row

    async def get(self, announcement_id: str) -> Announcement | None:
        return await self._api.run_db_interaction("qunzu_announcement_get", _get_txn, announcement_id)

    async def list(self, status: str | None, limit: int) -> list[Announcement]:
        return await self._api.run_db_interaction("qunzu_announcements_list", _list_txn, status, limit)

    async def decide(
        self, announcement_id: str, status: str, decided_by: str, reason: str, audit: AuditRecord
    ) -> Announcement | None:
        """Move a pending announcement to `status`; None when it is unknown or was decided already."""
        return await self._api.run_db_interaction(
            "qunzu_announcement_decide",
            _decide_txn,
            self._chain,
            announcement_id,
            status,
            decided_by,
            reason,
            audit,
            self._clock.now_ms(),
        )

    async def finish(self, announcement_id: str, status: str, event_id: str | None) -> None:
        """Record the posted event (or that posting failed)."""
        await self._api.run_db_interaction("qunzu_announcement_finish", _finish_txn, announcement_id, status, event_id)


def _row(row: Sequence[Any]) -> Announcement:
    return Announcement(
        id=str(row[0]),
        room_id=str(row[1]),
        actor=str(row[2]),
        text=str(row[3]),
        status=str(row[4]),
        created_ts=int(row[5]),
        decided_ts=None if row[6] is None else int(row[6]),
        decided_by=row[7],
        decision_reason=row[8],
        event_id=row[9],
    )


def _add_txn(txn: LoggingTransaction, chain: AuditChain, row: Announcement, audit: AuditRecord) -> None:
    txn.execute(
        f"INSERT INTO qunzu_announcements ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL)",
        (row.id, row.room_id, row.actor, row.text, row.status, row.created_ts),
    )
    record = AuditRecord(audit.actor, audit.action, audit.subject, {**audit.details, "id": row.id})
    append_record_txn(txn, chain, row.created_ts, record)


def _get_txn(txn: LoggingTransaction, announcement_id: str) -> Announcement | None:
    txn.execute(f"SELECT {_COLUMNS} FROM qunzu_announcements WHERE id = ?", (announcement_id,))
    row = txn.fetchone()
    return None if row is None else _row(row)


def _list_txn(txn: LoggingTransaction, status: str | None, limit: int) -> list[Announcement]:
    if status is None:
        txn.execute(f"SELECT {_COLUMNS} FROM qunzu_announcements ORDER BY created_ts DESC LIMIT ?", (limit,))
    else:
        txn.execute(
            f"SELECT {_COLUMNS} FROM qunzu_announcements WHERE status = ? ORDER BY created_ts LIMIT ?", (status, limit)
        )
    return [_row(row) for row in txn.fetchall()]


def _decide_txn(
    txn: LoggingTransaction,
    chain: AuditChain,
    announcement_id: str,
    status: str,
    decided_by: str,
    reason: str,
    audit: AuditRecord,
    now_ms: int,
) -> Announcement | None:
    txn.execute(
        "UPDATE qunzu_announcements SET status = ?, decided_ts = ?, decided_by = ?, decision_reason = ?"
        " WHERE id = ? AND status = ?",
        (status, now_ms, decided_by, reason, announcement_id, PENDING),
    )
    if txn.rowcount != 1:
        return None
    append_record_txn(txn, chain, now_ms, audit)
    return _get_txn(txn, announcement_id)


def _finish_txn(txn: LoggingTransaction, announcement_id: str, status: str, event_id: str | None) -> None:
    txn.execute(
        "UPDATE qunzu_announcements SET status = ?, event_id = ? WHERE id = ?", (status, event_id, announcement_id)
    )
