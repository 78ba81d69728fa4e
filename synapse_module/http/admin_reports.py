"""`/admin/reports`: the staff ticket queue (Art. 10, 12); `/admin/content/reload` (Art. 10).

Minimal for now: list and show tickets. Resolving them, user reports and the
reporter's outcome notice come with the reports issue.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synapse.module_api import SynapseRequest
from synapse.module_api.errors import Codes, SynapseError

from ..store.tickets import TICKET_STATUSES
from .resource import Access, Caller, Route, query_int, query_str

if TYPE_CHECKING:
    from ..module import QunzuModule


def routes(module: QunzuModule) -> list[Route]:
    async def list_reports(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        status = query_str(request, "status")
        if status is not None and status not in TICKET_STATUSES:
            raise SynapseError(400, f"status must be one of {', '.join(TICKET_STATUSES)}", Codes.INVALID_PARAM)
        overdue = query_str(request, "overdue")
        if overdue not in (None, "true", "false"):
            raise SynapseError(400, "overdue must be true or false", Codes.INVALID_PARAM)
        tickets = await module.store.tickets.query(
            status=status,
            category=query_str(request, "category"),
            overdue=overdue == "true",
            limit=query_int(request, "limit", minimum=1, maximum=1000) or 100,
        )
        now = module.clock.now_ms()
        return 200, {"tickets": [ticket.as_json(now) for ticket in tickets]}

    async def get_report(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        ticket = await module.store.tickets.get(params["ticket_id"])
        if ticket is None:
            raise SynapseError(404, "No such ticket", Codes.NOT_FOUND)
        return 200, ticket.as_json(module.clock.now_ms())

    async def reload_content(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        # Reloads this process at once; the others notice the changed files within
        # content.reload_interval.
        assert caller.user_id is not None
        reloaded = await module.content.reload(caller.user_id)
        lists = module.content.lists
        return 200 if reloaded else 422, {
            "reloaded": reloaded,
            "version": module.content.version,
            "terms": lists.matcher.term_count,
            "media_hashes": len(lists.media_hashes),
        }

    return [
        Route("GET", "/admin/reports", Access.STAFF, list_reports),
        Route("GET", "/admin/reports/{ticket_id}", Access.STAFF, get_report),
        Route("POST", "/admin/content/reload", Access.STAFF, reload_content),
    ]
