"""SQL of the ticket queue: content flags and holds (Art. 10) and reports (Art. 12).

Reports (their reporters, duplicates, lifecycle and the Synapse import) are in
`store/reports.py`; this file reads and opens tickets.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from synapse.module_api import LoggingTransaction, ModuleApi

from policies.constants import TicketSource, TicketStatus

from ..clock import Clock
from .sql import Where

OPEN_STATUSES: Final[tuple[TicketStatus, ...]] = ("open", "in_review")

# Crockford's base32 without I, L, O, U: ids people read out and type (`!handle K7Q2MZ4A`).
_ID_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ID_LENGTH: Final = 8

_COLUMNS: Final = (
    "id, source, status, category, rule, room_id, event_id, accused, reporter, reason,"
    " content_digest, created_ts, deadline_ts, resolved_ts, resolved_by, outcome,"
    " assignee, dedupe_key, sanction_id, resolution"
)
_INSERT_COLUMNS: Final = (
    "id, source, status, category, rule, room_id, event_id, accused, reporter, reason,"
    " content_digest, created_ts, deadline_ts, resolved_ts, resolved_by, outcome, dedupe_key"
)


@dataclass(frozen=True)
class Ticket:
    """One item in the staff queue. Never holds content, only its digest."""

    id: str
    source: str
    status: str
    category: str
    rule: str | None
    room_id: str | None
    event_id: str | None
    accused: str | None
    reporter: str | None
    reason: str
    content_digest: str | None
    created_ts: int
    deadline_ts: int
    resolved_ts: int | None
    resolved_by: str | None
    outcome: str | None
    assignee: str | None = None
    dedupe_key: str | None = None
    sanction_id: str | None = None
    resolution: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def permalink(self) -> str | None:
        """A matrix.to link to the reported event (or room), for staff."""
        if self.room_id is None:
            return None
        target = quote(self.room_id, safe="!:")
        if self.event_id is not None:
            target += "/" + quote(self.event_id, safe="$:")
        return f"https://matrix.to/#/{target}"

    def overdue(self, now_ms: int) -> bool:
        """Still open past its deadline."""
        return self.is_open and now_ms > self.deadline_ts


@dataclass(frozen=True)
class NewTicket:
    """What opening a ticket needs."""

    source: TicketSource
    category: str
    reason: str
    deadline_ts: int
    rule: str | None = None
    room_id: str | None = None
    event_id: str | None = None
    accused: str | None = None
    reporter: str | None = None
    content_digest: str | None = None
    dedupe_key: str | None = None
    # The reading of the clock the deadline was counted from; the store's own reading otherwise.
    created_ts: int | None = None


class TicketStore:
    """Async access to `qunzu_tickets`."""

    def __init__(self, api: ModuleApi, clock: Clock) -> None:
        self._api = api
        self._clock = clock

    async def open(self, ticket: NewTicket) -> Ticket:
        """Open a ticket; for content tickets of an event already ticketed, return that one."""
        return await self._api.run_db_interaction(
            "qunzu_open_ticket", _open_ticket_txn, ticket, self._clock.now_ms(), _new_id()
        )

    async def get(self, ticket_id: str) -> Ticket | None:
        return await self._api.run_db_interaction("qunzu_get_ticket", _get_ticket_txn, ticket_id)

    async def query(
        self,
        *,
        status: str | None = None,
        category: str | None = None,
        overdue: bool = False,
        limit: int = 100,
        open_only: bool = False,
        since_ms: int | None = None,
    ) -> list[Ticket]:
        """Tickets newest first, filtered by status, category, being past the deadline, creation time."""
        return await self._api.run_db_interaction(
            "qunzu_query_tickets",
            _query_tickets_txn,
            status,
            category,
            overdue,
            self._clock.now_ms(),
            limit,
            open_only,
            since_ms,
        )

    # -- telling the room's owner and admins (Art. 9) ----------------------------------------

    async def owed_room_notices(self, limit: int) -> list[Ticket]:
        """Tickets about a room whose owner and admins are not told yet, oldest first."""
        return await self._api.run_db_interaction(
            "qunzu_owed_room_notices", _owed_room_notices_txn, self._clock.now_ms(), limit
        )

    async def claim_room_notice(self, ticket_id: str) -> bool:
        """Take the notice of this ticket (one process sends it); False when it is taken or done."""
        return await self._api.run_db_interaction(
            "qunzu_claim_room_notice", _claim_room_notice_txn, ticket_id, self._clock.now_ms()
        )

    async def release_room_notice(self, ticket_id: str) -> None:
        """Owe the notice again (it could not be sent): the job tries later."""
        await self._api.run_db_interaction("qunzu_release_room_notice", _release_room_notice_txn, ticket_id)


def _owed_room_notices_txn(txn: LoggingTransaction, now_ms: int, limit: int) -> list[Ticket]:
    # A ticket about no room (a display name) has no room staff to tell.
    txn.execute(
        "UPDATE qunzu_tickets SET room_staff_told_ts = ? WHERE room_staff_told_ts IS NULL AND room_id IS NULL",
        (now_ms,),
    )
    txn.execute(
        f"SELECT {_COLUMNS} FROM qunzu_tickets WHERE room_staff_told_ts IS NULL ORDER BY created_ts, id LIMIT ?",
        (limit,),
    )
    return [_row(row) for row in txn.fetchall()]


def _claim_room_notice_txn(txn: LoggingTransaction, ticket_id: str, now_ms: int) -> bool:
    txn.execute(
        "UPDATE qunzu_tickets SET room_staff_told_ts = ? WHERE id = ? AND room_staff_told_ts IS NULL",
        (now_ms, ticket_id),
    )
    return bool(txn.rowcount == 1)


def _release_room_notice_txn(txn: LoggingTransaction, ticket_id: str) -> None:
    txn.execute("UPDATE qunzu_tickets SET room_staff_told_ts = NULL WHERE id = ?", (ticket_id,))


def _new_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))


def _row(row: tuple[Any, ...]) -> Ticket:
    return Ticket(
        id=str(row[0]),
        source=str(row[1]),
        status=str(row[2]),
        category=str(row[3]),
        rule=row[4],
        room_id=row[5],
        event_id=row[6],
        accused=row[7],
        reporter=row[8],
        reason=str(row[9]),
        content_digest=row[10],
        created_ts=int(row[11]),
        deadline_ts=int(row[12]),
        resolved_ts=None if row[13] is None else int(row[13]),
        resolved_by=row[14],
        outcome=row[15],
        assignee=row[16],
        dedupe_key=row[17],
        sanction_id=row[18],
        resolution=row[19],
    )


def _open_ticket_txn(txn: LoggingTransaction, ticket: NewTicket, now_ms: int, ticket_id: str) -> Ticket:
    # The id is drawn outside so a retried transaction inserts the same row.
    txn.execute(
        f"INSERT INTO qunzu_tickets ({_INSERT_COLUMNS})"
        " VALUES (?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, ?)"
        " ON CONFLICT DO NOTHING",
        (
            ticket_id,
            ticket.source,
            ticket.category,
            ticket.rule,
            ticket.room_id,
            ticket.event_id,
            ticket.accused,
            ticket.reporter,
            ticket.reason,
            ticket.content_digest,
            now_ms if ticket.created_ts is None else ticket.created_ts,
            ticket.deadline_ts,
            ticket.dedupe_key,
        ),
    )
    if txn.rowcount == 1:
        txn.execute(f"SELECT {_COLUMNS} FROM qunzu_tickets WHERE id = ?", (ticket_id,))
    elif ticket.dedupe_key is not None:
        # An open ticket on the same event / room / user exists: the report joins it.
        txn.execute(
            f"SELECT {_COLUMNS} FROM qunzu_tickets WHERE dedupe_key = ? AND status IN ('open', 'in_review')",
            (ticket.dedupe_key,),
        )
    else:
        # The event was ticketed before (the partial unique index on source, event_id).
        txn.execute(
            f"SELECT {_COLUMNS} FROM qunzu_tickets WHERE source = ? AND event_id = ?",
            (ticket.source, ticket.event_id),
        )
    row = txn.fetchone()
    assert row is not None
    return _row(row)


def _get_ticket_txn(txn: LoggingTransaction, ticket_id: str) -> Ticket | None:
    txn.execute(f"SELECT {_COLUMNS} FROM qunzu_tickets WHERE id = ?", (ticket_id,))
    row = txn.fetchone()
    return None if row is None else _row(row)


def _query_tickets_txn(
    txn: LoggingTransaction,
    status: str | None,
    category: str | None,
    overdue: bool,
    now_ms: int,
    limit: int,
    open_only: bool = False,
    since_ms: int | None = None,
) -> list[Ticket]:
    where = (
        Where()
        .add("status IN ('open', 'in_review')", when=open_only)
        .add("created_ts >= ?", since_ms, when=since_ms is not None)
        .add("status = ?", status, when=status is not None)
        .add("category = ?", category, when=category is not None)
        .add("status IN ('open', 'in_review') AND deadline_ts < ?", now_ms, when=overdue)
    )
    txn.execute(
        f"SELECT {_COLUMNS} FROM qunzu_tickets {where} ORDER BY created_ts DESC, id LIMIT ?",
        (*where.args, limit),
    )
    return [_row(row) for row in txn.fetchall()]
