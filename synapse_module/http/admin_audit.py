"""`/admin/audit`: query the audit log and verify its hash chain (Art. 13)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synapse.module_api import SynapseRequest

from policies.api import AuditEntryList

from .resource import Access, Caller, Route, answer, query_limit, query_str, query_time

if TYPE_CHECKING:
    from ..store.audit import AuditStore


def routes(*, audit: AuditStore) -> list[Route]:
    async def get_audit(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        entries = await audit.query(
            subject=query_str(request, "subject"),
            since_ms=query_time(request, "since"),
            until_ms=query_time(request, "until"),
            limit=query_limit(request),
        )
        return 200, answer(AuditEntryList(entries=[entry.record() for entry in entries]))

    async def verify(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        return 200, answer((await audit.verify()).record())

    return [
        Route("GET", "/admin/audit", Access.STAFF, get_audit),
        Route("GET", "/admin/audit/verify", Access.STAFF, verify),
    ]
