"""`GET /health`: is the module up, and at which schema and policy version."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synapse.module_api import SynapseRequest

from .resource import Access, Caller, Route

if TYPE_CHECKING:
    from ..module import QunzuModule


def routes(module: QunzuModule) -> list[Route]:
    async def health(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        return 200, await module.health()

    return [Route("GET", "/health", Access.PUBLIC, health, needs_ready=False)]
