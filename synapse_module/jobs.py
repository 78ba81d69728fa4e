"""Background jobs: run once per cluster on the background-task instance, or on demand by staff.

Each job is idempotent and works in small batches, so a crash or a restart
in the middle loses nothing and the next run carries on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import metrics, retention
from .store.ops import last_job_run_txn

if TYPE_CHECKING:
    from .module import QunzuModule

logger = logging.getLogger(__name__)

DAY_MS = 24 * 3600 * 1000
PURGE_BATCH = 500
# How often the background instance looks for due jobs (one indexed query per job).
TICK_MS = 5_000


@dataclass(frozen=True)
class Job:
    name: str
    every_ms: int
    run: Callable[[], Awaitable[dict[str, Any]]]


class Jobs:
    """The module's jobs, by name."""

    def __init__(self, module: QunzuModule) -> None:
        self._module = module
        self.by_name: dict[str, Job] = {}
        self._running: set[str] = set()
        self.add(Job("purge_deactivated_identities", 6 * 3600 * 1000, self._purge_deactivated_identities))
        # Art. 13: records kept `retention.days`, then purged in batches (synapse_module/retention.py).
        self.add(Job(retention.JOB_NAME, retention.EVERY_MS, retention.Retention(module).run))
        # Art. 13: the network log's catch-up from Synapse's event stream (synapse_module/netlog.py).
        self.add(Job("netlog_catch_up", 5 * 60 * 1000, lambda: module.netlog.catch_up()))

    def add(self, job: Job) -> None:
        self.by_name[job.name] = job

    def schedule(self) -> None:
        """Start the scheduler tick; Synapse runs it only on the background-task instance.

        The tick runs each job whose last recorded run (in the audit log, shared by
        every process) is older than its interval: a restart neither skips nor repeats
        a run, and a fresh installation runs every job once right after start.
        """
        self._module.api.looping_background_call(self._tick, TICK_MS, desc="qunzu_jobs_tick")

    async def _tick(self) -> None:
        if (await self._module.health())["status"] != "ready":
            return
        now = self._module.clock.now_ms()
        for job in list(self.by_name.values()):
            # Synapse starts a tick even while the previous one is still running.
            if job.name in self._running:
                continue
            last = await self._module.api.run_db_interaction("qunzu_last_job_run", last_job_run_txn, job.name)
            if last is not None and last.ts + job.every_ms > now:
                continue
            self._running.add(job.name)
            try:
                await self._guarded(job)
            finally:
                self._running.discard(job.name)

    async def run_now(self, name: str) -> dict[str, Any] | None:
        job = self.by_name.get(name)
        return None if job is None else await job.run()

    async def _guarded(self, job: Job) -> None:
        # A scheduler boundary: one failing run must not stop the loop.
        instance = self._module.api.worker_name or "master"
        try:
            await self._module.ready()
            result = await job.run()
            logger.info("qunzu: job %s done: %s", job.name, result)
            ok = True
        except Exception:
            logger.exception("qunzu: job %s failed; it runs again in %d s", job.name, job.every_ms // 1000)
            result, ok = {}, False
        # The run record is what the scheduler, /health and operators read (docs/workers.md).
        metrics.record_job_run(job.name, ok, result, self._module.clock.now_ms())
        try:
            await self._module.store.audit.append(
                f"module:{instance}", "job.run", f"job:{job.name}", {"instance": instance, "ok": ok, "result": result}
            )
        except Exception:
            logger.exception("qunzu: recording the run of job %s failed", job.name)

    async def _purge_deactivated_identities(self) -> dict[str, Any]:
        """Art. 13 keeps records six months; after the retention period identities of closed accounts go."""
        module = self._module
        before = module.clock.now_ms() - module.config.policy.retention.days * DAY_MS
        total = 0
        while (purged := await module.store.identities.purge_deactivated(before, PURGE_BATCH)) > 0:
            total += purged
            metrics.PURGED_IDENTITIES.inc(purged)
        if total:
            await module.store.audit.append("module:jobs", "realname.purge", "identities", {"rows": total})
        return {"purged": total}
