"""Background jobs: run once per cluster on the background-task instance, or on demand by staff.

Each job is idempotent and works in small batches, so a crash or a restart
in the middle loses nothing and the next run carries on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from policies.api import JobResult

from . import metrics
from .store.ops import JobRun, last_job_run_txn

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .clock import Clock
    from .health import Health
    from .store.audit import AuditStore

logger = logging.getLogger(__name__)

# How often the background instance looks for due jobs: a job runs within a second of falling due
# (and of a start). A tick reads the database only for a job its memory says is due.
TICK_MS = 1_000
# `GET /health` is polled by load balancers: the job records it shows are read at most this often.
LAST_RUNS_CACHE_MS = 5_000
# An idle run (it succeeded and did nothing) is written to the audit log at most this often:
# jobs due every tick or minute would otherwise add thousands of empty rows a day to the chain.
IDLE_RECORD_EVERY_MS = 3600 * 1000


@dataclass(frozen=True)
class Job:
    name: str
    every_ms: int
    run: Callable[[], Awaitable[JobResult]]


class Jobs:
    """The module's jobs, by name."""

    def __init__(self, api: ModuleApi, clock: Clock, *, health: Health, audit: AuditStore) -> None:
        self._api = api
        self._clock = clock
        self._health = health
        self._audit = audit
        self.by_name: dict[str, Job] = {}
        self._running: set[str] = set()
        # When each job last finished on this process: idle runs are not all in the audit log.
        self._finished_at: dict[str, int] = {}
        self._last_runs: tuple[int, dict[str, JobRun | None]] | None = None

    def add(self, job: Job) -> None:
        self.by_name[job.name] = job

    async def last_runs(self) -> dict[str, JobRun | None]:
        """The newest recorded run of each job (shared by the cluster), read at most every few seconds."""
        now = self._clock.now_ms()
        if self._last_runs is not None and now - self._last_runs[0] < LAST_RUNS_CACHE_MS:
            return self._last_runs[1]
        runs = {
            name: await self._api.run_db_interaction("qunzu_health_last_job_run", last_job_run_txn, name)
            for name in sorted(self.by_name)
        }
        self._last_runs = (now, runs)
        return runs

    def schedule(self) -> None:
        """Start the scheduler tick; Synapse runs it only on the background-task instance.

        The tick runs each job whose last run is older than its interval, known from
        this process's memory and from the last recorded run in the audit log (shared
        by every process): a restart neither skips nor repeats a run, and a fresh
        installation runs every job once right after start. Runs that did something
        or failed are always recorded; idle ones hourly (`IDLE_RECORD_EVERY_MS`).
        """
        self._api.looping_background_call(self._tick, TICK_MS, desc="qunzu_jobs_tick")

    async def _tick(self) -> None:
        if not self._health.is_ready():
            return
        now = self._clock.now_ms()
        for job in list(self.by_name.values()):
            # Synapse starts a tick even while the previous one is still running.
            if job.name in self._running:
                continue
            finished = self._finished_at.get(job.name)
            if finished is not None and finished + job.every_ms > now:
                continue
            last = await self._api.run_db_interaction("qunzu_last_job_run", last_job_run_txn, job.name)
            if last is not None and last.ts + job.every_ms > now:
                # Run elsewhere or before a restart: the next ticks decide from memory until it is due.
                self._finished_at[job.name] = last.ts
                continue
            self._running.add(job.name)
            try:
                await self._guarded(job, None if last is None else last.ts)
            finally:
                self._running.discard(job.name)

    async def run_now(self, name: str) -> JobResult | None:
        job = self.by_name.get(name)
        return None if job is None else await job.run()

    async def _guarded(self, job: Job, recorded_ms: int | None) -> None:
        # A scheduler boundary: one failing run must not stop the loop.
        instance = self._api.worker_name or "master"
        try:
            await self._health.ready()
            result = (await job.run()).model_dump(mode="json", exclude_unset=True)
            ok = True
        except Exception:
            again_s = max(job.every_ms, TICK_MS) // 1000
            logger.exception("qunzu: job %s failed; it runs again in %d s", job.name, again_s)
            result, ok = {}, False
        now = self._clock.now_ms()
        self._finished_at[job.name] = now
        metrics.record_job_run(job.name, ok, result, now)
        idle = ok and not metrics.counted_items(result)
        logger.log(logging.DEBUG if idle else logging.INFO, "qunzu: job %s done: %s", job.name, result)
        if idle and recorded_ms is not None and now - recorded_ms < IDLE_RECORD_EVERY_MS:
            return
        # The run record is what the scheduler after a restart, /health and operators read (docs/workers.md).
        try:
            await self._audit.append(
                f"module:{instance}", "job.run", f"job:{job.name}", {"instance": instance, "ok": ok, "result": result}
            )
        except Exception:
            logger.exception("qunzu: recording the run of job %s failed", job.name)
