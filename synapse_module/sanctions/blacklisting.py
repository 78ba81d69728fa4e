"""Staff's blacklist requests (`POST|DELETE /admin/blacklist`, the bot's `!blacklist`), Art. 11.

A person of this server is blacklisted by the `blacklist` measure, and a room of this server by
a `closure` that blacklists it (measures.py), whichever way staff ask for it: the person or the
room's owner is told, it is on the record, it can be appealed, and the entry has the measure's id
(lifting either lifts both). Identity numbers, people of other servers and rooms this server
does not know get an entry of their own (blacklist.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synapse.module_api import ModuleApi

from policies import Measure
from policies.constants import SubjectType

from ..errors import NotFound
from .measures import SanctionRequest

if TYPE_CHECKING:
    from ..blacklist import Blacklist
    from ..clock import Clock
    from ..store.blacklist import BlacklistEntry
    from .measures import Measures


class Blacklisting:
    """Adds and lifts blacklist entries, through the measure that makes them where there is one."""

    def __init__(self, api: ModuleApi, clock: Clock, *, measures: Measures, blacklist: Blacklist) -> None:
        self._api = api
        self._clock = clock
        self._measures = measures
        self._blacklist = blacklist

    async def add(
        self, actor: str, subject_type: SubjectType, subject: str, reason: str, until_ms: int | None
    ) -> BlacklistEntry:
        """Blacklist `subject` until `until_ms` (None: for good).

        Raises:
            RequestError, Refusal: what the measure or the entry refuses (an invalid ID number, say).
        """
        duration_s = None if until_ms is None else max(1, -(-(until_ms - self._clock.now_ms()) // 1000))
        measure = None
        if subject_type == "user" and subject.startswith("@") and self._api.is_mine(subject):
            measure = SanctionRequest("user", subject, Measure.BLACKLIST, reason, duration_s, duration_given=True)
        elif subject_type == "room" and await self._measures.room_owner(subject) is not None:
            measure = SanctionRequest(
                "room", subject, Measure.CLOSURE, reason, duration_s, duration_given=True, blacklist=True
            )
        if measure is None:
            return await self._blacklist.add(actor, subject_type, subject, reason, until_ms)
        outcome = await self._measures.apply(actor, measure)
        entry = await self._blacklist.entry(outcome.sanction.id)
        assert entry is not None, "a blacklisting measure adds its entry"
        return entry

    async def lift(self, actor: str, entry_id: str, reason: str) -> bool:
        """Lift an entry, and the measure that made it (its subject is told); False for no active entry."""
        if await self._blacklist.entry(entry_id) is None:
            return False
        made_by = await self._measures.get(entry_id)
        if made_by is not None and made_by.measure in (Measure.BLACKLIST, Measure.CLOSURE):
            try:
                await self._measures.lift(actor, entry_id, reason)
                return True
            except NotFound:
                pass  # the measure was lifted already: the entry's own lift answers
        return await self._blacklist.lift(actor, entry_id, reason)
