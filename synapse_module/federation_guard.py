"""Art. 6, 11: what other servers bring into a governed room's state anyway is undone.

The module refuses a remote event it must not let in by soft-failing it
(`callbacks.py`): the join or invite of someone the policy does not admit or who
is blacklisted, a remote admin's change of the server ACL or the group event. A
soft-failed event is never delivered, but it stays in the room's history on the
server that sent it, and that server's next events build on it: when one of them
arrives, state resolution can bring the refused change into the room's state
after all (seen with three servers: a partner's admin changes the ACL, then
posts). No callback sees that happen.

So an event-stream subscriber (one process, about a fifth of a second behind) looks again
at a governed room whenever an event of another server arrives there while the
room is under watch — from the first remote state event for `WATCH_MS`, renewed by
every further one: the service account removes every remote member or invitee
the policy does not admit or who is blacklisted, and restores the server ACL and
the group event. The daily job `federation_guard` does the same for every
governed room, so nothing depends on this process's memory surviving a restart,
and so does every start after a change of the federation policy (people of a
server that is no longer a partner leave every group).
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

from synapse.module_api.errors import SynapseError

from policies.api import FederationSweep
from policies.constants import GROUP_STATE_TYPE
from policies.federation import may_take_part

from .event_stream import StreamEvent

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .clock import Clock
    from .config import QunzuConfig
    from .facts import FactsSource
    from .group_maintenance import GroupMaintenance
    from .group_records import GroupRecords
    from .group_state import GroupState
    from .health import Health
    from .store.audit import AuditStore
    from .store.groups import GroupStore

logger = logging.getLogger(__name__)

WATCH_MS = 15 * 60 * 1000
_PRESENT = ("join", "invite", "knock")


class FederationGuard:
    """Keeps governed rooms' members, server ACL and group event as the policy says."""

    def __init__(
        self,
        api: ModuleApi,
        clock: Clock,
        config: QunzuConfig,
        *,
        health: Health,
        records: GroupRecords,
        group_state: GroupState,
        group_maintenance: GroupMaintenance,
        facts: FactsSource,
        group_store: GroupStore,
        audit: AuditStore,
    ) -> None:
        self._api = api
        self._clock = clock
        self._config = config
        self._health = health
        self._records = records
        self._group_state = group_state
        self._group_maintenance = group_maintenance
        self._facts = facts
        self._group_store = group_store
        self._audit = audit
        # room_id -> until when remote events there are followed by a look at the members.
        self._watch: dict[str, int] = {}

    async def on_events(self, events: list[StreamEvent]) -> None:
        """An `EventStream` subscriber (background-task instance)."""
        now = self._clock.now_ms()
        rooms: dict[str, None] = {}
        for event in events:
            if self._api.is_mine(event.sender):
                continue
            if event.is_state():
                self._watch[event.room_id] = now + WATCH_MS
            if self._watch.get(event.room_id, 0) > now:
                rooms[event.room_id] = None
        self._watch = {room: until for room, until in self._watch.items() if until > now}
        for room_id in rooms:
            try:
                await self.settle(room_id)
            except Exception:
                # Per room: one room's trouble must not hold up the others; the job retries.
                logger.exception("qunzu: checking a room after remote events failed")

    async def settle(self, room_id: str) -> int:
        """Restore a governed room's ACL and group event; remove remote people who may not be there.

        Returns:
            How many people were removed.
        """
        record = await self._records.get(room_id)
        if record is None or record.retired:
            return 0
        await self._group_state.ensure_server_acl(room_id)
        await self._group_state.align_group_state(room_id, functools.partial(self._records.get, room_id))
        state = await self._api.get_room_state(room_id, [("m.room.member", None)])
        own = self._api.server_name
        service = self._config.service_account
        removed = 0
        for (_type, user_id), event in state.items():
            if self._api.is_mine(user_id) or event.content.get("membership") not in _PRESENT:
                continue
            if (
                may_take_part(user_id, own, self._config.policy).allowed
                and not (await self._facts.user(user_id)).blacklisted
            ):
                continue
            try:
                await self._api.update_room_membership(service, user_id, room_id, "leave")
            except SynapseError as exc:
                logger.warning("qunzu: could not remove a remote member the policy keeps out (%s)", exc.code)
                continue
            removed += 1
        if removed:
            await self._audit.append("module:federation_guard", "federation.remove", room_id, {"removed": removed})
        return removed

    async def at_start(self) -> None:
        """A policy change takes effect with the restart that loads it (background instance only).

        Every group's ACL is brought in line; when any changed, the policy did, and every
        group is swept: people of a server that is no longer a partner are removed.
        """
        try:
            await self._health.ready()
            acls = await self._group_maintenance.reconcile_server_acls()
            logger.info("qunzu: server ACLs at start: %s", acls)
            if acls.updated:
                logger.info("qunzu: groups after a federation policy change: %s", await self.sweep())
        except Exception:
            logger.exception("qunzu: bringing groups in line with the federation policy at start failed; jobs retry")

    async def sweep(self) -> FederationSweep:
        """Job: every governed room, once (after a restart, after a policy change)."""
        removed = 0
        for room_id, _body in await self._group_store.current_group_events(GROUP_STATE_TYPE):
            try:
                removed += await self.settle(room_id)
            except Exception:
                logger.exception("qunzu: checking a room's members, ACL and group event failed")
        return FederationSweep(removed=removed)
