"""`POST /admin/jobs/{name}`: run a background job now (staff; audited like every admin call)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synapse.module_api import SynapseRequest
from synapse.module_api.errors import Codes, SynapseError

from policies.api import JobRun

from .resource import Access, Caller, Route, answer

if TYPE_CHECKING:
    from ..jobs import Jobs


def routes(*, jobs: Jobs) -> list[Route]:
    async def run(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        result = await jobs.run_now(params["name"])
        if result is None:
            known = ", ".join(sorted(jobs.by_name))
            raise SynapseError(404, f"Unknown job; known jobs: {known}", Codes.NOT_FOUND)
        return 200, answer(JobRun(job=params["name"], result=result))

    return [Route("POST", "/admin/jobs/{name}", Access.STAFF, run)]
