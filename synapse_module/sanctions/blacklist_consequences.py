"""What a blacklist entry brings about (Art. 11).

A new entry is reported to the regulator and published to the policy list; a
blacklisted room is closed for as long as the entry lasts (the room's cached
state reads the blacklist), its members are removed, and its owner and admins
are reviewed by the policy's measures.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from synapse.module_api import ModuleApi

from policies import Policy, SubjectKind
from policies.roles import room_admins

from ..store.blacklist import BlacklistEntry
from .background import run_in_background
from .followups import FollowUps
from .measures import Measures, SanctionRequest
from .regulator_reports import RegulatorReports
from .state import SanctionState

logger = logging.getLogger(__name__)


class BlacklistConsequences:
    """Follows blacklist entries up: regulator report, policy list, room review."""

    def __init__(
        self,
        api: ModuleApi,
        policy: Policy,
        service_account: str,
        state: SanctionState,
        measures: Measures,
        followups: FollowUps,
        regulator_reports: RegulatorReports,
        is_exempt: Callable[[str], Awaitable[bool]],
        sync_policy_list: Callable[[], Awaitable[Any]],
    ) -> None:
        self._api = api
        self._policy = policy
        self._service = service_account
        self._state = state
        self._measures = measures
        self._followups = followups
        self._regulator_reports = regulator_reports
        self._is_exempt = is_exempt
        self._sync_policy_list = sync_policy_list

    async def on_added(self, entry: BlacklistEntry) -> None:
        """Consequences of a new blacklist entry: regulator report, policy list, room review."""
        await self._regulator_reports.add_for_blacklisting(entry)
        if entry.subject_type == "room":
            await self._state.invalidate_room(entry.subject)
            run_in_background(self._api, "qunzu_blacklisted_room_review", lambda: self._review_blacklisted_room(entry))
        self._sync_policy_list_soon()

    async def on_lifted(self, entry: BlacklistEntry) -> None:
        """A lifted entry: the room opens again, and its policy rule is withdrawn."""
        if entry.subject_type == "room":
            await self._state.invalidate_room(entry.subject)
        self._sync_policy_list_soon()

    def _sync_policy_list_soon(self) -> None:
        """Publish the change now, in the background; the policy list job catches up on failure."""

        async def sync() -> None:
            try:
                await self._sync_policy_list()
            except Exception:
                logger.warning("qunzu: publishing the blacklist to the policy list failed; the job retries")

        self._api.run_as_background_process("qunzu_policy_list_sync", sync)

    async def _review_blacklisted_room(self, entry: BlacklistEntry) -> None:
        """Art. 11: a blacklisted room is closed, and its owner and admins reviewed by the policy."""
        room_id = entry.subject
        # Who answers for the room is read while the server is still in it: once the last
        # local member is removed, Synapse no longer has the room's state to read.
        owner = await self._measures.room_owner(room_id)
        admins = await self._room_admins(room_id)
        await self._followups.remove_members(room_id)
        reason = f"blacklisted room {room_id}: {entry.reason}"
        targets = [(owner, self._policy.sanctions.blacklisted_room_owner)] if owner else []
        targets += [(admin, self._policy.sanctions.blacklisted_room_admins) for admin in admins if admin != owner]
        for user_id, steps in targets:
            if not self._api.is_mine(user_id) or await self._is_exempt(user_id):
                continue
            for step in steps:
                request = SanctionRequest(
                    subject_type="user",
                    subject=user_id,
                    measure=step.measure,
                    reason=reason,
                    duration_s=step.duration,
                    duration_given=True,
                    ladder=str(SubjectKind.ADMIN),
                    credit_delta=step.credit_delta,
                )
                await self._measures.apply(entry.actor, request)

    async def _room_admins(self, room_id: str) -> list[str]:
        """The room's admins by the one rule of `policies.roles`, not counting the service account."""
        state = await self._api.get_room_state(room_id, [("m.room.create", ""), ("m.room.power_levels", "")])
        create = state.get(("m.room.create", ""))
        levels = state.get(("m.room.power_levels", ""))
        if create is None or levels is None:
            return []
        return [user for user in room_admins(create.sender, create.content, levels.content) if user != self._service]
