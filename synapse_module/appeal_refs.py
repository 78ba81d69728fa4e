"""Appealable references (policies/appeals.py): on refusals, and `!appeal` without one.

Standard clients may show only "Failed" for a refusal, and the person must still be
able to appeal what was decided (Art. 11; PIPL Art. 24). So a refusal whose text
says "send !appeal" names the decision in ``detail.ref`` and in its text
(``with_reference``), and an appeal without a reference takes the person's latest
appealable decision (``appeal``): a measure (``sn_…``, ``bl_…``), a refused message
(``cb_…``, minted by the content guard and kept in its audit record), or a blacklist
entry no measure made that covers the person (``bl_…``: an identity number's entry).

The look-up runs only on a refusal of a local person, never on an allowed event.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from synapse.module_api.errors import SynapseError

from policies import Reason, api
from policies.appeals import CONTENT_REF_PREFIX, MEASURES_BEHIND, ROOM_MEASURES, is_reference

from .errors import Conflict, NotFound, Refusal
from .refusals import refusal_error
from .sanction_texts import notice_text
from .store.appealable import AppealableStore
from .store.appeals import Appeal
from .store.audit import AuditRecord

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .cache import ClusterCache
    from .clock import Clock
    from .config import QunzuConfig
    from .sanctions.appeals import Appeals
    from .store.appeals import AppealStore
    from .store.identities import GateRecord


def new_content_ref() -> str:
    """A reference for a refused message (kept in its audit record, shown in its refusal)."""
    return CONTENT_REF_PREFIX + secrets.token_hex(6)


class AppealReferences:
    """Finds the decision a refusal rests on, and the latest one a person may appeal."""

    def __init__(
        self,
        api: ModuleApi,
        clock: Clock,
        config: QunzuConfig,
        *,
        gate: ClusterCache[str, GateRecord],
        appeals: Appeals,
        appeal_store: AppealStore,
    ) -> None:
        """`gate` is the posting gate's cache of identity records (`RealnameService.gate`)."""
        self._api = api
        self._clock = clock
        self._config = config
        self._gate = gate
        self._appeals = appeals
        self._appeal_store = appeal_store
        self._store = AppealableStore(api)

    async def _fingerprint(self, user_id: str) -> str | None:
        return (await self._gate.get(user_id)).fingerprint

    async def with_reference(self, error: SynapseError, user_id: str, room_id: str | None) -> SynapseError:
        """``error`` with ``detail.ref`` and the text naming it, when its reason rests on a measure.

        Returns ``error`` itself when it is no such refusal, names a reference already, or
        no measure in force is found (the person can still send ``!appeal`` without one).
        """
        fields = error.error_dict(None)
        reason_value = fields.get("cn.qunzu.reason")
        detail = fields.get("cn.qunzu.detail")
        if not isinstance(reason_value, str) or not isinstance(detail, dict) or "ref" in detail:
            return error
        try:
            reason = Reason(reason_value)
        except ValueError:
            return error
        measures = MEASURES_BEHIND.get(reason)
        if measures is None or not self._api.is_mine(user_id):
            return error
        fingerprint, now = await self._fingerprint(user_id), self._clock.now_ms()
        ref = await self._store.measure_behind(user_id, fingerprint, room_id, measures, tuple(ROOM_MEASURES), now)
        if ref is None and reason == Reason.BLACKLISTED:
            # An entry no measure made (an identity number's): the entry is the decision.
            entries = await self._store.blacklistings(user_id, fingerprint, now)
            ref = entries[0].id if entries else None
        if ref is None:
            return error
        return refusal_error(Refusal(reason, {**detail, "ref": ref}), self._config)

    async def latest(self, user_id: str) -> str | None:
        """The reference of the person's latest appealable decision, or None."""
        fingerprint = await self._fingerprint(user_id)
        measures = await self._store.measures_of(user_id, fingerprint)
        refusals = await self._store.content_refusals(user_id)
        entries = await self._store.blacklistings(user_id, fingerprint, self._clock.now_ms())
        decisions = [
            *((measure.start_ts, measure.id) for measure in measures),
            *((refusal.ts, refusal.ref) for refusal in refusals),
            *((entry.created_ts, entry.id) for entry in entries),
        ]
        return max(decisions, default=(0, None))[1]

    async def appeal(self, user_id: str, ref: str | None, text: str) -> api.Appeal:
        """Appeal ``ref`` (a measure, a refused message or a blacklist entry), or without it the latest decision.

        Raises:
            RequestError: 404 nothing (of the caller's) to appeal; 409 an appeal of it is open already.
        """
        language = self._config.language
        if ref is None:
            ref = await self.latest(user_id)
            if ref is None:
                raise NotFound(notice_text("appeal_nothing", language))
        if not is_reference(ref):
            raise NotFound(notice_text("appeal_unknown", language, id=ref))
        now = self._clock.now_ms()
        if ref.startswith(CONTENT_REF_PREFIX):
            if ref not in {refusal.ref for refusal in await self._store.content_refusals(user_id)}:
                raise NotFound(notice_text("appeal_unknown", language, id=ref))
            action = "content.appeal"
        elif ref in {
            entry.id for entry in await self._store.blacklistings(user_id, await self._fingerprint(user_id), now)
        }:
            action = "blacklist.appeal"  # an entry no measure made: the entry is the decision
        else:
            return await self._appeals.appeal(user_id, ref, text)  # a measure
        appeal = Appeal("ap_" + secrets.token_hex(8), ref, user_id, text, now, "open", None, None, None)
        stored = await self._appeal_store.add(appeal, AuditRecord(user_id, action, ref, {"id": appeal.id}))
        if stored is None:
            raise Conflict(notice_text("appeal_open", language, id=ref))
        message = notice_text("appeal_received", language, id=ref, appeal=stored.id)
        return stored.record().model_copy(update={"message": message})
