"""A person's standing: credit (信用等级, Art. 7) and active measures, and staff's credit adjustments."""

from __future__ import annotations

import secrets

from synapse.module_api import ModuleApi

from policies import Policy, level_of
from policies.api import CreditChange, CreditStatus, CreditView, Sanction
from policies.tiers import level_rules

from ..clock import Clock
from ..errors import Conflict
from ..notices import Notifier
from ..sanction_texts import notice_text
from ..store.audit import AuditRecord
from ..store.credit import CreditCharge, CreditStore
from ..store.measures import MeasureStore
from .background import run_in_background
from .state import IdentityOf, SanctionState


class Standing:
    """Reads a person's credit and measures; applies staff's credit adjustments."""

    def __init__(
        self,
        api: ModuleApi,
        clock: Clock,
        policy: Policy,
        language: str,
        credit: CreditStore,
        measures: MeasureStore,
        state: SanctionState,
        identity_of: IdentityOf,
        notifier: Notifier,
    ) -> None:
        self._api = api
        self._clock = clock
        self._policy = policy
        self._language = language
        self._credit = credit
        self._measures = measures
        self._state = state
        self._identity_of = identity_of
        self._notifier = notifier

    async def status_of(self, user_id: str) -> tuple[CreditStatus, list[Sanction]]:
        """Credit and active measures for `GET /me`."""
        state = await self._state.user_state(user_id)
        record = await self._state.user_record(user_id)
        now = self._clock.now_ms()
        active = await self._measures.of_user(user_id, record.fingerprint, True, 50)
        return self._credit_status(state.credit_score), [sanction.record(now) for sanction in active]

    async def credit_view(self, user_id: str) -> CreditView:
        """The score, its level and what the level allows, and the last changes."""
        state = await self._state.user_state(user_id)
        record = await self._state.user_record(user_id)
        history = (
            [change.record() for change in await self._credit.history(record.fingerprint, 50)]
            if record.verified and record.fingerprint
            else []
        )
        credit = self._credit_status(state.credit_score)
        return CreditView(user_id=user_id, **credit.model_dump(exclude_unset=True), history=history)

    def _credit_status(self, score: int | None) -> CreditStatus:
        if score is None:
            return CreditStatus(score=None, level=None)
        level = level_of(score, self._policy)
        rules = level_rules(level, self._policy)
        return CreditStatus(
            score=score,
            level=level,
            may_create=rules.may_create,
            may_invite=rules.may_invite,
            may_post=rules.may_post,
            rooms_owned_cap=rules.rooms_owned,
            rooms_joined_cap=rules.rooms_joined,
        )

    async def adjust_credit(self, actor: str, user_id: str, delta: int, reason: str) -> CreditChange:
        """A staff adjustment with a reason (DESIGN.md §3.4 credit adjust).

        Raises:
            RequestError: 409 when the user has no verified identity (credit belongs to identities).
        """
        gate = await self._identity_of(user_id)
        if gate.status != "verified" or gate.fingerprint is None:
            raise Conflict("This user has no verified identity, so no credit score")
        charge = CreditCharge("cr_" + secrets.token_hex(8), gate.fingerprint, user_id, delta, reason)
        audit = AuditRecord(actor, "credit.adjust", user_id, {"id": charge.change_id, "requested_delta": delta})
        change = await self._credit.adjust(self._policy, charge, actor, audit)
        await self._state.invalidate(None, gate.fingerprint)
        level = level_of(change.after, self._policy)
        text = notice_text(
            "credit_adjusted", self._language, before=change.before, after=change.after, level=level, reason=reason
        )
        run_in_background(self._api, "qunzu_credit_notice", lambda: self._notifier.to_user(user_id, text))
        return change.record().model_copy(update={"level": level})
