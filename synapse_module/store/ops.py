"""Read-only queries for operations: what Prometheus and `/health` show.

Kept apart from the stores they read (tickets, audit) so those can change
freely; only counts and timestamps leave here, never personal data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from synapse.module_api import LoggingTransaction


@dataclass(frozen=True)
class TicketCounts:
    """Tickets waiting for staff, and how many of them are past their deadline (Art. 12)."""

    open: int
    overdue: int


def ticket_counts_txn(txn: LoggingTransaction, now_ms: int) -> TicketCounts:
    """Count open tickets (`open` and `in_review`) and the overdue ones among them."""
    txn.execute(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN deadline_ts < ? THEN 1 ELSE 0 END), 0)"
        " FROM qunzu_tickets WHERE status IN ('open', 'in_review')",
        (now_ms,),
    )
    row = txn.fetchone()
    return TicketCounts(int(row[0]), int(row[1])) if row else TicketCounts(0, 0)


@dataclass(frozen=True)
class JobRun:
    """The newest recorded run of one background job."""

    job: str
    ts: int
    instance: str
    ok: bool


def last_job_run_txn(txn: LoggingTransaction, job: str) -> JobRun | None:
    """The newest `job.run` audit row of one job (written by `Jobs._guarded`).

    Served by the (subject, ts) index of the audit log, so it stays cheap
    however long the log grows.
    """
    txn.execute(
        "SELECT ts, details FROM qunzu_audit WHERE subject = ? AND action = 'job.run' ORDER BY ts DESC LIMIT 1",
        (f"job:{job}",),
    )
    row = txn.fetchone()
    if row is None:
        return None
    details = json.loads(row[1])
    return JobRun(job, int(row[0]), str(details.get("instance", "")), bool(details.get("ok")))
