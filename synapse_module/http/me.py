"""`GET /me`: the caller's own status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synapse.module_api import SynapseRequest

from .resource import Access, Caller, Route

if TYPE_CHECKING:
    from ..module import QunzuModule


def routes(module: QunzuModule) -> list[Route]:
    async def get_me(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        assert caller.user_id is not None
        return 200, await module.status_of(caller.user_id, is_staff=caller.is_staff)

    return [Route("GET", "/me", Access.USER, get_me)]
