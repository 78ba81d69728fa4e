"""Appeals against measures (Art. 11): the subject appeals, a person decides.

An upheld appeal overturns the measure, which gives back the credit it took
(store/measures.py lifts it and restores the credit in one transaction); an
upheld appeal of a blacklist entry no measure made lifts the entry.
"""

from __future__ import annotations

import secrets

from synapse.module_api import ModuleApi

from policies import api

from ..clock import Clock
from ..errors import Conflict, NotFound
from ..notices import Notifier
from ..sanction_texts import notice_text
from ..store.appeals import Appeal, AppealStore
from ..store.audit import AuditRecord
from ..store.measures import Sanction
from .background import run_in_background
from .measures import BlacklistWriter, Measures
from .state import IdentityOf


class Appeals:
    """Files and decides appeals."""

    def __init__(
        self,
        api: ModuleApi,
        clock: Clock,
        language: str,
        store: AppealStore,
        measures: Measures,
        blacklist: BlacklistWriter,
        identity_of: IdentityOf,
        notifier: Notifier,
    ) -> None:
        self._api = api
        self._clock = clock
        self._language = language
        self._store = store
        self._measures = measures
        self._blacklist = blacklist
        self._identity_of = identity_of
        self._notifier = notifier

    async def appeal(self, user_id: str, sanction_id: str, text: str) -> api.Appeal:
        """The subject (or the owner of a sanctioned room) appeals; a person decides.

        Raises:
            RequestError: 404 unknown measure or not the caller's; 409 an appeal is open already.
        """
        sanction = await self._measures.get(sanction_id)
        if sanction is None or not await self._may_appeal(user_id, sanction):
            raise NotFound(notice_text("appeal_unknown", self._language, id=sanction_id))
        now = self._clock.now_ms()
        appeal = Appeal("ap_" + secrets.token_hex(8), sanction_id, user_id, text, now, "open", None, None, None)
        audit = AuditRecord(user_id, "sanction.appeal", sanction_id, {"id": appeal.id})
        stored = await self._store.add(appeal, audit)
        if stored is None:
            raise Conflict(notice_text("appeal_open", self._language, id=sanction_id))
        message = notice_text("appeal_received", self._language, id=sanction_id, appeal=stored.id)
        return stored.record().model_copy(update={"message": message})

    async def _may_appeal(self, user_id: str, sanction: Sanction) -> bool:
        if user_id in (sanction.subject, sanction.credit_user):
            return True
        if sanction.subject_type == "user" and sanction.fingerprint:
            return (await self._identity_of(user_id)).fingerprint == sanction.fingerprint
        return False

    async def listing(self, status: str | None, limit: int) -> list[Appeal]:
        """Appeals (of one status, or all), oldest first."""
        return await self._store.with_status(status, limit)

    async def decide(self, actor: str, appeal_id: str, upheld: bool, reason: str) -> Appeal:
        """Staff decide: upheld overturns the measure (credit given back); rejected keeps it.

        Raises:
            RequestError: 404 unknown or already decided appeal.
        """
        appeal = await self._store.get(appeal_id)
        status = "upheld" if upheld else "rejected"
        audit = AuditRecord(
            actor,
            "sanction.appeal_decide",
            appeal.sanction_id if appeal else appeal_id,
            {"id": appeal_id, "outcome": status},
        )
        if appeal is None or not await self._store.decide(appeal_id, status, actor, reason, audit):
            raise NotFound("No such open appeal")
        if upheld:
            try:
                await self._measures.lift(actor, appeal.sanction_id, reason, overturned=True)
            except NotFound:
                # No measure in force: a blacklist entry no measure made is lifted; one lifted
                # meanwhile (or a refused message, which has nothing to lift) is upheld all the same.
                await self._blacklist.lift(actor, appeal.sanction_id, reason)
        key = "appeal_upheld" if upheld else "appeal_rejected"
        text = notice_text(key, self._language, id=appeal.sanction_id, reason=reason)
        run_in_background(self._api, "qunzu_appeal_notice", lambda: self._notifier.to_user(appeal.appellant, text))
        decided = await self._store.get(appeal_id)
        assert decided is not None
        return decided
