"""Prometheus metrics of the module, exposed by Synapse's own metrics listener.

Synapse serves `prometheus_client`'s global registry on every process that
has a `metrics` listener (`enable_metrics: true`), so the metrics here are
registered there once per process at import time.

- `qunzu_decisions_total{reason}`: every refusal a person sees, by reason code
  (DESIGN.md §3.3), and `reason="allowed"` for gated actions let through. The
  hot path only increments a counter.
- `qunzu_tickets_open` / `qunzu_tickets_overdue`: read from the ticket table
  by the background-task instance every `TICKETS_REFRESH_MS`; other processes
  do not export them, so a cluster-wide sum is not double counted.
- `qunzu_job_runs_total{job,outcome}`, `qunzu_job_last_run_timestamp_seconds{job}`,
  `qunzu_job_items_total{job,item}`: background jobs; `qunzu_purged_identities_total`
  is the purge's progress, counted per batch.
- `qunzu_admin_guard_armed`: 1 on a process that registered `check_event_allowed`
  because an admin suspension is in force (admin_guard.py); it stays 1 until restart.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .store.ops import TicketCounts, ticket_counts_txn

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .clock import Clock
    from .health import Health

logger = logging.getLogger(__name__)

TICKETS_REFRESH_MS = 10_000

DECISIONS = Counter("qunzu_decisions", "Decisions of Qunzu's gates: 'allowed' or the refusal reason code", ["reason"])
JOB_RUNS = Counter("qunzu_job_runs", "Runs of Qunzu's background jobs", ["job", "outcome"])
JOB_LAST_RUN = Gauge("qunzu_job_last_run_timestamp_seconds", "When a background job last finished", ["job"])
JOB_ITEMS = Counter("qunzu_job_items", "Items a background job handled (from its result)", ["job", "item"])
ADMIN_GUARD_ARMED = Gauge(
    "qunzu_admin_guard_armed",
    "1 once this process checks every event it builds for suspended admins (until it restarts)",
)
PURGED_IDENTITIES = Counter(
    "qunzu_purged_identities", "Identity records of closed accounts purged after the retention period"
)


def record_decision(reason: str) -> None:
    """Count one decision (a refusal's reason code, or "allowed")."""
    DECISIONS.labels(reason=reason).inc()


def record_job_run(job: str, ok: bool, result: Mapping[str, Any], now_ms: int) -> None:
    """Count a finished job run and the numbers in its result."""
    JOB_RUNS.labels(job=job, outcome="ok" if ok else "failed").inc()
    JOB_LAST_RUN.labels(job=job).set(now_ms / 1000)
    for item, value in counted_items(result).items():
        JOB_ITEMS.labels(job=job, item=item).inc(value)


def counted_items(result: Mapping[str, Any]) -> dict[str, int]:
    """The positive counts in a job's result: what the run did (empty for an idle run)."""
    return {
        item: value
        for item, value in result.items()
        if isinstance(value, int) and not isinstance(value, bool) and value > 0
    }


class _TicketGauges(Collector):
    """Exports the last ticket counts read by the background instance (nothing before the first read)."""

    def __init__(self) -> None:
        self.counts: TicketCounts | None = None

    def collect(self) -> Iterator[Metric]:
        # Called on Prometheus' HTTP thread: only read what the reactor thread stored.
        counts = self.counts
        if counts is None:
            return
        yield GaugeMetricFamily("qunzu_tickets_open", "Tickets waiting for staff (Art. 12)", value=counts.open)
        yield GaugeMetricFamily("qunzu_tickets_overdue", "Open tickets past their deadline", value=counts.overdue)


TICKETS = _TicketGauges()
REGISTRY.register(TICKETS)


class ModuleMetrics:
    """Keeps the lazily read gauges fresh on the background-task instance."""

    def __init__(self, api: ModuleApi, clock: Clock, health: Health) -> None:
        self._api = api
        self._clock = clock
        self._health = health
        api.looping_background_call(self.refresh, TICKETS_REFRESH_MS, desc="qunzu_metrics_refresh")

    async def refresh(self) -> None:
        """Read the ticket counts once (skipped until the schema is ready)."""
        if not self._health.is_ready():
            return
        now = self._clock.now_ms()
        TICKETS.counts = await self._api.run_db_interaction("qunzu_ticket_counts", ticket_counts_txn, now)
