"""Taking and lifting measures (Art. 7, 11), and the escalation ladder.

A measure is one row in `qunzu_sanctions`, stored with its credit change, its
audit records and (for closures and severe categories) its regulator report in
one transaction (store/measures.py). After the commit the cached state is
dropped on every process and the follow-up (notices, removing members) starts.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

from synapse.module_api import LoggingTransaction, ModuleApi

from policies import Measure, Policy, SubjectKind
from policies.api import LadderStep, Proposal, Subject
from policies.constants import DAY_MS, SubjectType
from policies.measures import MEASURES_FOR
from policies.sanctions import default_duration, is_severe, measure_report_kind, next_measure

from ..clock import Clock
from ..errors import InvalidInput, NotFound
from ..sanction_texts import measure_label, notice_text
from ..store.audit import AuditRecord
from ..store.blacklist import BlacklistEntry
from ..store.credit import CreditCharge
from ..store.measures import ApplyOutcome, MeasureStore, Sanction
from ..texts import text
from .background import run_in_background
from .followups import FollowUps
from .regulator_reports import RegulatorReports
from .state import IdentityOf, SanctionState

SanctionSubject = Literal["user", "room"]

MAX_EVIDENCE = 50

ROOM_MEASURES = MEASURES_FOR[SubjectKind.ROOM]
USER_MEASURES = MEASURES_FOR[SubjectKind.ADMIN] | MEASURES_FOR[SubjectKind.MEMBER]
# Measures that last only an instant: their effect is the credit change and the notice.
INSTANT = {Measure.CREDIT_LOWERED}
# Measures whose duration may be 0: instant ones, and a warning without a rectification deadline.
TIMELESS_MEASURES = frozenset({*INSTANT, Measure.WARNING})


class BlacklistWriter(Protocol):
    """What taking a measure needs of the blacklist (blacklist.py)."""

    async def add(
        self,
        actor: str,
        subject_type: SubjectType,
        subject: str,
        reason: str,
        until_ms: int | None,
        entry_id: str | None = None,
    ) -> BlacklistEntry: ...

    async def lift(self, actor: str, entry_id: str, reason: str) -> bool: ...


def _bad(message: str) -> InvalidInput:
    return InvalidInput(message)


def measure_of(value: object) -> Measure:
    """A measure name from a request, or a 400."""
    try:
        return Measure(cast(str, value))
    except ValueError:
        raise _bad(f"Unknown measure; use one of {', '.join(m.value for m in Measure)}") from None


@dataclass(frozen=True)
class SanctionRequest:
    """A measure staff (or the bot, or a policy review) want to take."""

    subject_type: SanctionSubject
    subject: str
    measure: Measure
    reason: str
    duration_s: int | None  # None: permanent
    duration_given: bool
    ladder: str | None = None
    category: str | None = None
    evidence: tuple[str, ...] = ()
    ticket_id: str | None = None
    credit_delta: int | None = None
    blacklist: bool = False


class Measures:
    """Applies and lifts measures; proposes the ladder's next step."""

    def __init__(
        self,
        api: ModuleApi,
        clock: Clock,
        policy: Policy,
        language: str,
        store: MeasureStore,
        identity_of: IdentityOf,
        state: SanctionState,
        followups: FollowUps,
        regulator_reports: RegulatorReports,
        blacklist: BlacklistWriter,
        on_admin_suspended: Callable[[str], None],
    ) -> None:
        self._api = api
        self._clock = clock
        self._policy = policy
        self._language = language
        self._store = store
        self._identity_of = identity_of
        self._state = state
        self._followups = followups
        self._regulator_reports = regulator_reports
        self._blacklist = blacklist
        self._on_admin_suspended = on_admin_suspended
        # Subscribers told when a closed room is open again, with the closure's start (the groups
        # code restores its group).
        self.on_room_reopened: list[Callable[[str, int], Awaitable[None]]] = []

    # -- applying -------------------------------------------------------------------------

    async def apply(
        self,
        actor: str,
        request: SanctionRequest,
        *,
        also: Callable[[LoggingTransaction, str], None] | None = None,
    ) -> ApplyOutcome:
        """Take a measure; returns what was stored (the measure and its credit change).

        Args:
            actor: Who takes it.
            request: The measure.
            also: A step committed in the measure's own transaction, given the measure's
                id (a ticket's close): the measure exists only if the step succeeded.

        Raises:
            RequestError: 400 for a measure that does not fit the subject, unknown
                evidence or a bad duration; 404 for an unknown room or user.
            TicketNotOpen: (or whatever `also` raised) nothing was stored.
        """
        policy = self._policy
        now = self._clock.now_ms()
        measure = request.measure
        if request.subject_type == "room":
            if measure not in ROOM_MEASURES:
                raise _bad(f"{measure} is not a room measure (use {', '.join(sorted(ROOM_MEASURES))})")
            ladder = SubjectKind.ROOM
            owner = await self.room_owner(request.subject)
            if owner is None:
                raise NotFound("Unknown room")
            credit_user: str | None = owner
        else:
            if measure not in USER_MEASURES:
                raise _bad(f"{measure} is not a user measure (use {', '.join(sorted(USER_MEASURES))})")
            if not request.subject.startswith("@") or not self._api.is_mine(request.subject):
                raise _bad("Only users of this server can be sanctioned here")
            if await self._api.check_user_exists(request.subject) is None:
                # A mistyped id must not become a measure on nobody.
                raise NotFound(text("unknown_user", self._language, user_id=request.subject))
            ladder = SubjectKind.ADMIN if measure in MEASURES_FOR[SubjectKind.ADMIN] else SubjectKind.MEMBER
            if request.ladder is not None:
                ladder = SubjectKind(request.ladder)
            credit_user = request.subject
        duration = request.duration_s
        if not request.duration_given:
            try:
                duration = default_duration(ladder, measure, policy)
            except ValueError:
                duration = 0 if measure in (Measure.WARNING, Measure.CREDIT_LOWERED) else None
        if measure in INSTANT:
            duration = 0
        end_ts = None if duration is None else now + duration * 1000
        evidence = await self._evidence(request.evidence, now)
        delta = request.credit_delta if request.credit_delta is not None else policy.sanctions.credit_deltas[measure]

        gate = await self._identity_of(request.subject) if request.subject_type == "user" else None
        subject_fingerprint = gate.fingerprint if gate is not None else None
        sanction_id = ("bl_" if measure == Measure.BLACKLIST else "sn_") + secrets.token_hex(8)
        charge = await self._charge(credit_user, delta, f"{measure}: {request.reason}", sanction_id)
        sanction = Sanction(
            id=sanction_id,
            subject_type=request.subject_type,
            subject=request.subject,
            room_id=request.subject if request.subject_type == "room" else None,
            fingerprint=subject_fingerprint,
            measure=str(measure),
            ladder=str(ladder),
            category=request.category,
            reason=request.reason,
            evidence=tuple(evidence),
            ticket_id=request.ticket_id,
            actor=actor,
            start_ts=now,
            end_ts=end_ts,
            credit_delta=charge.delta if charge else 0,
            credit_user=charge.user_id if charge else None,
        )
        report = None
        makes_entry = measure == Measure.BLACKLIST or (measure == Measure.CLOSURE and request.blacklist)
        kind = measure_report_kind(measure, request.category, policy, makes_blacklist_entry=makes_entry)
        if kind is not None:
            report = self._regulator_reports.for_measure(kind, sanction)
        audit = AuditRecord(
            actor,
            "sanction.apply",
            request.subject,
            {
                "id": sanction_id,
                "measure": str(measure),
                "ladder": str(ladder),
                "category": request.category,
                "until": end_ts,
                "evidence": [item.get("content_sha256") for item in evidence],
                "report": request.ticket_id,
                "regulator_report": report.id if report else None,
            },
        )
        outcome = await self._store.apply(policy, sanction, charge, [audit], report, also)
        if measure == Measure.ADMIN_SUSPENSION:
            # Here at once, before the answer; other processes hear of it through the invalidation.
            self._on_admin_suspended(f"the admin rights of {request.subject} are suspended")
        await self._state.invalidate(sanction, charge.fingerprint if charge else None)
        if measure == Measure.BLACKLIST:
            await self._blacklist.add(actor, "user", request.subject, request.reason, end_ts, entry_id=sanction_id)
        elif measure == Measure.CLOSURE and request.blacklist:
            # The closure's entry, ending with it: lifting the closure (an appeal upheld) opens the room again.
            await self._blacklist.add(actor, "room", request.subject, request.reason, end_ts, entry_id=sanction_id)
        self._followups.soon(sanction_id)
        return outcome

    async def _charge(self, user_id: str | None, delta: int, reason: str, sanction_id: str) -> CreditCharge | None:
        """The credit change of a measure: charged to the identity of the user (or room owner)."""
        if user_id is None or delta == 0 or not self._api.is_mine(user_id):
            return None
        gate = await self._identity_of(user_id)
        if gate.status != "verified" or gate.fingerprint is None:
            return None
        return CreditCharge(f"{sanction_id}.credit", gate.fingerprint, user_id, delta, reason)

    async def _evidence(self, event_ids: Sequence[str], now_ms: int) -> list[dict[str, Any]]:
        """Event ids plus a digest of their content, captured now (content may be redacted later)."""
        if len(event_ids) > MAX_EVIDENCE:
            raise _bad(f"At most {MAX_EVIDENCE} evidence events")
        items = []
        for event_id in event_ids:
            found = await self._store.event_evidence(event_id)
            if found is None:
                raise _bad(f"Unknown evidence event {event_id}")
            items.append({**found, "captured_at": now_ms})
        return items

    async def room_owner(self, room_id: str) -> str | None:
        """The room's creator (its owner, who answers for it and whose credit it charges)."""
        if not room_id.startswith("!"):
            return None
        state = await self._api.get_room_state(room_id, [("m.room.create", "")])
        create = state.get(("m.room.create", ""))
        return None if create is None else str(create.sender)

    # -- lifting --------------------------------------------------------------------------

    async def lift(self, actor: str, sanction_id: str, reason: str, *, overturned: bool = False) -> Sanction:
        """Lift a measure early (and, if overturned on appeal, give back its credit).

        Raises:
            RequestError: 404 when there is no such measure or it was lifted already.
        """
        audit = AuditRecord(actor, "sanction.lift", sanction_id, {"id": sanction_id, "overturned": overturned})
        sanction = await self._store.lift(self._policy, sanction_id, actor, reason, overturned, audit)
        if sanction is None:
            raise NotFound("No such active measure (unknown, or lifted already)")
        charged = None
        if sanction.credit_user:
            charged = (await self._identity_of(sanction.credit_user)).fingerprint
        await self._state.invalidate(sanction, charged)
        if sanction.measure in (Measure.BLACKLIST, Measure.CLOSURE):
            # Its blacklist entry, if it made one (a closure with `blacklist: true`).
            await self._blacklist.lift(actor, sanction_id, reason)
        if sanction.measure == Measure.CLOSURE and not (await self._state.room_state(sanction.subject)).closed:
            for hook in self.on_room_reopened:
                await hook(sanction.subject, sanction.start_ts)
        lifted = await self._store.get(sanction_id)
        assert lifted is not None
        language = self._language
        body = notice_text(
            "lifted",
            language,
            id=sanction_id,
            measure=measure_label(sanction.measure, language),
            reason=notice_text("lifted_reason", language, reason=reason),
        )
        run_in_background(self._api, "qunzu_sanction_lift_notice", lambda: self._followups.notify_subject(lifted, body))
        return lifted

    # -- reading --------------------------------------------------------------------------

    async def get(self, sanction_id: str) -> Sanction | None:
        return await self._store.get(sanction_id)

    async def listing(self, subject: str | None, active_only: bool, limit: int) -> list[Sanction]:
        """Measures of a subject (or all), newest first."""
        return await self._store.list_sanctions(subject, active_only, limit)

    # -- the ladder -----------------------------------------------------------------------

    async def propose(
        self, subject_type: SanctionSubject, subject: str, kind: str | None, category: str | None
    ) -> Proposal:
        """The next step of the subject's ladder, from its history in the repeat window."""
        policy = self._policy
        if subject_type == "room":
            ladder = SubjectKind.ROOM
            fingerprint = None
        else:
            ladder = SubjectKind(kind) if kind else SubjectKind.MEMBER
            fingerprint = (await self._identity_of(subject)).fingerprint
        if ladder == SubjectKind.ROOM and subject_type != "room":
            raise _bad("The room ladder applies to rooms")
        window_days = policy.sanctions.repeat_window_days
        since = self._clock.now_ms() - window_days * DAY_MS
        prior = await self._store.count_prior(str(ladder), subject, fingerprint, since)
        severe = category is not None and is_severe(category, policy)
        step = next_measure(ladder, prior, policy, severe=severe)
        return Proposal(
            subject=Subject(type=subject_type, id=subject),
            ladder=str(ladder),
            prior_measures=prior,
            window_days=window_days,
            severe=severe,
            proposal=LadderStep(
                measure=str(step.measure),
                duration=step.duration,
                permanent=step.duration is None,
                credit_delta=step.credit_delta,
                blacklist=step.blacklist,
            ),
        )
