"""SQL of the complaint channel (Art. 12): reporters on tickets and imports of Synapse's reports.

- A report opens a ticket or joins the open ticket on the same event, room or
  user (`dedupe_key`), and records its reporter; ticket, reporter row and audit
  record are written in one transaction.
- Reports made with clients' report buttons are read from Synapse's tables and
  imported in the same transaction as their `qunzu_report_imports` row, whose
  primary key makes each import happen exactly once, across restarts and
  processes.

A room admin's mute is a measure: its SQL is in store/measures.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from synapse.module_api import LoggingTransaction, ModuleApi

from ..audit import AuditChain
from ..clock import Clock
from ..errors import TicketNotOpen
from .audit import AuditRecord, append_record_txn  # same transaction: no ticket without its record
from .limits import REPORTS, Use, new_use_id, take_txn
from .sql import run_contended
from .synapse_tables import REPORT_TABLES, new_reports_txn, reports_after_txn
from .tickets import (
    _COLUMNS,
    NewTicket,
    Ticket,
    _new_id,
    _open_ticket_txn,
    _row,
)


@dataclass(frozen=True)
class FiledReport:
    """What filing a report did.

    Attributes:
        ticket: The ticket the report is now part of.
        joined: The report joined a ticket that was open already (a duplicate).
        new_reporter: The reporter was not on the ticket yet.
    """

    ticket: Ticket
    joined: bool
    new_reporter: bool


@dataclass(frozen=True)
class Reporter:
    ticket_id: str
    reporter: str
    source: str
    ts: int


@dataclass(frozen=True)
class SynapseReport:
    """One row of Synapse's event_reports / room_reports / user_reports."""

    table: str
    id: int
    received_ts: int
    reporter: str
    reason: str
    room_id: str | None
    event_id: str | None
    target_user: str | None


class ReportStore:
    """Async access to reporters, report imports and the ticket lifecycle."""

    def __init__(self, api: ModuleApi, clock: Clock, chain: AuditChain) -> None:
        self._api = api
        self._clock = clock
        self._chain = chain

    async def file(
        self, ticket: NewTicket, reporter: str, source: str, reason: str, audit: AuditRecord, per_hour: int
    ) -> FiledReport | Use:
        """Open a ticket or join the open duplicate; record the reporter and the audit row.

        Returns:
            What filing did, or the refused `Use` when the reporter has filed `per_hour`
            reports in the last hour (decided exactly, in the same transaction).
        """
        return await run_contended(
            self._api,
            "qunzu_file_report",
            _file_txn,
            self._chain,
            ticket,
            reporter,
            source,
            reason,
            audit,
            self._clock.now_ms(),
            _new_id(),
            per_hour,
            new_use_id(),
        )

    async def import_report(
        self, table: str, source_id: int, ticket: NewTicket | None, reporter: str, reason: str, audit: AuditRecord
    ) -> FiledReport | None:
        """Import one Synapse report exactly once; None when it was imported before (or skipped)."""
        return await run_contended(
            self._api,
            "qunzu_import_report",
            _import_txn,
            self._chain,
            table,
            source_id,
            ticket,
            reporter,
            reason,
            audit,
            self._clock.now_ms(),
            _new_id(),
        )

    async def synapse_reports(self, table: str, after_id: int, limit: int) -> list[SynapseReport]:
        """Synapse's reports of one table with ids above `after_id`, oldest first."""
        rows = await self._api.run_db_interaction(
            "qunzu_read_synapse_reports", reports_after_txn, table, after_id, limit
        )
        return [SynapseReport(table, *row) for row in rows]

    async def new_synapse_reports(self, after: dict[str, int], limit: int) -> list[SynapseReport]:
        """Synapse's reports with ids above `after[table]` in each table, oldest first per table."""
        found = await self._api.run_db_interaction("qunzu_read_new_synapse_reports", new_reports_txn, after, limit)
        return [SynapseReport(table, *row) for table, rows in found.items() for row in rows]

    async def import_cursor(self, table: str) -> int:
        """The highest id of `table` imported so far (0: none)."""
        return await self._api.run_db_interaction("qunzu_report_import_cursor", _import_cursor_txn, table)

    async def import_cursors(self) -> dict[str, int]:
        """The highest id imported so far of every report table, in one transaction."""
        return await self._api.run_db_interaction("qunzu_report_import_cursors", _import_cursors_txn)

    async def reporters(self, ticket_id: str) -> list[Reporter]:
        return (await self.reporters_of([ticket_id])).get(ticket_id, [])

    async def reporters_of(self, ticket_ids: Sequence[str]) -> dict[str, list[Reporter]]:
        """The reporters of several tickets (a listing's page) in one query, oldest first per ticket."""
        if not ticket_ids:
            return {}
        return await self._api.run_db_interaction("qunzu_ticket_reporters", _reporters_txn, list(ticket_ids))

    async def assign(self, ticket_id: str, assignee: str, audit: AuditRecord) -> Ticket | None:
        """Take an open ticket into review; None when it is unknown or closed."""
        return await self._api.run_db_interaction(
            "qunzu_assign_ticket", _assign_txn, self._chain, ticket_id, assignee, audit, self._clock.now_ms()
        )

    async def close(
        self,
        ticket_id: str,
        status: str,
        outcome: str,
        actor: str,
        sanction_id: str | None,
        resolution: str,
        audit: AuditRecord,
    ) -> Ticket | None:
        """Resolve or dismiss an open ticket; None when it is unknown or closed already."""
        return await self._api.run_db_interaction(
            "qunzu_close_ticket",
            _close_txn,
            self._chain,
            ticket_id,
            status,
            outcome,
            actor,
            sanction_id,
            resolution,
            audit,
            self._clock.now_ms(),
        )

    def closing(self, ticket_id: str, status: str, outcome: str, actor: str, resolution: str) -> TicketClosing:
        """The close of an open ticket as a step of another transaction (the measure it takes)."""
        return TicketClosing(self._chain, ticket_id, status, outcome, actor, resolution, self._clock.now_ms())

    async def pending_notices(self, limit: int) -> list[tuple[str, str, str]]:
        """(ticket id, reporter, kind) still owed a notice: `ack` for new reports, `outcome` for closed."""
        return await self._api.run_db_interaction("qunzu_pending_report_notices", _pending_notices_txn, limit)

    async def mark_notified(self, ticket_id: str, reporter: str, kind: str) -> None:
        await self._api.run_db_interaction(
            "qunzu_mark_report_notice", _mark_notified_txn, ticket_id, reporter, kind, self._clock.now_ms()
        )

    async def stats(self, since_ms: int) -> dict[str, int]:
        return await self._api.run_db_interaction("qunzu_report_stats", _stats_txn, since_ms, self._clock.now_ms())


def _file_in_txn(
    txn: LoggingTransaction,
    ticket: NewTicket,
    reporter: str,
    source: str,
    reason: str,
    now_ms: int,
    ticket_id: str,
) -> FiledReport:
    joined_existing: Ticket | None = None
    if ticket.event_id is not None:
        # Any open ticket on this event (a content flag too): the report joins it.
        txn.execute(
            f"SELECT {_COLUMNS} FROM qunzu_tickets WHERE event_id = ? AND status IN ('open', 'in_review')"
            " ORDER BY created_ts LIMIT 1",
            (ticket.event_id,),
        )
        row = txn.fetchone()
        joined_existing = None if row is None else _row(row)
    stored = joined_existing or _open_ticket_txn(txn, ticket, now_ms, ticket_id)
    joined = stored.id != ticket_id
    if joined and ticket.deadline_ts < stored.deadline_ts:
        # A more urgent category reported later makes the whole ticket more urgent.
        txn.execute(
            "UPDATE qunzu_tickets SET category = ?, deadline_ts = ? WHERE id = ?",
            (ticket.category, ticket.deadline_ts, stored.id),
        )
    txn.execute(
        "INSERT INTO qunzu_ticket_reporters (ticket_id, reporter, source, reason, ts) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (stored.id, reporter, source, reason, now_ms),
    )
    new_reporter = txn.rowcount == 1
    txn.execute(f"SELECT {_COLUMNS} FROM qunzu_tickets WHERE id = ?", (stored.id,))
    row = txn.fetchone()
    assert row is not None
    return FiledReport(_row(row), joined, new_reporter)


def _file_txn(
    txn: LoggingTransaction,
    chain: AuditChain,
    ticket: NewTicket,
    reporter: str,
    source: str,
    reason: str,
    audit: AuditRecord,
    now_ms: int,
    ticket_id: str,
    per_hour: int,
    use_id: str,
) -> FiledReport | Use:
    # Art. 12 channels stay open, but one person's reports are bounded (exactly, store/limits.py).
    use = take_txn(txn, REPORTS, reporter, per_hour, now_ms, use_id)
    if not use.allowed:
        return use
    filed = _file_in_txn(txn, ticket, reporter, source, reason, now_ms, ticket_id)
    details = {**audit.details, "ticket": filed.ticket.id, "joined": filed.joined}
    append_record_txn(txn, chain, now_ms, AuditRecord(audit.actor, audit.action, audit.subject, details))
    return filed


def _import_txn(
    txn: LoggingTransaction,
    chain: AuditChain,
    table: str,
    source_id: int,
    ticket: NewTicket | None,
    reporter: str,
    reason: str,
    audit: AuditRecord,
    now_ms: int,
    ticket_id: str,
) -> FiledReport | None:
    txn.execute(
        "INSERT INTO qunzu_report_imports (source_table, source_id, ticket_id, imported_ts) VALUES (?, ?, NULL, ?)"
        " ON CONFLICT DO NOTHING",
        (table, source_id, now_ms),
    )
    if txn.rowcount != 1 or ticket is None:
        return None  # imported before (or nothing to import: a report by the service account)
    # Synapse accepted the report already (its own rc_reports limits the buttons): it is
    # filed whatever the count, and counts against the reporter's next reports.
    take_txn(txn, REPORTS, reporter, None, now_ms, f"import:{table}:{source_id}")
    filed = _file_in_txn(txn, ticket, reporter, "matrix_report", reason, now_ms, ticket_id)
    txn.execute(
        "UPDATE qunzu_report_imports SET ticket_id = ? WHERE source_table = ? AND source_id = ?",
        (filed.ticket.id, table, source_id),
    )
    details = {**audit.details, "ticket": filed.ticket.id, "joined": filed.joined}
    append_record_txn(txn, chain, now_ms, AuditRecord(audit.actor, audit.action, audit.subject, details))
    return filed


def _import_cursor_txn(txn: LoggingTransaction, table: str) -> int:
    txn.execute("SELECT MAX(source_id) FROM qunzu_report_imports WHERE source_table = ?", (table,))
    row = txn.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _import_cursors_txn(txn: LoggingTransaction) -> dict[str, int]:
    return {table: _import_cursor_txn(txn, table) for table in REPORT_TABLES}


def _reporters_txn(txn: LoggingTransaction, ticket_ids: list[str]) -> dict[str, list[Reporter]]:
    placeholders = ", ".join("?" for _ in ticket_ids)
    txn.execute(
        "SELECT ticket_id, reporter, source, ts FROM qunzu_ticket_reporters"
        f" WHERE ticket_id IN ({placeholders}) ORDER BY ts",
        ticket_ids,
    )
    by_ticket: dict[str, list[Reporter]] = {}
    for row in txn.fetchall():
        by_ticket.setdefault(str(row[0]), []).append(Reporter(str(row[0]), str(row[1]), str(row[2]), int(row[3])))
    return by_ticket


def _get(txn: LoggingTransaction, ticket_id: str) -> Ticket | None:
    txn.execute(f"SELECT {_COLUMNS} FROM qunzu_tickets WHERE id = ?", (ticket_id,))
    row = txn.fetchone()
    return None if row is None else _row(row)


def _assign_txn(
    txn: LoggingTransaction, chain: AuditChain, ticket_id: str, assignee: str, audit: AuditRecord, now_ms: int
) -> Ticket | None:
    txn.execute(
        "UPDATE qunzu_tickets SET status = 'in_review', assignee = ? WHERE id = ? AND status IN ('open', 'in_review')",
        (assignee, ticket_id),
    )
    if txn.rowcount != 1:
        return None
    append_record_txn(txn, chain, now_ms, audit)
    return _get(txn, ticket_id)


@dataclass
class TicketClosing:
    """Closes a ticket inside the transaction of the measure it takes: both commit or neither.

    Two staff resolving one ticket at once both pass the first "is it open?" check;
    only one measure may follow. The close is the ticket row's guarded UPDATE, so the
    second transaction finds the ticket closed and rolls its measure back
    (`TicketNotOpen`). Synapse may run the transaction again after a conflict, so a
    run only records its result.
    """

    chain: AuditChain
    ticket_id: str
    status: str
    outcome: str
    actor: str
    resolution: str
    now_ms: int
    closed: Ticket | None = None

    def __call__(self, txn: LoggingTransaction, sanction_id: str) -> None:
        audit = AuditRecord(
            self.actor,
            "report.resolve",
            self.ticket_id,
            {"outcome": self.status, "measure": self.outcome, "sanction": sanction_id},
        )
        self.closed = _close_txn(
            txn,
            self.chain,
            self.ticket_id,
            self.status,
            self.outcome,
            self.actor,
            sanction_id,
            self.resolution,
            audit,
            self.now_ms,
        )
        if self.closed is None:
            raise TicketNotOpen(self.ticket_id)


def _close_txn(
    txn: LoggingTransaction,
    chain: AuditChain,
    ticket_id: str,
    status: str,
    outcome: str,
    actor: str,
    sanction_id: str | None,
    resolution: str,
    audit: AuditRecord,
    now_ms: int,
) -> Ticket | None:
    txn.execute(
        "UPDATE qunzu_tickets SET status = ?, outcome = ?, resolved_ts = ?, resolved_by = ?, sanction_id = ?,"
        " resolution = ?, assignee = COALESCE(assignee, ?) WHERE id = ? AND status IN ('open', 'in_review')",
        (status, outcome, now_ms, actor, sanction_id, resolution, actor, ticket_id),
    )
    if txn.rowcount != 1:
        return None
    append_record_txn(txn, chain, now_ms, audit)
    return _get(txn, ticket_id)


def _pending_notices_txn(txn: LoggingTransaction, limit: int) -> list[tuple[str, str, str]]:
    txn.execute(
        "SELECT r.ticket_id, r.reporter, t.status, r.acked_ts FROM qunzu_ticket_reporters AS r"
        " JOIN qunzu_tickets AS t ON t.id = r.ticket_id"
        " WHERE r.notified_ts IS NULL AND (r.acked_ts IS NULL OR t.status IN ('resolved', 'dismissed'))"
        " ORDER BY r.ts LIMIT ?",
        (limit,),
    )
    found = []
    for ticket_id, reporter, status, _acked in txn.fetchall():
        closed = status in ("resolved", "dismissed")
        found.append((str(ticket_id), str(reporter), "outcome" if closed else "ack"))
    return found


def _mark_notified_txn(txn: LoggingTransaction, ticket_id: str, reporter: str, kind: str, now_ms: int) -> None:
    column = "notified_ts" if kind == "outcome" else "acked_ts"
    txn.execute(
        f"UPDATE qunzu_ticket_reporters SET {column} = ?, acked_ts = COALESCE(acked_ts, ?)"
        " WHERE ticket_id = ? AND reporter = ?",
        (now_ms, now_ms, ticket_id, reporter),
    )


def _stats_txn(txn: LoggingTransaction, since_ms: int, now_ms: int) -> dict[str, int]:
    def count(sql: str, args: Sequence[Any]) -> int:
        txn.execute(sql, tuple(args))
        row = txn.fetchone()
        return int(row[0]) if row else 0

    return {
        "open": count("SELECT COUNT(*) FROM qunzu_tickets WHERE status = 'open'", ()),
        "in_review": count("SELECT COUNT(*) FROM qunzu_tickets WHERE status = 'in_review'", ()),
        "overdue": count(
            "SELECT COUNT(*) FROM qunzu_tickets WHERE status IN ('open', 'in_review') AND deadline_ts < ?", (now_ms,)
        ),
        "opened": count("SELECT COUNT(*) FROM qunzu_tickets WHERE created_ts >= ?", (since_ms,)),
        "resolved": count(
            "SELECT COUNT(*) FROM qunzu_tickets WHERE status = 'resolved' AND resolved_ts >= ?", (since_ms,)
        ),
        "dismissed": count(
            "SELECT COUNT(*) FROM qunzu_tickets WHERE status = 'dismissed' AND resolved_ts >= ?", (since_ms,)
        ),
        "closed_late": count(
            "SELECT COUNT(*) FROM qunzu_tickets WHERE resolved_ts >= ? AND resolved_ts > deadline_ts", (since_ms,)
        ),
    }
