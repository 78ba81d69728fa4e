"""Sanctions, credit and the escalation ladder (Art. 7, 11), applied by the module.

- A measure is one row in `qunzu_sanctions`, stored with its credit change, its
  audit records and (for closures, blacklistings and severe categories) its
  regulator report in one transaction.
- What a measure does is read on every event through two cluster-wide caches
  (`user_state`, `room_state`) that every change invalidates on every process.
  They hold end times, compared with the clock on read: a measure ends by
  itself, no job is needed for that; credit recovery is computed on read too.
- What follows a measure (telling the subject, removing the members of a closed
  room) runs right after the commit and again from a job until it is done, so a
  crash delays it but never loses it.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from synapse.module_api import LoggingTransaction
from synapse.module_api.errors import Codes, SynapseError

from policies import PERMANENT, Measure, SubjectKind, level_of
from policies.measures import MEASURES_FOR
from policies.sanctions import default_duration, is_severe, next_measure
from policies.tiers import level_rules

from .cache import ClusterCache
from .credit import CreditRow, current
from .jobs import Job, Jobs
from .notices import Notifier
from .policy_list import PolicyList
from .sanction_texts import measure_label, notice_text, until_text
from .store.blacklist import BlacklistEntry
from .store.sanctions import (
    Appeal,
    AuditRecord,
    CreditCharge,
    MeasureEnds,
    RegulatorReport,
    Sanction,
    SanctionSubject,
)

if TYPE_CHECKING:
    from .module import QunzuModule

logger = logging.getLogger(__name__)

DAY_MS = 24 * 3600 * 1000
# A follow-up claimed by a process that died is taken over after this long.
FOLLOWUP_LEASE_MS = 5 * 60 * 1000
FOLLOWUP_BATCH = 50
MAX_EVIDENCE = 50
LEGAL_BASIS = "《互联网群组信息服务管理规定》第十一条；《中华人民共和国网络安全法》第四十七条"

ROOM_MEASURES = MEASURES_FOR[SubjectKind.ROOM]
USER_MEASURES = MEASURES_FOR[SubjectKind.ADMIN] | MEASURES_FOR[SubjectKind.MEMBER]
# Measures that last only an instant: their effect is the credit change and the notice.
INSTANT = {Measure.CREDIT_LOWERED}
# Measures whose duration may be 0: instant ones, and a warning without a rectification deadline.
TIMELESS_MEASURES = frozenset({*INSTANT, Measure.WARNING})


@dataclass(frozen=True)
class UserSanctionState:
    """What measures mean for one account right now (credit follows the identity).

    Attributes:
        credit_score: the identity's score with recovery applied; None while unverified.
        muted_until_ms: end of a server-wide mute; None none, PERMANENT no end.
        creation_revoked: the right to create rooms is revoked (取消建群资格).
        admin_suspended: admin rights are suspended (暂停管理权限).
        admin_suspended_until_ms: when that ends (PERMANENT: no end).
        creation_revoked_until_ms: when the revocation ends (PERMANENT: no end).
    """

    credit_score: int | None
    muted_until_ms: int | None
    creation_revoked: bool
    admin_suspended: bool
    admin_suspended_until_ms: int | None = None
    creation_revoked_until_ms: int | None = None


@dataclass(frozen=True)
class RoomSanctionState:
    """What measures mean for one room right now.

    Attributes:
        closed: closed (关闭群组) or on the blacklist: nobody joins, posts or is invited.
        posting_suspended_until_ms: end of a posting suspension (暂停发布); None none, PERMANENT no end.
        warning_until_ms: rectification deadline of an active warning (警示整改), None none.
    """

    closed: bool
    posting_suspended_until_ms: int | None
    warning_until_ms: int | None


@dataclass(frozen=True)
class _UserRecord:
    fingerprint: str | None
    verified: bool
    credit: CreditRow | None
    ends: MeasureEnds


def _active_end(ends: MeasureEnds, measure: str, now_ms: int) -> int | None:
    end = ends.ends.get(measure)
    if end is None or (end != PERMANENT and end <= now_ms):
        return None
    return end


def until_detail(end: int | None) -> dict[str, object]:
    """The `cn.qunzu.detail` of a refusal that lasts until `end` (None or PERMANENT: no end)."""
    permanent = end is None or end == PERMANENT
    return {"until": None if permanent else end, "permanent": permanent}


def _bad(message: str) -> SynapseError:
    return SynapseError(400, message, Codes.INVALID_PARAM)


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
    report_id: str | None = None
    credit_delta: int | None = None
    blacklist: bool = False


class Sanctions:
    """Applies, lifts and reads measures; credit; appeals; regulator reports."""

    def __init__(self, module: QunzuModule) -> None:
        self._module = module
        self._api = module.api
        self._policy = module.config.policy
        self._store = module.store.sanctions
        self._users: ClusterCache[str, _UserRecord] = ClusterCache(
            module.api,
            "qunzu_user_sanctions",
            self._load_user,
            # Another process may have suspended an admin: the guard looks (admin_guard.py).
            on_invalidate=lambda user_id: module.admin_guard.account_changed(user_id),
        )
        self._rooms: ClusterCache[str, MeasureEnds] = ClusterCache(
            module.api, "qunzu_room_sanctions", self._store.room_ends
        )
        self.notifier = Notifier(module)
        self.policy_list = PolicyList(module)
        # Subscribers told when a room is closed (the groups code retires its code here).
        self.on_room_closed: list[Callable[[str], Awaitable[None]]] = []

    def register_jobs(self, jobs: Jobs) -> None:
        jobs.add(Job("sanctions_followup", 60 * 1000, self.run_followups))
        jobs.add(Job("policy_list_sync", 60 * 1000, self.policy_list.sync))

    # -- reading (hot path) ---------------------------------------------------------------

    async def _load_user(self, user_id: str) -> _UserRecord:
        gate = await self._module.realname.gate.get(user_id)
        fingerprint = gate.fingerprint
        verified = gate.status == "verified" and fingerprint is not None
        # One read for both: a cold user (a first join, say) waits for one round trip, not two.
        credit, ends = await self._store.user_credit_and_ends(user_id, fingerprint)
        return _UserRecord(fingerprint, verified, credit if verified else None, ends)

    async def _user_record(self, user_id: str) -> _UserRecord:
        record = await self._users.get(user_id)
        gate = await self._module.realname.gate.get(user_id)
        if record.fingerprint != gate.fingerprint or record.verified != (gate.status == "verified"):
            # Verified (or re-bound) since the record was cached: the identity decides credit.
            self._users.invalidate((user_id,))
            record = await self._users.get(user_id)
        return record

    async def user_state(self, user_id: str) -> UserSanctionState:
        """The account's credit and active measures (cached; computed against the clock)."""
        record = await self._user_record(user_id)
        now = self._module.clock.now_ms()
        admin_end = _active_end(record.ends, Measure.ADMIN_SUSPENSION, now)
        revoked_end = _active_end(record.ends, Measure.CREATION_REVOKED, now)
        return UserSanctionState(
            credit_score=current(record.credit, now, self._policy).score if record.verified else None,
            muted_until_ms=_active_end(record.ends, Measure.MUTE, now),
            creation_revoked=revoked_end is not None,
            admin_suspended=admin_end is not None,
            admin_suspended_until_ms=admin_end,
            creation_revoked_until_ms=revoked_end,
        )

    async def room_state(self, room_id: str) -> RoomSanctionState:
        """The room's active measures (cached; computed against the clock)."""
        ends = await self._rooms.get(room_id)
        now = self._module.clock.now_ms()
        return RoomSanctionState(
            closed=_active_end(ends, Measure.CLOSURE, now) is not None,
            posting_suspended_until_ms=_active_end(ends, Measure.POSTING_SUSPENSION, now),
            warning_until_ms=_active_end(ends, Measure.WARNING, now),
        )

    # -- applying -------------------------------------------------------------------------

    async def apply(
        self,
        actor: str,
        request: SanctionRequest,
        *,
        also: Callable[[LoggingTransaction, str], None] | None = None,
    ) -> dict[str, Any]:
        """Take a measure; returns its record as JSON.

        Args:
            actor: Who takes it.
            request: The measure.
            also: A step committed in the measure's own transaction, given the measure's
                id (a ticket's close): the measure exists only if the step succeeded.

        Raises:
            SynapseError: 400 for a measure that does not fit the subject, unknown
                evidence or a bad duration; 404 for an unknown room.
            TicketNotOpen: (or whatever `also` raised) nothing was stored.
        """
        policy = self._policy
        now = self._module.clock.now_ms()
        measure = request.measure
        if request.subject_type == "room":
            if measure not in ROOM_MEASURES:
                raise _bad(f"{measure} is not a room measure (use {', '.join(sorted(ROOM_MEASURES))})")
            ladder = SubjectKind.ROOM
            owner = await self._room_owner(request.subject)
            if owner is None:
                raise SynapseError(404, "Unknown room", Codes.NOT_FOUND)
            credit_user: str | None = owner
        else:
            if measure not in USER_MEASURES:
                raise _bad(f"{measure} is not a user measure (use {', '.join(sorted(USER_MEASURES))})")
            if not request.subject.startswith("@") or not self._api.is_mine(request.subject):
                raise _bad("Only users of this server can be sanctioned here")
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

        gate = await self._module.realname.gate.get(request.subject) if request.subject_type == "user" else None
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
            report_id=request.report_id,
            actor=actor,
            start_ts=now,
            end_ts=end_ts,
            credit_delta=charge.delta if charge else 0,
            credit_user=charge.user_id if charge else None,
        )
        severe = request.category is not None and is_severe(request.category, policy)
        report = None
        if measure == Measure.CLOSURE or (severe and measure != Measure.BLACKLIST):
            report = self._report("closure" if measure == Measure.CLOSURE else "severe_measure", sanction, None)
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
                "report": request.report_id,
                "regulator_report": report.id if report else None,
            },
        )
        outcome = await self._store.apply(policy, sanction, charge, [audit], report, also)
        if measure == Measure.ADMIN_SUSPENSION:
            # Here at once, before the answer; other processes hear of it through the invalidation.
            self._module.admin_guard.arm(f"the admin rights of {request.subject} are suspended")
        await self._invalidate(sanction, charge.fingerprint if charge else None)
        if measure == Measure.BLACKLIST:
            await self._module.blacklist.add(
                actor, "user", request.subject, request.reason, end_ts, entry_id=sanction_id
            )
        elif measure == Measure.CLOSURE and request.blacklist:
            await self._module.blacklist.add(actor, "room", request.subject, request.reason, None)
        self.follow_up_soon(sanction_id)
        body = outcome.sanction.as_json(now)
        if outcome.credit is not None:
            body["credit"] = {"before": outcome.credit.before, "after": outcome.credit.after}
        return body

    async def _charge(self, user_id: str | None, delta: int, reason: str, sanction_id: str) -> CreditCharge | None:
        """The credit change of a measure: charged to the identity of the user (or room owner)."""
        if user_id is None or delta == 0 or not self._api.is_mine(user_id):
            return None
        gate = await self._module.realname.gate.get(user_id)
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

    async def _room_owner(self, room_id: str) -> str | None:
        """The room's creator (the owner until groups record transfers)."""
        if not room_id.startswith("!"):
            return None
        state = await self._api.get_room_state(room_id, [("m.room.create", "")])
        create = state.get(("m.room.create", ""))
        return None if create is None else str(create.sender)

    def _report(self, kind: str, sanction: Sanction | None, entry: BlacklistEntry | None) -> RegulatorReport:
        now = self._module.clock.now_ms()
        if sanction is not None:
            summary = f"{sanction.measure} of {sanction.subject_type} {sanction.subject}: {sanction.reason}"
            return RegulatorReport(
                "rr_" + secrets.token_hex(8),
                now,
                kind,
                sanction.subject_type,
                sanction.subject,
                sanction.id,
                None,
                sanction.category,
                summary,
                [
                    {"event_id": item["event_id"], "content_sha256": item["content_sha256"]}
                    for item in sanction.evidence
                ],
                LEGAL_BASIS,
                sanction.actor,
            )
        assert entry is not None
        return RegulatorReport(
            "rr_" + secrets.token_hex(8),
            now,
            kind,
            entry.subject_type,
            entry.subject,
            None,
            entry.id,
            None,
            f"blacklisting of {entry.subject_type} {entry.subject}: {entry.reason}",
            [],
            LEGAL_BASIS,
            entry.actor,
        )

    async def _invalidate(self, sanction: Sanction | None, credit_fingerprint: str | None = None) -> None:
        users: set[str] = set()
        if sanction is not None and sanction.subject_type == "room":
            await self._rooms.invalidate_everywhere(sanction.subject)
        elif sanction is not None:
            users.add(sanction.subject)
            if sanction.fingerprint:
                users.update(await self._module.store.identities.accounts_of(sanction.fingerprint))
            if sanction.room_id is not None:
                # A room admin's mute ('room_member'): the posting gate caches it per room and user.
                await self._module.room_moderation.invalidate_mute(
                    sanction.room_id, sanction.subject, sanction.fingerprint
                )
        if sanction is not None and sanction.credit_user:
            users.add(sanction.credit_user)
        if credit_fingerprint:
            users.update(await self._module.store.identities.accounts_of(credit_fingerprint))
        for user in users:
            await self._users.invalidate_everywhere(user)

    async def invalidate_user(self, user_id: str) -> None:
        """Drop a user's cached state everywhere (after a blacklist change, say)."""
        await self._users.invalidate_everywhere(user_id)

    async def invalidate_room(self, room_id: str) -> None:
        await self._rooms.invalidate_everywhere(room_id)

    # -- lifting --------------------------------------------------------------------------

    async def lift(self, actor: str, sanction_id: str, reason: str, *, overturned: bool = False) -> dict[str, Any]:
        """Lift a measure early (and, if overturned on appeal, give back its credit).

        Raises:
            SynapseError: 404 when there is no such measure or it was lifted already.
        """
        audit = AuditRecord(actor, "sanction.lift", sanction_id, {"id": sanction_id, "overturned": overturned})
        sanction = await self._store.lift(self._policy, sanction_id, actor, reason, overturned, audit)
        if sanction is None:
            raise SynapseError(404, "No such active measure (unknown, or lifted already)", Codes.NOT_FOUND)
        charged = None
        if sanction.credit_user:
            gate = await self._module.realname.gate.get(sanction.credit_user)
            charged = gate.fingerprint
        await self._invalidate(sanction, charged)
        if sanction.measure == Measure.BLACKLIST:
            await self._module.blacklist.lift(actor, sanction_id, reason)
        lifted = await self._store.get(sanction_id)
        assert lifted is not None
        language = self._module.config.language
        body = notice_text(
            "lifted",
            language,
            id=sanction_id,
            measure=measure_label(sanction.measure, language),
            reason=notice_text("lifted_reason", language, reason=reason),
        )
        self._background(lambda: self._notify_subject(lifted, body), "qunzu_sanction_lift_notice")
        return lifted.as_json(self._module.clock.now_ms())

    # -- the ladder -----------------------------------------------------------------------

    async def propose(
        self, subject_type: SanctionSubject, subject: str, kind: str | None, category: str | None
    ) -> dict[str, Any]:
        """The next step of the subject's ladder, from its history in the repeat window."""
        policy = self._policy
        if subject_type == "room":
            ladder = SubjectKind.ROOM
            fingerprint = None
        else:
            ladder = SubjectKind(kind) if kind else SubjectKind.MEMBER
            fingerprint = (await self._module.realname.gate.get(subject)).fingerprint
        if ladder == SubjectKind.ROOM and subject_type != "room":
            raise _bad("The room ladder applies to rooms")
        window_days = policy.sanctions.repeat_window_days
        since = self._module.clock.now_ms() - window_days * DAY_MS
        prior = await self._store.count_prior(str(ladder), subject, fingerprint, since)
        severe = category is not None and is_severe(category, policy)
        step = next_measure(ladder, prior, policy, severe=severe)
        return {
            "subject": {"type": subject_type, "id": subject},
            "ladder": str(ladder),
            "prior_measures": prior,
            "window_days": window_days,
            "severe": severe,
            "proposal": {
                "measure": str(step.measure),
                "duration": step.duration,
                "permanent": step.duration is None,
                "credit_delta": step.credit_delta,
                "blacklist": step.blacklist,
            },
        }

    # -- credit ---------------------------------------------------------------------------

    async def credit_view(self, user_id: str) -> dict[str, Any]:
        state = await self.user_state(user_id)
        record = await self._user_record(user_id)
        history = (
            [change.as_json() for change in await self._module.store.credit.history(record.fingerprint, 50)]
            if record.verified and record.fingerprint
            else []
        )
        return {"user_id": user_id, **self._credit_json(state.credit_score), "history": history}

    def _credit_json(self, score: int | None) -> dict[str, Any]:
        if score is None:
            return {"score": None, "level": None}
        level = level_of(score, self._policy)
        rules = level_rules(level, self._policy)
        return {
            "score": score,
            "level": level,
            "may_create": rules.may_create,
            "may_invite": rules.may_invite,
            "may_post": rules.may_post,
            "rooms_owned_cap": rules.rooms_owned,
            "rooms_joined_cap": rules.rooms_joined,
        }

    async def adjust_credit(self, actor: str, user_id: str, delta: int, reason: str) -> dict[str, Any]:
        """A staff adjustment with a reason (DESIGN.md §3.4 credit adjust).

        Raises:
            SynapseError: 409 when the user has no verified identity (credit belongs to identities).
        """
        gate = await self._module.realname.gate.get(user_id)
        if gate.status != "verified" or gate.fingerprint is None:
            raise SynapseError(409, "This user has no verified identity, so no credit score", Codes.UNKNOWN)
        charge = CreditCharge("cr_" + secrets.token_hex(8), gate.fingerprint, user_id, delta, reason)
        audit = AuditRecord(actor, "credit.adjust", user_id, {"id": charge.change_id, "requested_delta": delta})
        change = await self._store.adjust_credit(self._policy, charge, actor, audit)
        await self._invalidate(None, gate.fingerprint)
        level = level_of(change.after, self._policy)
        language = self._module.config.language
        text = notice_text(
            "credit_adjusted", language, before=change.before, after=change.after, level=level, reason=reason
        )
        self._background(lambda: self.notifier.to_user(user_id, text), "qunzu_credit_notice")
        return {**change.as_json(), "level": level}

    # -- appeals --------------------------------------------------------------------------

    async def appeal(self, user_id: str, sanction_id: str, text: str) -> dict[str, Any]:
        """The subject (or the owner of a sanctioned room) appeals; a person decides.

        Raises:
            SynapseError: 404 unknown measure or not the caller's; 409 an appeal is open already.
        """
        sanction = await self._store.get(sanction_id)
        if sanction is None or not await self._may_appeal(user_id, sanction):
            raise SynapseError(404, "No such measure against you", Codes.NOT_FOUND)
        now = self._module.clock.now_ms()
        appeal = Appeal("ap_" + secrets.token_hex(8), sanction_id, user_id, text, now, "open", None, None, None)
        audit = AuditRecord(user_id, "sanction.appeal", sanction_id, {"id": appeal.id})
        stored = await self._store.add_appeal(appeal, audit)
        if stored is None:
            raise SynapseError(409, "You already have an open appeal against this measure", Codes.UNKNOWN)
        language = self._module.config.language
        return {
            **stored.as_json(),
            "message": notice_text("appeal_received", language, id=sanction_id, appeal=stored.id),
        }

    async def _may_appeal(self, user_id: str, sanction: Sanction) -> bool:
        if user_id in (sanction.subject, sanction.credit_user):
            return True
        if sanction.subject_type == "user" and sanction.fingerprint:
            return (await self._module.realname.gate.get(user_id)).fingerprint == sanction.fingerprint
        return False

    async def appeals(self, status: str | None, limit: int) -> list[dict[str, Any]]:
        return [appeal.as_json() for appeal in await self._store.appeals(status, limit)]

    async def decide_appeal(self, actor: str, appeal_id: str, upheld: bool, reason: str) -> dict[str, Any]:
        """Staff decide: upheld overturns the measure (credit given back); rejected keeps it.

        Raises:
            SynapseError: 404 unknown or already decided appeal.
        """
        appeal = await self._store.get_appeal(appeal_id)
        status = "upheld" if upheld else "rejected"
        audit = AuditRecord(
            actor,
            "sanction.appeal_decide",
            appeal.sanction_id if appeal else appeal_id,
            {
                "id": appeal_id,
                "outcome": status,
            },
        )
        if appeal is None or not await self._store.decide_appeal(appeal_id, status, actor, reason, audit):
            raise SynapseError(404, "No such open appeal", Codes.NOT_FOUND)
        if upheld:
            try:
                await self.lift(actor, appeal.sanction_id, reason, overturned=True)
            except SynapseError as exc:
                if exc.code != 404:
                    raise
        language = self._module.config.language
        key = "appeal_upheld" if upheld else "appeal_rejected"
        text = notice_text(key, language, id=appeal.sanction_id, reason=reason)
        self._background(lambda: self.notifier.to_user(appeal.appellant, text), "qunzu_appeal_notice")
        decided = await self._store.get_appeal(appeal_id)
        assert decided is not None
        return decided.as_json()

    # -- regulator reports and the blacklist ------------------------------------------------

    async def regulator_reports(self, since_ms: int | None, until_ms: int | None, limit: int) -> list[dict[str, Any]]:
        return [report.as_json() for report in await self._store.reports(since_ms, until_ms, limit)]

    async def on_blacklisted(self, entry: BlacklistEntry) -> None:
        """Consequences of a new blacklist entry: regulator report, policy list, room review."""
        report = self._report("blacklist", None, entry)
        await self._store.add_report(
            report,
            AuditRecord(entry.actor, "regulator_report.add", entry.subject, {"id": report.id, "kind": "blacklist"}),
        )
        if entry.subject_type == "room":
            await self._rooms.invalidate_everywhere(entry.subject)
            self._background(lambda: self._review_blacklisted_room(entry), "qunzu_blacklisted_room_review")
        self.policy_list_sync_soon()

    async def on_blacklist_lifted(self, entry: BlacklistEntry) -> None:
        if entry.subject_type == "room":
            await self._rooms.invalidate_everywhere(entry.subject)
        self.policy_list_sync_soon()

    def policy_list_sync_soon(self) -> None:
        self._api.run_as_background_process("qunzu_policy_list_sync", self._sync_policy_list)

    async def _sync_policy_list(self) -> None:
        try:
            await self.policy_list.sync()
        except Exception:
            logger.warning("qunzu: publishing the blacklist to the policy list failed; the job retries")

    async def _review_blacklisted_room(self, entry: BlacklistEntry) -> None:
        """Art. 11: a blacklisted room is closed, and its owner and admins reviewed by the policy."""
        room_id = entry.subject
        await self._remove_members(room_id)
        owner = await self._room_owner(room_id)
        admins = await self._room_admins(room_id)
        reason = f"blacklisted room {room_id}: {entry.reason}"
        targets = [(owner, self._policy.sanctions.blacklisted_room_owner)] if owner else []
        targets += [(admin, self._policy.sanctions.blacklisted_room_admins) for admin in admins if admin != owner]
        for user_id, steps in targets:
            if not self._api.is_mine(user_id) or await self._module.facts.is_exempt(user_id):
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
                await self.apply(entry.actor, request)

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
            if isinstance(level, int)
            and isinstance(threshold, int)
            and level >= threshold
            and user != self._module.config.service_account
        )

    # -- follow-up: notices and member removal ----------------------------------------------

    def follow_up_soon(self, sanction_id: str) -> None:
        self._background(lambda: self._follow_up(sanction_id), "qunzu_sanction_followup")

    def _background(self, work: Callable[[], Awaitable[Any]], desc: str) -> None:
        # The coroutine is made inside the background process, in its own log context.
        async def run() -> None:
            try:
                await work()
            except Exception:
                logger.exception("qunzu: %s failed", desc)

        self._api.run_as_background_process(desc, run)

    async def run_followups(self) -> dict[str, Any]:
        """The job: finish what measures still owe (after a crash, or the service account was missing)."""
        done = 0
        for sanction_id in await self._store.pending_followups(FOLLOWUP_LEASE_MS, FOLLOWUP_BATCH):
            if await self._follow_up(sanction_id):
                done += 1
        return {"done": done}

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
        language = self._module.config.language
        values = {
            "reason": sanction.reason,
            "measure": measure_label(sanction.measure, language),
            "until": until_text(sanction.measure, sanction.end_ts, sanction.start_ts, language),
            "id": sanction.id,
        }
        credit = ""
        if sanction.credit_user and sanction.credit_delta:
            state = await self.user_state(sanction.credit_user)
            if state.credit_score is not None:
                credit = notice_text(
                    "credit",
                    language,
                    before=state.credit_score - sanction.credit_delta,
                    after=state.credit_score,
                    level=level_of(state.credit_score, self._policy),
                )
        if sanction.subject_type == "user":
            return await self.notifier.to_user(sanction.subject, notice_text("user", language, credit=credit, **values))
        delivered = await self.notifier.to_room(sanction.subject, notice_text("room", language, **values))
        if sanction.credit_user:
            owner_text = notice_text("room_owner", language, room=sanction.subject, credit=credit, **values)
            delivered = await self.notifier.to_user(sanction.credit_user, owner_text) or delivered
        if sanction.measure == Measure.CLOSURE:
            await self._remove_members(sanction.subject)
            for hook in self.on_room_closed:
                await hook(sanction.subject)
            delivered = True
        return delivered

    async def _notify_subject(self, sanction: Sanction, body: str) -> None:
        if sanction.subject_type == "user":
            await self.notifier.to_user(sanction.subject, body)
            return
        await self.notifier.to_room(sanction.subject, body)
        if sanction.credit_user:
            await self.notifier.to_user(sanction.credit_user, body)

    async def _remove_members(self, room_id: str) -> int:
        """关闭群组: everyone but the service account leaves the room.

        The service account removes each member when it has the power to (it is in every
        governed room with that power once groups land); otherwise each local member's
        membership is ended in their own name, which needs no power.
        """
        service = self._module.config.service_account
        state = await self._api.get_room_state(room_id, [("m.room.member", None)])
        reason = {"reason": measure_label(Measure.CLOSURE, self._module.config.language)}
        removed = 0
        for (_type, member), event in state.items():
            if member == service or event.membership not in ("join", "invite", "knock"):
                continue
            try:
                await self._api.update_room_membership(service, member, room_id, "leave", dict(reason))
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

    # -- views ----------------------------------------------------------------------------

    async def list_sanctions(self, subject: str | None, active_only: bool, limit: int) -> list[dict[str, Any]]:
        now = self._module.clock.now_ms()
        return [sanction.as_json(now) for sanction in await self._store.list_sanctions(subject, active_only, limit)]

    async def get(self, sanction_id: str) -> dict[str, Any] | None:
        sanction = await self._store.get(sanction_id)
        return None if sanction is None else sanction.as_json(self._module.clock.now_ms())

    async def status_of(self, user_id: str) -> dict[str, Any]:
        """Credit and active measures for `GET /me`."""
        state = await self.user_state(user_id)
        record = await self._user_record(user_id)
        now = self._module.clock.now_ms()
        active = await self._store.of_user(user_id, record.fingerprint, True, 50)
        return {
            "credit": self._credit_json(state.credit_score),
            "sanctions": [sanction.as_json(now) for sanction in active],
        }


def measure_of(value: object) -> Measure:
    """A measure name from a request, or a 400."""
    try:
        return Measure(cast(str, value))
    except ValueError:
        raise _bad(f"Unknown measure; use one of {', '.join(m.value for m in Measure)}") from None
