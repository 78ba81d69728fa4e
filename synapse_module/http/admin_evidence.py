"""`/admin/evidence` and `/admin/holds`: sealed evidence and staff review of held content (Art. 10, 13).

- `GET /admin/evidence?limit=&before=`: sealed items newest first, without content.
- `GET /admin/evidence/{id}`: one item, without content.
- `POST /admin/evidence/{id}/reveal {reason}`: the content; the reason is audited first.
  A POST, not a GET with `?reason=`: Synapse logs every request line, and a reason
  may name people.
- `GET /admin/holds?limit=&before=&all=true`: the holds waiting (or all holds with
  their decisions).
- `POST /admin/holds/{id}/release {actor?}`: delivered into the room as its sender.
- `POST /admin/holds/{id}/reject {reason?, actor?}`: never delivered; the sender is told.
- `POST /admin/reports/{ticket}/public-contacts {reason}`: the contacts public reporters left on a
  ticket (sealed at rest); the reason is audited first.

All staff only (403 `staff_only` for anyone else); the bot acts for the staff
member who typed the command (`actor`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synapse.module_api import SynapseRequest
from synapse.module_api.errors import Codes, SynapseError

from policies.api import ActingRequest, EvidenceItem, ReasonedRequest
from policies.numbers import time_ms

from .resource import Access, Caller, Route, acting_staff, answer, query_limit, query_str, read_body, required_reason

if TYPE_CHECKING:
    from ..evidence import EvidenceLocker
    from ..holds import Holds
    from ..public_reports import PublicReports
    from ..staff import Staff

MAX_PAGE = 200


def _cursor(request: SynapseRequest) -> tuple[int, str] | None:
    """The `before` cursor of a page (`<ts>.<id>` as the previous page's `next` gave it)."""
    value = query_str(request, "before")
    if not value:
        return None
    ts, sep, evidence_id = value.partition(".")
    if not sep or not evidence_id.isalnum() or len(evidence_id) > 20:
        raise SynapseError(400, "'before' must be the 'next' value of the previous page", Codes.INVALID_PARAM)
    return time_ms(ts, "before"), evidence_id


def routes(
    *, language: str, staff: Staff, evidence: EvidenceLocker, holds: Holds, public_reports: PublicReports
) -> list[Route]:

    async def list_evidence(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        page = await evidence.page(statuses=None, before=_cursor(request), limit=query_limit(request, 50, MAX_PAGE))
        return 200, answer(page)

    async def get_evidence(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        return 200, answer((await evidence.get(params["evidence_id"])).record(EvidenceItem))

    async def reveal(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        body = read_body(request, ReasonedRequest).model_dump()
        reason = required_reason(body, language)
        actor = await acting_staff(staff, caller, body)
        return 200, answer(await evidence.reveal(actor, params["evidence_id"], reason))

    async def list_holds(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        every = query_str(request, "all")
        if every not in (None, "true", "false"):
            raise SynapseError(400, "all must be true or false", Codes.INVALID_PARAM)
        page = await holds.page(_cursor(request), query_limit(request, 50, MAX_PAGE), waiting=every != "true")
        return 200, answer(page)

    async def release(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        body = read_body(request, ActingRequest, empty_ok=True)
        actor = await acting_staff(staff, caller, body.model_dump())
        return 200, answer(await holds.release(actor, params["hold_id"]))

    async def reject(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        body = read_body(request, ReasonedRequest, empty_ok=True)
        actor = await acting_staff(staff, caller, body.model_dump())
        reason = body.reason
        if reason is not None and len(reason) > 500:
            raise SynapseError(400, "'reason' must be text of at most 500 characters", Codes.INVALID_PARAM)
        return 200, answer(await holds.reject(actor, params["hold_id"], reason))

    async def public_contacts(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        body = read_body(request, ReasonedRequest).model_dump()
        reason = required_reason(body, language)
        actor = await acting_staff(staff, caller, body)
        return 200, answer(await public_reports.contacts(actor, params["ticket_id"], reason))

    return [
        Route("GET", "/admin/evidence", Access.STAFF, list_evidence),
        Route("GET", "/admin/evidence/{evidence_id}", Access.STAFF, get_evidence),
        Route("POST", "/admin/evidence/{evidence_id}/reveal", Access.STAFF, reveal),
        Route("GET", "/admin/holds", Access.STAFF, list_holds),
        Route("POST", "/admin/holds/{hold_id}/release", Access.STAFF, release),
        Route("POST", "/admin/holds/{hold_id}/reject", Access.STAFF, reject),
        Route("POST", "/admin/reports/{ticket_id}/public-contacts", Access.STAFF, public_contacts),
    ]
