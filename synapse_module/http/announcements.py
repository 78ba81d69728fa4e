"""Group announcements (Art. 9): the bot's `!announce` and the staff review of large and high-risk groups'.

- `POST /admin/rooms/{room_id}/announce {actor, text}` — for the room's owner or an admin
  (only the service account may name another `actor`): `{"id", "status": "posted",
  "event_id"}` (posted and pinned) or `{"id", "status": "pending"}` (waits for staff).
- `GET /admin/announcements?limit=` — the pending ones, oldest first (staff).
- `POST /admin/announcements/{id}/approve {actor?}` — post and pin it; the announcer is told.
- `POST /admin/announcements/{id}/reject {actor?, reason?}` — not posted; the announcer is told.

See synapse_module/announcements.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synapse.module_api import SynapseRequest
from synapse.module_api.errors import Codes, SynapseError

from policies.api import AnnounceRequest, ReasonedRequest

from .resource import Access, Caller, Route, acting_staff, answer, query_limit, read_body

if TYPE_CHECKING:
    from ..announcements import Announcements
    from ..staff import Staff


def routes(*, staff_service: Staff, announcements: Announcements) -> list[Route]:
    async def announce(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        assert caller.user_id is not None
        body = read_body(request, AnnounceRequest)
        actor = body.actor or caller.user_id
        if actor != caller.user_id and caller.user_id != staff_service.service_account:
            raise SynapseError(403, "Only the service account may act for a room admin", Codes.FORBIDDEN)
        if not actor.startswith("@"):
            raise SynapseError(400, "'actor' must be a user id", Codes.INVALID_PARAM)
        room_id = params["room_id"]
        if not room_id.startswith("!"):
            raise SynapseError(400, "room_id must be a room id", Codes.INVALID_PARAM)
        return 200, answer(await announcements.announce(actor, room_id, body.text))

    async def pending(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        return 200, answer(await announcements.pending(query_limit(request)))

    def decide(approve: bool) -> Any:
        async def handler(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
            body = read_body(request, ReasonedRequest, empty_ok=True)
            staff = await acting_staff(staff_service, caller, body.model_dump())
            reason = body.reason or ""
            if len(reason) > 1000:
                raise SynapseError(400, "'reason' must be text of at most 1000 characters", Codes.INVALID_PARAM)
            return 200, answer(await announcements.decide(staff, params["announcement_id"], approve, reason))

        return handler

    return [
        Route("POST", "/admin/rooms/{room_id}/announce", Access.STAFF, announce),
        Route("GET", "/admin/announcements", Access.STAFF, pending),
        Route("POST", "/admin/announcements/{announcement_id}/approve", Access.STAFF, decide(True)),
        Route("POST", "/admin/announcements/{announcement_id}/reject", Access.STAFF, decide(False)),
    ]
