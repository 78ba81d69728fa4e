"""Background jobs: run once per cluster on the background-task instance, or on demand by staff.

Each job is idempotent and works in small batches, so a crash or a restart
in the middle loses nothing and the next run carries on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .module import QunzuModule

logger = logging.getLogger(__name__)

DAY_MS = 24 * 3600 * 1000
PURGE_BATCH = 500


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
        self.add(Job("purge_deactivated_identities", 6 * 3600 * 1000, self._purge_deactivated_identities))

    def add(self, job: Job) -> None:
        self.by_name[job.name] = job

    def schedule(self) -> None:
        """Start the loops; Synapse runs them only on the background-task instance."""
        for job in self.by_name.values():
            self._module.api.looping_background_call(self._guarded, job.every_ms, job, desc=f"qunzu_{job.name}")

    async def run_now(self, name: str) -> dict[str, Any] | None:
        job = self.by_name.get(name)
        return None if job is None else await job.run()

    async def _guarded(self, job: Job) -> None:
        # A scheduler boundary: one failing run must not stop the loop.
        try:
            await self._module.ready()
            result = await job.run()
            logger.info("qunzu: job %s done: %s", job.name, result)
        except Exception:
            logger.exception("qunzu: job %s failed; it runs again in %d s", job.name, job.every_ms // 1000)

    async def _purge_deactivated_identities(self) -> dict[str, Any]:
        """Art. 13 keeps records six months; after the retention period identities of closed accounts go."""
        module = self._module
        before = module.clock.now_ms() - module.config.policy.retention.days * DAY_MS
        total = 0
        while (purged := await module.store.identities.purge_deactivated(before, PURGE_BATCH)) > 0:
            total += purged
        if total:
            await module.store.audit.append("module:jobs", "realname.purge", "identities", {"rows": total})
        return {"purged": total}
