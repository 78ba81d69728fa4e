"""A ticket goes overdue when the module's clock passes its deadline (Art. 12), on SQLite and PostgreSQL.

The store counts from the clock it is given: moving it is all it takes, no waiting.
The same ticket through a real server and the bot's reminders: tests/e2e/test_reports.py.
"""

from __future__ import annotations

from synapse_module.store import QunzuStore
from synapse_module.store.tickets import NewTicket

from .harness import NOW, MovableClock

WINDOW_MS = 20_000


async def test_an_open_ticket_is_overdue_only_once_its_deadline_has_passed(
    store: QunzuStore, clock: MovableClock
) -> None:
    ticket = await store.tickets.open(
        NewTicket(source="user_report", category="fraud", reason="刷单", deadline_ts=NOW + WINDOW_MS, room_id="!r:x")
    )
    assert ticket.created_ts == NOW
    assert await store.tickets.query(overdue=True) == []
    assert ticket.overdue(clock.now_ms()) is False

    clock.advance(WINDOW_MS)  # at the deadline: not yet past it
    assert await store.tickets.query(overdue=True) == []

    clock.advance(1)
    assert [t.id for t in await store.tickets.query(overdue=True)] == [ticket.id]
    assert ticket.overdue(clock.now_ms()) is True
    assert [t.id for t in await store.tickets.query(open_only=True)] == [ticket.id]  # overdue tickets stay open
