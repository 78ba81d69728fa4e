"""What a measure owes after its commit: telling the subject, and removing the members of a closed room.

It runs right after the commit and again from a job until it is done (the row's
`notified_ts`, claimed with a lease so that one process does it), so a crash
delays it but never loses it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from synapse.module_api import ModuleApi
from synapse.module_api.errors import SynapseError

from policies import Measure, Policy, level_of
from policies.api import FollowupsDone

from ..notices import Notifier
from ..sanction_texts import measure_label, notice_text, until_text
from ..store.measures import MeasureStore, Sanction
from .background import run_in_background
from .state import SanctionState

logger = logging.getLogger(__name__)

# A follow-up claimed by a process that died is taken over after this long.
FOLLOWUP_LEASE_MS = 5 * 60 * 1000
FOLLOWUP_BATCH = 50


class FollowUps:
    """Delivers the notices of measures and empties closed rooms."""

    def __init__(
        self,
        api: ModuleApi,
        policy: Policy,
        language: str,
        service_account: str,
        store: MeasureStore,
        state: SanctionState,
        notifier: Notifier,
    ) -> None:
        self._api = api
        self._policy = policy
        self._language = language
        self._service = service_account
        self._store = store
        self._state = state
        self._notifier = notifier
        # Subscribers told when a room is closed (the groups code retires its code here).
        self.on_room_closed: list[Callable[[str], Awaitable[None]]] = []

    def soon(self, sanction_id: str) -> None:
        """Follow the measure up now, in the background (the job retries what this misses)."""
        run_in_background(self._api, "qunzu_sanction_followup", lambda: self._follow_up(sanction_id))

    async def run(self) -> FollowupsDone:
        """The job: finish what measures still owe (after a crash, or the service account was missing)."""
        done = 0
        for sanction_id in await self._store.pending_followups(FOLLOWUP_LEASE_MS, FOLLOWUP_BATCH):
            if await self._follow_up(sanction_id):
                done += 1
        return FollowupsDone(done=done)

    async def _follow_up(self, sanction_id: str) -> bool:
        if not await self._store.claim_followup(sanction_id, FOLLOWUP_LEASE_MS):
            return False
        try:
            sanction = await self._store.get(sanction_id)
            delivered = sanction is None or sanction.lifted_ts is not None or await self._deliver(sanction)
        except Exception:
            logger.exception("qunzu: the follow-up of measure %s failed; the job retries", sanction_id)
            delivered = False
        if delivered:
            await self._store.finish_followup(sanction_id)
        else:
            await self._store.release_followup(sanction_id)
        return delivered

    async def _deliver(self, sanction: Sanction) -> bool:
        language = self._language
        values = {
            "reason": sanction.reason,
            "measure": measure_label(sanction.measure, language),
            "until": until_text(sanction.measure, sanction.end_ts, sanction.start_ts, language),
            "id": sanction.id,
        }
        credit = ""
        if sanction.credit_user and sanction.credit_delta:
            state = await self._state.user_state(sanction.credit_user)
            if state.credit_score is not None:
                credit = notice_text(
                    "credit",
                    language,
                    before=state.credit_score - sanction.credit_delta,
                    after=state.credit_score,
                    level=level_of(state.credit_score, self._policy),
                )
        if sanction.subject_type == "user":
            body = notice_text("user", language, credit=credit, **values)
            return await self._notifier.to_user(sanction.subject, body)
        delivered = await self._notifier.to_room(sanction.subject, notice_text("room", language, **values))
        if sanction.credit_user:
            owner_text = notice_text("room_owner", language, room=sanction.subject, credit=credit, **values)
            delivered = await self._notifier.to_user(sanction.credit_user, owner_text) or delivered
        if sanction.measure == Measure.CLOSURE:
            await self.remove_members(sanction.subject)
            current = await self._store.get(sanction.id)
            if current is not None and current.lifted_ts is None:
                # Not for a closure lifted meanwhile: its lift has opened the room again.
                for hook in self.on_room_closed:
                    await hook(sanction.subject)
            delivered = True
        return delivered

    async def notify_subject(self, sanction: Sanction, body: str) -> None:
        """Tell the subject of a measure (a room, and its owner) `body`."""
        if sanction.subject_type == "user":
            await self._notifier.to_user(sanction.subject, body)
            return
        await self._notifier.to_room(sanction.subject, body)
        if sanction.credit_user:
            await self._notifier.to_user(sanction.credit_user, body)

    async def remove_members(self, room_id: str) -> int:
        """关闭群组: everyone but the service account leaves the room.

        The service account removes each member when it has the power to (it is in every
        governed room with that power); otherwise each local member's membership is
        ended in their own name, which needs no power.
        """
        state = await self._api.get_room_state(room_id, [("m.room.member", None)])
        reason = {"reason": measure_label(Measure.CLOSURE, self._language)}
        removed = 0
        for (_type, member), event in state.items():
            if member == self._service or event.membership not in ("join", "invite", "knock"):
                continue
            try:
                await self._api.update_room_membership(self._service, member, room_id, "leave", dict(reason))
            except SynapseError:
                if not self._api.is_mine(member):
                    logger.info("qunzu: a remote member of closed room %s could not be removed", room_id)
                    continue
                try:
                    await self._api.update_room_membership(member, member, room_id, "leave", dict(reason))
                except SynapseError as exc:
                    logger.warning("qunzu: a member of closed room %s could not be removed (%s)", room_id, exc.code)
                    continue
            removed += 1
        return removed
