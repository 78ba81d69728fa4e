"""`GET /health`: is the module up, at which schema and policy, and when did its jobs last run.

Answers without a token on every process (main and workers), also while the
module is starting. Docker healthchecks and load balancers poll it, so the
job records (read from the database, shared by the cluster) are cached for a
few seconds per process (`Jobs.last_runs`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synapse.module_api import SynapseRequest

from policies.api import LastJobRun, PolicyFingerprint

from .resource import Access, Caller, Route, answer

if TYPE_CHECKING:
    from policies import Policy

    from ..health import Health
    from ..jobs import Jobs


def policy_fingerprint(policy: Policy) -> PolicyFingerprint:
    """The effective policy's convention version and a SHA-256 of its canonical JSON.

    Two processes with the same hash enforce the same policy: operators
    compare it across the cluster after changing the policy file.
    """
    digest = hashlib.sha256(policy.model_dump_json().encode()).hexdigest()
    return PolicyFingerprint(convention_version=policy.convention.version, sha256=digest)


def routes(*, policy: Policy, process: Health, scheduled_jobs: Jobs) -> list[Route]:
    fingerprint = policy_fingerprint(policy)

    async def last_runs() -> dict[str, LastJobRun | None]:
        runs = await scheduled_jobs.last_runs()
        return {
            name: None if run is None else LastJobRun(ts=run.ts, instance=run.instance, ok=run.ok)
            for name, run in runs.items()
        }

    async def health(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        report = process.report()
        # The tables exist only once the schema is ready; before that there is nothing to show.
        jobs = await last_runs() if report.status == "ready" else None
        return 200, answer(report.model_copy(update={"policy": fingerprint, "jobs": jobs}))

    return [Route("GET", "/health", Access.PUBLIC, health, needs_ready=False)]
