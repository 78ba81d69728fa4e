"""SQL of the sealed evidence store and of holds (Art. 10, 13; Cybersecurity Law Art. 47).

A row is what the content rules refused (`action` block) or held (`action` hold):
who, where, when, which rule, the digest, and the content sealed by the caller
(`content_enc`, never clear text). Held events wait in status `held` until staff
release or reject them; the transitions are conditional updates, so two staff
deciding one hold at once decide it once.

Rows are purged with the network log (retention.py): same age, same batches.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from synapse.module_api import LoggingTransaction, ModuleApi

from policies.api import EvidenceItem

from ..audit import AuditChain
from ..clock import Clock
from .audit import AuditRecord, append_record_txn

#: A hold waiting for staff, and a hold in any state (a refused item is `sealed`: no hold).
WAITING_HOLD_STATUSES: Final = ("held", "releasing")
HOLD_STATUSES: Final = ("held", "releasing", "released", "rejected")

_COLUMNS: Final = (
    "id, ts, action, rule, category, sender, room_id, event_id, event_type, ticket_id, digest,"
    " content_enc, status, decided_by, decided_ts, released_event_id"
)
# Lower-case letters and digits: ids people read out and type (`!release e7k2m9q4xa`).
_ID_ALPHABET: Final = "0123456789abcdefghjkmnpqrstvwxyz"
_ID_LENGTH: Final = 10


ItemT = TypeVar("ItemT", bound=EvidenceItem)


@dataclass(frozen=True)
class EvidenceRow:
    """One sealed item; `content_enc` decrypts only with the evidence key and this row's id."""

    id: str
    ts: int
    action: str
    rule: str
    category: str
    sender: str
    room_id: str | None
    event_id: str | None
    event_type: str
    ticket_id: str | None
    digest: str
    content_enc: str
    status: str
    decided_by: str | None = None
    decided_ts: int | None = None
    released_event_id: str | None = None

    def record(self, model: type[ItemT]) -> ItemT:
        """What staff see without a reveal: everything but the content."""
        return model(
            id=self.id,
            ts=self.ts,
            action=self.action,
            rule=self.rule,
            category=self.category,
            sender=self.sender,
            room_id=self.room_id,
            event_id=self.event_id,
            event_type=self.event_type,
            ticket=self.ticket_id,
            digest=self.digest,
            status=self.status,
            decided_by=self.decided_by,
            decided_ts=self.decided_ts,
            released_event_id=self.released_event_id,
        )


def new_evidence_id() -> str:
    """A fresh id, drawn before the transaction so a retry inserts the same row."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))


def _row(r: tuple[Any, ...]) -> EvidenceRow:
    return EvidenceRow(
        id=str(r[0]),
        ts=int(r[1]),
        action=str(r[2]),
        rule=str(r[3]),
        category=str(r[4]),
        sender=str(r[5]),
        room_id=r[6],
        event_id=r[7],
        event_type=str(r[8]),
        ticket_id=r[9],
        digest=str(r[10]),
        content_enc=str(r[11]),
        status=str(r[12]),
        decided_by=r[13],
        decided_ts=None if r[14] is None else int(r[14]),
        released_event_id=r[15],
    )


class EvidenceStore:
    """Async access to `qunzu_evidence`."""

    def __init__(self, api: ModuleApi, clock: Clock, chain: AuditChain) -> None:
        self._api = api
        self._clock = clock
        self._chain = chain

    async def insert(self, row: EvidenceRow) -> EvidenceRow:
        """Store a sealed item; an event sealed before keeps its first row (returned)."""
        return await self._api.run_db_interaction("qunzu_evidence_insert", _insert_txn, row)

    async def get(self, evidence_id: str) -> EvidenceRow | None:
        return await self._api.run_db_interaction("qunzu_evidence_get", _get_txn, evidence_id)

    async def query(
        self, *, statuses: tuple[str, ...] | None, before: tuple[int, str] | None, limit: int
    ) -> list[EvidenceRow]:
        """Rows newest first, optionally of some statuses, after the cursor `before` (ts, id)."""
        return await self._api.run_db_interaction("qunzu_evidence_query", _query_txn, statuses, before, limit)

    async def reveal(self, evidence_id: str, audit: AuditRecord) -> EvidenceRow | None:
        """The row, with the audit record of its reveal written in the same transaction."""
        return await self._api.run_db_interaction(
            "qunzu_evidence_reveal", _reveal_txn, self._chain, evidence_id, audit, self._clock.now_ms()
        )

    async def claim(self, evidence_id: str, actor: str, stale_before_ms: int) -> EvidenceRow | None:
        """Take a hold for release (`held` → `releasing`); None when it is not waiting.

        A claim older than `stale_before_ms` (a release interrupted by a crash) may be taken again.
        """
        return await self._api.run_db_interaction(
            "qunzu_hold_claim", _claim_txn, evidence_id, actor, self._clock.now_ms(), stale_before_ms
        )

    async def unclaim(self, evidence_id: str) -> None:
        """Give a claimed hold back (`releasing` → `held`): the release did not happen."""
        await self._api.run_db_interaction("qunzu_hold_unclaim", _unclaim_txn, evidence_id)

    async def decide(
        self,
        evidence_id: str,
        from_statuses: tuple[str, ...],
        status: str,
        actor: str,
        released_event_id: str | None,
        audit: AuditRecord,
        ticket_outcome: tuple[str, str] | None,
    ) -> EvidenceRow | None:
        """Move a hold to `status` with its audit record (and close its ticket); None if not in `from_statuses`."""
        return await self._api.run_db_interaction(
            "qunzu_hold_decide",
            _decide_txn,
            self._chain,
            evidence_id,
            from_statuses,
            status,
            actor,
            released_event_id,
            audit,
            ticket_outcome,
            self._clock.now_ms(),
        )

    async def purge_before(self, before_ms: int, limit: int) -> int:
        return await self._api.run_db_interaction("qunzu_evidence_purge", _purge_txn, before_ms, limit)


def _insert_txn(txn: LoggingTransaction, row: EvidenceRow) -> EvidenceRow:
    txn.execute(
        f"INSERT INTO qunzu_evidence ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (
            row.id,
            row.ts,
            row.action,
            row.rule,
            row.category,
            row.sender,
            row.room_id,
            row.event_id,
            row.event_type,
            row.ticket_id,
            row.digest,
            row.content_enc,
            row.status,
            row.decided_by,
            row.decided_ts,
            row.released_event_id,
        ),
    )
    if txn.rowcount == 1 or row.event_id is None:
        return row
    txn.execute(f"SELECT {_COLUMNS} FROM qunzu_evidence WHERE event_id = ?", (row.event_id,))
    found = txn.fetchone()
    return row if found is None else _row(found)


def _get_txn(txn: LoggingTransaction, evidence_id: str) -> EvidenceRow | None:
    txn.execute(f"SELECT {_COLUMNS} FROM qunzu_evidence WHERE id = ?", (evidence_id,))
    found = txn.fetchone()
    return None if found is None else _row(found)


def _query_txn(
    txn: LoggingTransaction, statuses: tuple[str, ...] | None, before: tuple[int, str] | None, limit: int
) -> list[EvidenceRow]:
    clauses: list[str] = []
    args: list[Any] = []
    if statuses:
        clauses.append(f"status IN ({', '.join('?' * len(statuses))})")
        args += list(statuses)
    if before is not None:
        clauses.append("(ts < ? OR (ts = ? AND id < ?))")
        args += [before[0], before[0], before[1]]
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    txn.execute(f"SELECT {_COLUMNS} FROM qunzu_evidence {where} ORDER BY ts DESC, id DESC LIMIT ?", (*args, limit))
    return [_row(r) for r in txn.fetchall()]


def _reveal_txn(
    txn: LoggingTransaction, chain: AuditChain, evidence_id: str, audit: AuditRecord, now_ms: int
) -> EvidenceRow | None:
    found = _get_txn(txn, evidence_id)
    if found is not None:
        append_record_txn(txn, chain, now_ms, audit)
    return found


def _claim_txn(
    txn: LoggingTransaction, evidence_id: str, actor: str, now_ms: int, stale_before_ms: int
) -> EvidenceRow | None:
    txn.execute(
        "UPDATE qunzu_evidence SET status = 'releasing', decided_by = ?, decided_ts = ?"
        " WHERE id = ? AND (status = 'held' OR (status = 'releasing' AND decided_ts < ?))",
        (actor, now_ms, evidence_id, stale_before_ms),
    )
    return _get_txn(txn, evidence_id) if txn.rowcount == 1 else None


def _unclaim_txn(txn: LoggingTransaction, evidence_id: str) -> None:
    txn.execute(
        "UPDATE qunzu_evidence SET status = 'held', decided_by = NULL, decided_ts = NULL"
        " WHERE id = ? AND status = 'releasing'",
        (evidence_id,),
    )


def _decide_txn(
    txn: LoggingTransaction,
    chain: AuditChain,
    evidence_id: str,
    from_statuses: tuple[str, ...],
    status: str,
    actor: str,
    released_event_id: str | None,
    audit: AuditRecord,
    ticket_outcome: tuple[str, str] | None,
    now_ms: int,
) -> EvidenceRow | None:
    txn.execute(
        "UPDATE qunzu_evidence SET status = ?, decided_by = ?, decided_ts = ?, released_event_id = ?"
        f" WHERE id = ? AND status IN ({', '.join('?' * len(from_statuses))})",
        (status, actor, now_ms, released_event_id, evidence_id, *from_statuses),
    )
    if txn.rowcount != 1:
        return None
    decided = _get_txn(txn, evidence_id)
    assert decided is not None
    if ticket_outcome is not None and decided.ticket_id is not None:
        # The hold's ticket closes with its decision (if staff have not closed it already).
        ticket_status, outcome = ticket_outcome
        txn.execute(
            "UPDATE qunzu_tickets SET status = ?, outcome = ?, resolved_ts = ?, resolved_by = ?, resolution = ?"
            " WHERE id = ? AND status IN ('open', 'in_review')",
            (ticket_status, outcome, now_ms, actor, outcome, decided.ticket_id),
        )
    append_record_txn(txn, chain, now_ms, audit)
    return decided


def _purge_txn(txn: LoggingTransaction, before_ms: int, limit: int) -> int:
    # One statement per batch: the oldest `limit` rows found by the ts index, deleted by primary
    # key inside the database, so the batch is a short transaction and Synapse's process (its
    # reactor shares the GIL with this thread) never holds the ids.
    txn.execute(
        "DELETE FROM qunzu_evidence WHERE id IN (SELECT id FROM qunzu_evidence WHERE ts < ? ORDER BY ts LIMIT ?)",
        (before_ms, limit),
    )
    return max(txn.rowcount, 0)
