"""What a blacklist entry brings about (Art. 11).

A new entry is reported to the regulator and published to the policy list; a
blacklisted room is closed for as long as the entry lasts (the room's cached
state reads the blacklist), its members are removed, and its owner and admins
are reviewed by the policy's measures.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from synapse.module_api import ModuleApi

from policies import Policy, SubjectKind

from ..store.blacklist import BlacklistEntry
from .background import run_in_background
from .followups import FollowUps
from .measures import Measures, SanctionRequest
from .regulator_reports import RegulatorReports
from .state import SanctionState


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
        sync_policy_list_soon: Callable[[], Awaitable[None]],
    ) -> None:
        self._api = api
        self._policy = policy
        self._service = service_account
        self._state = state
        self._measures = measures
        self._followups = followups
        self._regulator_reports = regulator_reports
        self._is_exempt = is_exempt
        self._sync_policy_list_soon = sync_policy_list_soon

    async def on_added(self, entry: BlacklistEntry) -> None:
        """Consequences of a new blacklist entry: regulator report, policy list, room review."""
        await self._regulator_reports.add_for_blacklisting(entry)
        if entry.subject_type == "room":
            await self._state.invalidate_room(entry.subject)
            run_in_background(self._api, "qunzu_blacklisted_room_review", lambda: self._review_blacklisted_room(entry))
        await self._sync_policy_list_soon()

    async def on_lifted(self, entry: BlacklistEntry) -> None:
        """A lifted entry: the room opens again, and its policy rule is withdrawn."""
        if entry.subject_type == "room":
            await self._state.invalidate_room(entry.subject)
        await self._sync_policy_list_soon()

    async def _review_blacklisted_room(self, entry: BlacklistEntry) -> None:
        """Art. 11: a blacklisted room is closed, and its owner and admins reviewed by the policy."""
        room_id = entry.subject
        await self._followups.remove_members(room_id)
        owner = await self._measures.room_owner(room_id)
        admins = await self._room_admins(room_id)
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
        state = await self._api.get_room_state(room_id, [("m.room.power_levels", "")])
        levels = state.get(("m.room.power_levels", ""))
        if levels is None:
            return []
        users = levels.content.get("users") or {}
        threshold = levels.content.get("kick", 50)
        return sorted(
            user
            for user, level in users.items()
            if isinstance(level, int) and isinstance(threshold, int) and level >= threshold and user != self._service
        )
