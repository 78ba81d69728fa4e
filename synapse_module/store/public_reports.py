"""SQL of reports from people without an account (Art. 12: 便捷的投诉举报入口).

A public report opens a ticket (or joins the open ticket on the same room) and
records, in the same transaction, its own row (the follow-up token's keyed hash,
the sealed contact), one use of the per-address limit and the audit record. The
address limit is the project's guarded windowed counter (store/limits.py) keyed
by a keyed hash of the address, never the address: it is exact across
concurrent requests and processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from synapse.module_api import LoggingTransaction, ModuleApi

from policies.constants import HOUR_MS

from ..audit import AuditChain
from ..clock import Clock
from .audit import AuditRecord, append_record_txn
from .limits import Use, Window, new_use_id, take_txn
from .sql import run_contended
from .tickets import NewTicket, Ticket, _get_ticket_txn, _new_id, _open_ticket_txn

# Art. 12: public reports from one address (a keyed hash of it) per hour.
PUBLIC_REPORTS: Final = Window("public_reports", HOUR_MS)


@dataclass(frozen=True)
class PublicFiling:
    """What filing a public report did: the ticket (new or joined) and the report's own id."""

    ticket: Ticket
    report_id: str
    joined: bool


class PublicReportStore:
    """Async access to `qunzu_public_reports`."""

    def __init__(self, api: ModuleApi, clock: Clock, chain: AuditChain) -> None:
        self._api = api
        self._clock = clock
        self._chain = chain

    async def file(
        self,
        ticket: NewTicket,
        report_id: str,
        token_hash: str,
        address_hash: str,
        contact_enc: str | None,
        audit: AuditRecord,
        per_hour: int,
    ) -> PublicFiling | Use:
        """File one public report; the refused `Use` when the address has filed `per_hour` this hour."""
        return await run_contended(
            self._api,
            "qunzu_file_public_report",
            _file_txn,
            self._chain,
            ticket,
            report_id,
            token_hash,
            address_hash,
            contact_enc,
            audit,
            per_hour,
            self._clock.now_ms(),
            _new_id(),
            new_use_id(),
        )

    async def ticket_for(self, ticket_id: str, token_hash: str) -> Ticket | None:
        """The ticket a follow-up token was given for; None for any other pair."""
        return await self._api.run_db_interaction("qunzu_public_report_status", _ticket_for_txn, ticket_id, token_hash)

    async def of_ticket(self, ticket_id: str, audit: AuditRecord) -> list[tuple[str, int, str, str | None]]:
        """(id, ts, category, contact_enc) of a ticket's public reports; the audit record of the read with them."""
        return await self._api.run_db_interaction(
            "qunzu_public_reports_of_ticket", _of_ticket_txn, self._chain, ticket_id, audit, self._clock.now_ms()
        )

    async def purge_before(self, before_ms: int, limit: int) -> int:
        return await self._api.run_db_interaction("qunzu_public_reports_purge", _purge_txn, before_ms, limit)


def _file_txn(
    txn: LoggingTransaction,
    chain: AuditChain,
    ticket: NewTicket,
    report_id: str,
    token_hash: str,
    address_hash: str,
    contact_enc: str | None,
    audit: AuditRecord,
    per_hour: int,
    now_ms: int,
    ticket_id: str,
    use_id: str,
) -> PublicFiling | Use:
    use = take_txn(txn, PUBLIC_REPORTS, address_hash, per_hour, now_ms, use_id)
    if not use.allowed:
        return use
    stored = _open_ticket_txn(txn, ticket, now_ms, ticket_id)
    joined = stored.id != ticket_id
    if joined and ticket.deadline_ts < stored.deadline_ts:
        # A more urgent category reported later makes the whole ticket more urgent.
        txn.execute(
            "UPDATE qunzu_tickets SET category = ?, deadline_ts = ? WHERE id = ?",
            (ticket.category, ticket.deadline_ts, stored.id),
        )
        found = _get_ticket_txn(txn, stored.id)
        assert found is not None
        stored = found
    txn.execute(
        "INSERT INTO qunzu_public_reports (id, ticket_id, ts, category, token_hash, address_hash, contact_enc)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        (report_id, stored.id, now_ms, ticket.category, token_hash, address_hash, contact_enc),
    )
    details: dict[str, Any] = {**audit.details, "ticket": stored.id, "joined": joined, "report": report_id}
    append_record_txn(txn, chain, now_ms, AuditRecord(audit.actor, audit.action, audit.subject, details))
    return PublicFiling(stored, report_id, joined)


def _ticket_for_txn(txn: LoggingTransaction, ticket_id: str, token_hash: str) -> Ticket | None:
    txn.execute(
        "SELECT ticket_id FROM qunzu_public_reports WHERE ticket_id = ? AND token_hash = ?", (ticket_id, token_hash)
    )
    if txn.fetchone() is None:
        return None
    return _get_ticket_txn(txn, ticket_id)


def _of_ticket_txn(
    txn: LoggingTransaction, chain: AuditChain, ticket_id: str, audit: AuditRecord, now_ms: int
) -> list[tuple[str, int, str, str | None]]:
    txn.execute(
        "SELECT id, ts, category, contact_enc FROM qunzu_public_reports WHERE ticket_id = ? ORDER BY ts, id",
        (ticket_id,),
    )
    rows = [(str(r[0]), int(r[1]), str(r[2]), r[3]) for r in txn.fetchall()]
    append_record_txn(txn, chain, now_ms, audit)
    return rows


def _purge_txn(txn: LoggingTransaction, before_ms: int, limit: int) -> int:
    # One statement per batch: the oldest `limit` rows found by the ts index, deleted by primary
    # key inside the database, so the batch is a short transaction and Synapse's process (its
    # reactor shares the GIL with this thread) never holds the ids.
    txn.execute(
        "DELETE FROM qunzu_public_reports"
        " WHERE id IN (SELECT id FROM qunzu_public_reports WHERE ts < ? ORDER BY ts LIMIT ?)",
        (before_ms, limit),
    )
    return max(txn.rowcount, 0)
