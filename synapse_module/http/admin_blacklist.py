"""`/admin/blacklist`: add, list and lift blacklist entries (Art. 11).

A person of this server is blacklisted by the `blacklist` measure (sanctions/measures.py), and
a room of this server by a `closure` that blacklists it, whichever way staff ask for it: the
person or the room's owner is told, it is on the record, it can be appealed, and the entry has
the measure's id (lifting either lifts both). Identity numbers, people of other servers and
rooms this server does not know get an entry of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synapse.module_api import ModuleApi, SynapseRequest
from synapse.module_api.errors import Codes, SynapseError

from policies import Measure
from policies.api import BlacklistAdd, BlacklistLift, ReasonedRequest
from policies.constants import SubjectType
from policies.numbers import duration_seconds, time_ms

from ..errors import NotFound
from ..sanctions.measures import SanctionRequest
from ..texts import text
from .resource import Access, Caller, Route, acting_staff, answer, query_limit, query_str, read_body, required_reason

if TYPE_CHECKING:
    from ..blacklist import Blacklist
    from ..clock import Clock
    from ..sanctions.measures import Measures
    from ..staff import Staff


def routes(
    *, api: ModuleApi, language: str, clock: Clock, staff: Staff, blacklist: Blacklist, measures: Measures
) -> list[Route]:

    async def add(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        assert caller.user_id is not None
        body = read_body(request, BlacklistAdd)
        reason = required_reason(body.model_dump(), language)
        until_ms = _until(body.until, clock.now_ms())
        actor = await acting_staff(staff, caller, body.model_dump())
        subject_type: SubjectType = body.subject.type
        subject = body.subject.id
        duration_s = None if until_ms is None else max(1, -(-(until_ms - clock.now_ms()) // 1000))
        blacklisting = None
        if subject_type == "user" and subject.startswith("@") and api.is_mine(subject):
            blacklisting = SanctionRequest("user", subject, Measure.BLACKLIST, reason, duration_s, duration_given=True)
        elif subject_type == "room" and await measures.room_owner(subject) is not None:
            blacklisting = SanctionRequest(
                "room", subject, Measure.CLOSURE, reason, duration_s, duration_given=True, blacklist=True
            )
        if blacklisting is None:
            entry = await blacklist.add(actor, subject_type, subject, reason, until_ms)
        else:
            outcome = await measures.apply(actor, blacklisting)
            found = await blacklist.entry(outcome.sanction.id)
            assert found is not None, "a blacklisting measure adds its entry"
            entry = found
        return 200, answer(entry.record(clock.now_ms()))

    async def listing(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        active_only = (query_str(request, "active") or "true").lower() != "false"
        limit = query_limit(request)
        return 200, answer(await blacklist.list(active_only, limit))

    async def lift(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        assert caller.user_id is not None
        body = read_body(request, ReasonedRequest).model_dump()
        reason = required_reason(body, language)
        actor = await acting_staff(staff, caller, body)
        entry_id = params["entry_id"]
        if await blacklist.entry(entry_id) is None:
            raise SynapseError(404, text("unknown_entry", language), Codes.NOT_FOUND)
        measure = await measures.get(entry_id)
        if measure is not None and measure.measure in (Measure.BLACKLIST, Measure.CLOSURE):
            # The measure's entry: lifting the measure lifts it, and the person (a room's owner) is told.
            try:
                await measures.lift(actor, entry_id, reason)
                return 200, answer(BlacklistLift(lifted=entry_id))
            except NotFound:
                pass  # lifted already: the entry's own answer below
        if not await blacklist.lift(actor, entry_id, reason):
            raise SynapseError(404, text("unknown_entry", language), Codes.NOT_FOUND)
        return 200, answer(BlacklistLift(lifted=entry_id))

    return [
        Route("POST", "/admin/blacklist", Access.STAFF, add),
        Route("GET", "/admin/blacklist", Access.STAFF, listing),
        Route("DELETE", "/admin/blacklist/{entry_id}", Access.STAFF, lift),
    ]


def _until(value: object, now_ms: int) -> int | None:
    """`until` is absent (permanent), ms since the epoch, or a duration like "7d"."""
    if value is None:
        return None
    if isinstance(value, str):
        # A duration (the bot's syntax); bounded to ten years, so the end is a representable time.
        seconds = duration_seconds(value, "until")
        return None if seconds is None else now_ms + seconds * 1000
    until_ms = time_ms(value, "until")
    if until_ms <= now_ms:
        raise SynapseError(400, "'until' must be in the future", Codes.INVALID_PARAM)
    return until_ms
