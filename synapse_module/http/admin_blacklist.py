"""`/admin/blacklist`: add, list and lift blacklist entries (Art. 11; sanctions/blacklisting.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synapse.module_api import SynapseRequest
from synapse.module_api.errors import Codes, SynapseError

from policies.api import BlacklistAdd, BlacklistLift, ReasonedRequest
from policies.constants import SubjectType
from policies.numbers import duration_seconds, time_ms

from ..texts import text
from .resource import Access, Caller, Route, acting_staff, answer, query_limit, query_str, read_body, required_reason

if TYPE_CHECKING:
    from ..blacklist import Blacklist
    from ..clock import Clock
    from ..sanctions.blacklisting import Blacklisting
    from ..staff import Staff


def routes(
    *, language: str, clock: Clock, staff: Staff, blacklist: Blacklist, blacklisting: Blacklisting
) -> list[Route]:

    async def add(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        assert caller.user_id is not None
        body = read_body(request, BlacklistAdd)
        reason = required_reason(body.model_dump(), language)
        until_ms = _until(body.until, clock.now_ms())
        actor = await acting_staff(staff, caller, body.model_dump())
        subject_type: SubjectType = body.subject.type
        entry = await blacklisting.add(actor, subject_type, body.subject.id, reason, until_ms)
        return 200, answer(entry.record(clock.now_ms()))

    async def listing(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        active_only = (query_str(request, "active") or "true").lower() != "false"
        limit = query_limit(request)
        return 200, answer(await blacklist.list(active_only, limit))

    async def lift(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        assert caller.user_id is not None
        body = read_body(request, ReasonedRequest).model_dump()
        reason = required_reason(body, language)
        if not await blacklisting.lift(await acting_staff(staff, caller, body), params["entry_id"], reason):
            raise SynapseError(404, text("unknown_entry", language), Codes.NOT_FOUND)
        return 200, answer(BlacklistLift(lifted=params["entry_id"]))

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
