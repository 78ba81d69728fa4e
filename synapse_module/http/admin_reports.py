"""`/reports` and `/admin/reports`: the report queue (Art. 10, 12); `/admin/content/reload` (Art. 10).

- `POST /reports` (users): report an event, a room or a user → the ticket, always
  for the caller (a `!report` typed in a room is filed by the module itself,
  private_reports.py).
- `GET /admin/reports`: filter by status, category, overdue, `open=true`
  (open and in review), `since` (created at or after, ms); each ticket with its
  evidence, deadline, assignee and reporters.
- `GET /admin/reports/stats?since=`: counts for the daily digest.
- `POST /admin/reports/{id}/assign {assignee?}`: take into review.
- `POST /admin/reports/{id}/resolve {outcome: resolved|dismissed, sanction?, reason?, takedown?}`.
- `POST /admin/takedown {event_ids, room_id?, reason} | {user_id, since, room_id?, reason}`:
  redact events, or a person's posts since a time in one room or everywhere (takedown.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synapse.module_api import SynapseRequest
from synapse.module_api.errors import Codes, SynapseError

from policies.api import AssignRequest, ContentReload, ReportRequest, ResolveRequest, TakedownRequest, TicketList
from policies.constants import DAY_MS, TICKET_STATUSES

from ..takedown import MAX_EVENTS_PER_CALL
from .resource import (
    Access,
    Caller,
    Route,
    acting_staff,
    answer,
    query_limit,
    query_str,
    query_time,
    read_body,
    required_reason,
)

if TYPE_CHECKING:
    from ..clock import Clock
    from ..content import ContentGuard
    from ..reports import Reports
    from ..staff import Staff
    from ..store.tickets import TicketStore
    from ..takedown import Takedown


def routes(
    *,
    language: str,
    clock: Clock,
    staff: Staff,
    reports: Reports,
    ticket_store: TicketStore,
    takedowns: Takedown,
    content_guard: ContentGuard,
) -> list[Route]:
    async def file_report(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        assert caller.user_id is not None
        body = read_body(request, ReportRequest)
        filed = await reports.file(
            caller.user_id, body.room_id, body.event_id, body.user_id, body.category, body.reason
        )
        return 200, answer(filed)

    async def list_reports(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        status = query_str(request, "status")
        if status is not None and status not in TICKET_STATUSES:
            raise SynapseError(400, f"status must be one of {', '.join(TICKET_STATUSES)}", Codes.INVALID_PARAM)
        flags = {}
        for name in ("overdue", "open"):
            value = query_str(request, name)
            if value not in (None, "true", "false"):
                raise SynapseError(400, f"{name} must be true or false", Codes.INVALID_PARAM)
            flags[name] = value == "true"
        tickets = await ticket_store.query(
            status=status,
            category=query_str(request, "category"),
            overdue=flags["overdue"],
            limit=query_limit(request),
            open_only=flags["open"],
            since_ms=query_time(request, "since"),
        )
        return 200, answer(TicketList(tickets=await reports.ticket_records(tickets)))

    async def stats(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        since = query_time(request, "since")
        if since is None:
            since = clock.now_ms() - DAY_MS
        return 200, answer(await reports.stats(since))

    async def get_report(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        ticket = await ticket_store.get(params["ticket_id"].upper())
        if ticket is None:
            raise SynapseError(404, "No such ticket", Codes.NOT_FOUND)
        return 200, answer(await reports.ticket_record(ticket))

    async def assign(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        assert caller.user_id is not None
        assignee = read_body(request, AssignRequest, empty_ok=True).assignee or caller.user_id
        if not assignee.startswith("@"):
            raise SynapseError(400, "'assignee' must be a user id", Codes.INVALID_PARAM)
        return 200, answer(await reports.assign(caller.user_id, params["ticket_id"].upper(), assignee))

    async def staff_actor(caller: Caller, acting_for: str | None) -> str:
        assert caller.user_id is not None
        # The bot acts for the staff member who typed the command; the record names them.
        if acting_for is not None and caller.user_id == staff.service_account:
            if not await staff.is_staff(acting_for):
                raise SynapseError(403, "'actor' must be compliance staff", Codes.FORBIDDEN)
            return acting_for
        return caller.user_id

    async def resolve(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        body = read_body(request, ResolveRequest)
        actor = await staff_actor(caller, body.actor)
        sanction = None if body.sanction is None else body.sanction.model_dump(exclude_none=True)
        resolution = await reports.resolve(
            actor, params["ticket_id"].upper(), body.outcome, sanction, body.reason, body.takedown
        )
        return 200, answer(resolution)

    async def takedown(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        body = read_body(request, TakedownRequest)
        actor = await acting_staff(staff, caller, body.model_dump())
        reason = required_reason(body.model_dump(), language)
        room_id = body.room_id
        if room_id is not None and not room_id.startswith("!"):
            raise SynapseError(400, "'room_id' must be a room id", Codes.INVALID_PARAM)
        event_ids, user_id = body.event_ids, body.user_id
        if (event_ids is None) == (user_id is None):
            raise SynapseError(400, "Give either 'event_ids' or 'user_id' with 'since'", Codes.INVALID_PARAM)
        if event_ids is not None:
            if not 1 <= len(event_ids) <= MAX_EVENTS_PER_CALL or not all(
                e.startswith("$") and len(e) <= 255 for e in event_ids
            ):
                raise SynapseError(
                    400, f"'event_ids' must be 1 to {MAX_EVENTS_PER_CALL} event ids", Codes.INVALID_PARAM
                )
            result = await takedowns.events(actor, event_ids, room_id, reason)
        else:
            if user_id is None or not user_id.startswith("@") or ":" not in user_id:
                raise SynapseError(400, "'user_id' must be a user id", Codes.INVALID_PARAM)
            since = body.since
            if since is None:
                raise SynapseError(400, "'since' (ms since the epoch) is required with 'user_id'", Codes.MISSING_PARAM)
            result = await takedowns.messages_since(actor, user_id, since, room_id, reason)
        return 200, answer(result.record())

    async def reload_content(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        # Reloads this process at once; the others notice the changed files within
        # content.reload_interval.
        assert caller.user_id is not None
        reloaded = await content_guard.reload(caller.user_id)
        lists = content_guard.lists
        status = ContentReload(
            reloaded=reloaded,
            version=content_guard.version,
            terms=lists.matcher.term_count,
            media_hashes=len(lists.media_hashes),
        )
        return 200 if reloaded else 422, answer(status)

    return [
        Route("POST", "/reports", Access.USER, file_report),
        Route("GET", "/admin/reports", Access.STAFF, list_reports),
        Route("GET", "/admin/reports/stats", Access.STAFF, stats),
        Route("GET", "/admin/reports/{ticket_id}", Access.STAFF, get_report),
        Route("POST", "/admin/reports/{ticket_id}/assign", Access.STAFF, assign),
        Route("POST", "/admin/reports/{ticket_id}/resolve", Access.STAFF, resolve),
        Route("POST", "/admin/takedown", Access.STAFF, takedown),
        Route("POST", "/admin/content/reload", Access.STAFF, reload_content),
    ]
