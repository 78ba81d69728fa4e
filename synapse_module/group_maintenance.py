"""Jobs that keep every group right over time (Art. 6, 7).

Activity and scale tiers are recounted hourly, codes are given to rooms from
before Qunzu, every room's server ACL follows the policy (also after it
changed), and codes whose group event was persisted but never processed (a
crash in between) are linked.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from synapse.module_api.errors import SynapseError

from policies.api import AclReconcile, CodeBackfill, TierRefresh
from policies.codes import new_codes
from policies.constants import DAY_MS, GROUP_STATE_TYPE, SERVER_ACL_STATE_TYPE
from policies.tiers import activity_tier_of, scale_tier_of

from .store.groups import PENDING_MS, NewGroup

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .clock import Clock
    from .config import QunzuConfig
    from .group_records import GroupRecords
    from .group_state import GroupState
    from .groups import Groups
    from .store.audit import AuditStore
    from .store.groups import GroupStore

logger = logging.getLogger(__name__)


class GroupMaintenance:
    """The groups' background jobs: tiers, backfill, server ACLs, orphaned codes."""

    def __init__(
        self,
        api: ModuleApi,
        clock: Clock,
        config: QunzuConfig,
        *,
        store: GroupStore,
        audit: AuditStore,
        records: GroupRecords,
        groups: Groups,
        state: GroupState,
    ) -> None:
        self._api = api
        self._clock = clock
        self._policy = config.policy
        self._service = config.service_account
        self._store = store
        self._audit = audit
        self.record = records
        self._groups = groups
        self._state = state

    @property
    def service_account(self) -> str:
        return self._service

    async def _link_orphans(self) -> int:
        """Link codes whose group event was persisted but never processed (a crash in between)."""
        unlinked = await self._store.unlinked_before(self._clock.now_ms() - PENDING_MS)
        if not unlinked:
            return 0
        linked = 0
        for room_id, body in await self._store.current_group_events(GROUP_STATE_TYPE):
            code = json.loads(body).get("content", {}).get("code")
            if code in unlinked and await self._store.link(code, room_id):
                await self.record.invalidate_everywhere(room_id)
                linked += 1
        return linked

    async def refresh_tiers(self) -> TierRefresh:
        """Job: activity tiers from messages in the window, scale tiers from members (Art. 7)."""
        linked = await self._link_orphans()
        policy = self._policy
        window_ms = policy.activity_tiers.window_days * DAY_MS
        messages = await self._store.messages_since(self._clock.now_ms() - window_ms)
        changed = 0
        after = ""
        while batch := await self._store.active_groups(after, 200):
            for record in batch:
                assert record.room_id is not None
                activity = activity_tier_of(messages.get(record.room_id, 0), policy)
                members = await self._store.member_count(record.room_id, self.service_account)
                scale = scale_tier_of(members, policy)
                if (activity, scale) != (record.activity_tier, record.scale_tier):
                    await self._groups.change(record, members, activity_tier=activity, scale_tier=scale)
                    changed += 1
            after = batch[-1].code
        return TierRefresh(changed=changed, linked=linked)

    async def backfill(self) -> CodeBackfill:
        """Job: rooms that existed before Qunzu was installed get codes (once; later runs find none)."""
        policy = self._policy
        registered = 0
        after = ""
        while rooms := await self._store.rooms_page(after, 200):
            for room_id, creator in rooms:
                # A room created with Qunzu but not linked yet carries its group event: link it.
                if await self.record.get(room_id) is not None:
                    continue
                # A creation under way by the same person may be this very room, its state not
                # written yet: a code of its own would leave the reserved one counting against
                # the owner's cap. It links itself in a moment; a later run finds what does not.
                if creator and await self._store.creating(creator, self._clock.now_ms() - PENDING_MS):
                    continue
                # A fresh upgrade waits for its predecessor's group (the follower carries it over).
                if await self._groups.upgraded_from(room_id) is not None:
                    continue
                group = NewGroup(
                    codes=new_codes(),
                    category=policy.categories.default_category,
                    creator=creator or self.service_account,
                    scale_tier=scale_tier_of(await self._store.member_count(room_id, self.service_account), policy),
                    activity_tier=activity_tier_of(0, policy),
                    verification_dm=False,
                )
                code = await self._store.register_existing(room_id, group)
                if code is None:
                    continue
                registered += 1
                record = await self._store.by_room(room_id)
                if record is not None and creator and self._api.is_mine(creator):
                    try:
                        await self._state.send_group_event_as(creator, record)
                        await self._state.send_acl_as(creator, room_id)
                    except SynapseError as exc:
                        logger.info("qunzu: backfilled code kept in the registry only: %s", exc.msg)
            after = rooms[-1][0]
        if registered:
            await self._audit.append("module:jobs", "group.backfill", "groups", {"rooms": registered})
        return CodeBackfill(registered=registered)

    async def reconcile_server_acls(self) -> AclReconcile:
        """Job (and at start): every governed room's ACL follows the policy, also after it changed.

        Rooms are found by their group event (a room created just before a restart may not be
        linked in the registry yet); closed ones are left alone. One query reads every room's
        current ACL; only rooms whose ACL differs are written.
        """
        current = {room_id: body for room_id, body in await self._store.current_group_events(SERVER_ACL_STATE_TYPE)}
        wanted = self._state.server_acl()
        updated = failed = 0
        for room_id, _body in await self._store.current_group_events(GROUP_STATE_TYPE):
            body = current.get(room_id)
            if body is not None and json.loads(body).get("content") == wanted:
                continue
            try:
                record = await self.record.get(room_id)  # links a room not linked yet
                if record is None or record.retired:
                    continue
                if await self._state.ensure_server_acl(room_id):
                    updated += 1
            except Exception:
                # Per room: one room's trouble must not hold up the others; the next run retries.
                logger.exception("qunzu: updating the server ACL of a room failed")
                failed += 1
        return AclReconcile(updated=updated, failed=failed)
