"""SQL of sanctions (Art. 11): measures, appeals, regulator reports, notice rooms, the policy list.

A measure, the credit change it causes, its audit records and its regulator
report are written in one transaction: after a crash either all of them exist
or none does. Each `_<verb>_txn` may be retried by Synapse on PostgreSQL, so it
only touches the database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from synapse.module_api import LoggingTransaction, ModuleApi

from policies import Policy

from ..audit import AuditChain, canonical_json
from ..clock import Clock
from ..credit import CreditRow
from .audit import _append_audit_txn  # same transaction as the measure: no measure without its record
from .credit import CreditChange, change_credit_txn, credit_row_txn
from .sql import Where
from .synapse_tables import event_sender_txn

SanctionSubject = Literal["user", "room"]
PERMANENT = -1

# The measures whose state a user or a room carries while they last.
USER_STATE_MEASURES = ("mute", "admin_suspension", "creation_revoked")
ROOM_STATE_MEASURES = ("closure", "posting_suspension", "warning")


@dataclass(frozen=True)
class AuditRecord:
    """An audit row to append in the same transaction (no personal data in `details`)."""

    actor: str
    action: str
    subject: str
    details: Mapping[str, Any]


@dataclass(frozen=True)
class CreditCharge:
    """A credit change that goes with a measure or stands alone (staff adjustment)."""

    change_id: str
    fingerprint: str
    user_id: str
    delta: int
    reason: str


@dataclass(frozen=True)
class RegulatorReport:
    """向有关主管部门报告: what happened, to whom, when, on what evidence and legal basis."""

    id: str
    ts: int
    kind: str
    subject_type: str
    subject: str
    sanction_id: str | None
    blacklist_id: str | None
    category: str | None
    summary: str
    evidence: Sequence[Mapping[str, Any]]
    legal_basis: str
    actor: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": self.ts,
            "kind": self.kind,
            "subject": {"type": self.subject_type, "id": self.subject},
            "sanction": self.sanction_id,
            "blacklist_entry": self.blacklist_id,
            "category": self.category,
            "summary": self.summary,
            "evidence": [dict(item) for item in self.evidence],
            "legal_basis": self.legal_basis,
            "actor": self.actor,
        }


@dataclass(frozen=True)
class Sanction:
    """One measure against a user or a room."""

    id: str
    subject_type: SanctionSubject
    subject: str
    room_id: str | None
    fingerprint: str | None
    measure: str
    ladder: str
    category: str | None
    reason: str
    evidence: tuple[Mapping[str, Any], ...]
    report_id: str | None
    actor: str
    start_ts: int
    end_ts: int | None
    credit_delta: int
    credit_user: str | None
    lifted_ts: int | None = None
    lifted_by: str | None = None
    lift_reason: str | None = None
    overturned: bool = False
    notified_ts: int | None = None

    @property
    def permanent(self) -> bool:
        return self.end_ts is None

    def active(self, now_ms: int) -> bool:
        return self.lifted_ts is None and (self.end_ts is None or self.end_ts > now_ms)

    def as_json(self, now_ms: int) -> dict[str, Any]:
        return {
            "id": self.id,
            "subject": {"type": self.subject_type, "id": self.subject},
            "room_id": self.room_id,
            "measure": self.measure,
            "ladder": self.ladder,
            "category": self.category,
            "reason": self.reason,
            "evidence": [dict(item) for item in self.evidence],
            "report": self.report_id,
            "actor": self.actor,
            "start": self.start_ts,
            "end": self.end_ts,
            "permanent": self.permanent,
            "active": self.active(now_ms),
            "credit_delta": self.credit_delta,
            "credit_user": self.credit_user,
            "lifted": None
            if self.lifted_ts is None
            else {
                "at": self.lifted_ts,
                "by": self.lifted_by,
                "reason": self.lift_reason,
                "overturned": self.overturned,
            },
            "notified": self.notified_ts is not None,
        }


@dataclass(frozen=True)
class Appeal:
    id: str
    sanction_id: str
    appellant: str
    text: str
    created_ts: int
    status: str
    decided_ts: int | None
    decided_by: str | None
    decision_reason: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sanction": self.sanction_id,
            "appellant": self.appellant,
            "text": self.text,
            "created_at": self.created_ts,
            "status": self.status,
            "decision": None
            if self.decided_ts is None
            else {"at": self.decided_ts, "by": self.decided_by, "reason": self.decision_reason},
        }


@dataclass(frozen=True)
class MeasureEnds:
    """Active measures of a user or room at load time: the latest end per measure (PERMANENT: none)."""

    ends: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ApplyOutcome:
    sanction: Sanction
    credit: CreditChange | None


class SanctionStore:
    """Async access to the sanction tables."""

    def __init__(self, api: ModuleApi, clock: Clock, chain: AuditChain) -> None:
        self._api = api
        self._clock = clock
        self._chain = chain

    async def apply(
        self,
        policy: Policy,
        sanction: Sanction,
        charge: CreditCharge | None,
        audits: Sequence[AuditRecord],
        report: RegulatorReport | None,
        also: Callable[[LoggingTransaction, str], None] | None = None,
    ) -> ApplyOutcome:
        """Store a measure with its credit change, audit records and regulator report, in one transaction.

        Args:
            also: Run in the same transaction with the measure's id (closing its ticket, say);
                an exception there rolls everything back and is raised here.
        """
        return await self._api.run_db_interaction(
            "qunzu_apply_sanction", _apply_sanction_txn, self._chain, policy, sanction, charge, audits, report, also
        )

    async def adjust_credit(self, policy: Policy, charge: CreditCharge, actor: str, audit: AuditRecord) -> CreditChange:
        return await self._api.run_db_interaction(
            "qunzu_adjust_credit", _adjust_credit_txn, self._chain, policy, charge, actor, audit, self._clock.now_ms()
        )

    async def lift(
        self, policy: Policy, sanction_id: str, actor: str, reason: str, overturned: bool, audit: AuditRecord
    ) -> Sanction | None:
        return await self._api.run_db_interaction(
            "qunzu_lift_sanction",
            _lift_sanction_txn,
            self._chain,
            policy,
            sanction_id,
            actor,
            reason,
            overturned,
            audit,
            self._clock.now_ms(),
        )

    async def get(self, sanction_id: str) -> Sanction | None:
        return await self._api.run_db_interaction("qunzu_get_sanction", _get_sanction_txn, sanction_id)

    async def list_sanctions(self, subject: str | None, active_only: bool, limit: int) -> list[Sanction]:
        return await self._api.run_db_interaction(
            "qunzu_list_sanctions", _list_sanctions_txn, subject, active_only, self._clock.now_ms(), limit
        )

    async def of_user(self, user_id: str, fingerprint: str | None, active_only: bool, limit: int) -> list[Sanction]:
        return await self._api.run_db_interaction(
            "qunzu_user_sanctions", _user_sanctions_txn, user_id, fingerprint, active_only, self._clock.now_ms(), limit
        )

    async def user_credit_and_ends(self, user_id: str, fingerprint: str | None) -> tuple[CreditRow | None, MeasureEnds]:
        """The identity's credit row (None unverified) and the account's active measures, in one read."""
        return await self._api.run_db_interaction(
            "qunzu_user_credit_and_ends", _user_credit_and_ends_txn, user_id, fingerprint, self._clock.now_ms()
        )

    async def room_ends(self, room_id: str) -> MeasureEnds:
        return await self._api.run_db_interaction(
            "qunzu_room_measure_ends", _room_ends_txn, room_id, self._clock.now_ms()
        )

    async def any_active(self, measure: str) -> bool:
        """Whether any account is under `measure` right now (anywhere on the server)."""
        return await self._api.run_db_interaction(
            "qunzu_any_active_measure", _any_active_txn, measure, self._clock.now_ms()
        )

    async def count_prior(self, ladder: str, subject: str, fingerprint: str | None, since_ms: int) -> int:
        return await self._api.run_db_interaction(
            "qunzu_count_prior_sanctions", _count_prior_txn, ladder, subject, fingerprint, since_ms
        )

    async def event_evidence(self, event_id: str) -> dict[str, Any] | None:
        return await self._api.run_db_interaction("qunzu_event_evidence", event_evidence_txn, event_id)

    # -- follow-up (notices, member removal), claimed so that one process does it ----------

    async def pending_followups(self, lease_ms: int, limit: int) -> list[str]:
        return await self._api.run_db_interaction(
            "qunzu_pending_followups", _pending_followups_txn, self._clock.now_ms() - lease_ms, limit
        )

    async def claim_followup(self, sanction_id: str, lease_ms: int) -> bool:
        now = self._clock.now_ms()
        return await self._api.run_db_interaction(
            "qunzu_claim_followup", _claim_followup_txn, sanction_id, now, now - lease_ms
        )

    async def finish_followup(self, sanction_id: str) -> None:
        await self._api.run_db_interaction(
            "qunzu_finish_followup", _finish_followup_txn, sanction_id, self._clock.now_ms()
        )

    async def release_followup(self, sanction_id: str) -> None:
        await self._api.run_db_interaction("qunzu_release_followup", _release_followup_txn, sanction_id)

    # -- appeals ---------------------------------------------------------------------------

    async def add_appeal(self, appeal: Appeal, audit: AuditRecord) -> Appeal | None:
        """Store an appeal; None when the appellant already has one open for this measure."""
        return await self._api.run_db_interaction("qunzu_add_appeal", _add_appeal_txn, self._chain, appeal, audit)

    async def appeals(self, status: str | None, limit: int) -> list[Appeal]:
        return await self._api.run_db_interaction("qunzu_list_appeals", _list_appeals_txn, status, limit)

    async def get_appeal(self, appeal_id: str) -> Appeal | None:
        return await self._api.run_db_interaction("qunzu_get_appeal", _get_appeal_txn, appeal_id)

    async def decide_appeal(self, appeal_id: str, status: str, actor: str, reason: str, audit: AuditRecord) -> bool:
        return await self._api.run_db_interaction(
            "qunzu_decide_appeal",
            _decide_appeal_txn,
            self._chain,
            appeal_id,
            status,
            actor,
            reason,
            audit,
            self._clock.now_ms(),
        )

    # -- regulator reports -----------------------------------------------------------------

    async def add_report(self, report: RegulatorReport, audit: AuditRecord) -> None:
        await self._api.run_db_interaction("qunzu_add_regulator_report", _add_report_txn, self._chain, report, audit)

    async def reports(self, since_ms: int | None, until_ms: int | None, limit: int) -> list[RegulatorReport]:
        return await self._api.run_db_interaction(
            "qunzu_list_regulator_reports", _list_reports_txn, since_ms, until_ms, limit
        )

    # -- notice rooms, policy list ---------------------------------------------------------

    async def notice_room(self, user_id: str) -> str | None:
        return await self._api.run_db_interaction("qunzu_notice_room", _notice_room_txn, user_id)

    async def event_sender(self, event_id: str) -> tuple[str, str] | None:
        """(room, sender) of an event, from Synapse's events table; None if this server does not have it."""
        return await self._api.run_db_interaction("qunzu_event_sender", event_sender_txn, event_id)

    async def notice_room_owner(self, room_id: str) -> str | None:
        """The person a notice chat was opened for."""
        return await self._api.run_db_interaction("qunzu_notice_room_owner", _notice_room_owner_txn, room_id)

    async def set_notice_room(self, user_id: str, room_id: str) -> None:
        await self._api.run_db_interaction(
            "qunzu_set_notice_room", _set_notice_room_txn, user_id, room_id, self._clock.now_ms()
        )

    async def setting(self, name: str) -> str | None:
        return await self._api.run_db_interaction("qunzu_sanction_setting", _setting_txn, name)

    async def set_setting(self, name: str, value: str) -> str:
        """Store a setting unless one exists; returns the stored value (first writer wins)."""
        return await self._api.run_db_interaction("qunzu_set_sanction_setting", _set_setting_txn, name, value)

    async def rules_to_sync(self, limit: int) -> list[tuple[str, str, str, bool]]:
        """Blacklist entries whose policy rule is missing or stale: (entry id, rule type, entity, active)."""
        return await self._api.run_db_interaction(
            "qunzu_policy_rules_to_sync", _rules_to_sync_txn, self._clock.now_ms(), limit
        )

    async def mark_rule(self, entry_id: str, rule_type: str, entity: str, state_key: str, active: bool) -> None:
        await self._api.run_db_interaction(
            "qunzu_mark_policy_rule",
            _mark_rule_txn,
            entry_id,
            rule_type,
            entity,
            state_key,
            active,
            self._clock.now_ms(),
        )


# --- rows ----------------------------------------------------------------------------------

_COLUMNS = (
    "id, subject_type, subject, room_id, fingerprint, measure, ladder, category, reason, evidence, report_id,"
    " actor, start_ts, end_ts, credit_delta, credit_user, lifted_ts, lifted_by, lift_reason, overturned, notified_ts"
)


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _sanction(row: Sequence[Any]) -> Sanction:
    return Sanction(
        id=row[0],
        subject_type=row[1],
        subject=row[2],
        room_id=row[3],
        fingerprint=row[4],
        measure=row[5],
        ladder=row[6],
        category=row[7],
        reason=row[8],
        evidence=tuple(json.loads(row[9])),
        report_id=row[10],
        actor=row[11],
        start_ts=int(row[12]),
        end_ts=_int_or_none(row[13]),
        credit_delta=int(row[14]),
        credit_user=row[15],
        lifted_ts=_int_or_none(row[16]),
        lifted_by=row[17],
        lift_reason=row[18],
        overturned=bool(row[19]),
        notified_ts=_int_or_none(row[20]),
    )


def _audit_txn(txn: LoggingTransaction, chain: AuditChain, now_ms: int, record: AuditRecord) -> None:
    _append_audit_txn(
        txn, chain, now_ms, record.actor, record.action, record.subject, canonical_json(dict(record.details))
    )


def _apply_sanction_txn(
    txn: LoggingTransaction,
    chain: AuditChain,
    policy: Policy,
    sanction: Sanction,
    charge: CreditCharge | None,
    audits: Sequence[AuditRecord],
    report: RegulatorReport | None,
    also: Callable[[LoggingTransaction, str], None] | None = None,
) -> ApplyOutcome:
    now = sanction.start_ts
    txn.execute(
        f"INSERT INTO qunzu_sanctions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
        " NULL, NULL, NULL, 0, NULL)",
        (
            sanction.id,
            sanction.subject_type,
            sanction.subject,
            sanction.room_id,
            sanction.fingerprint,
            sanction.measure,
            sanction.ladder,
            sanction.category,
            sanction.reason,
            canonical_json([dict(item) for item in sanction.evidence]),
            sanction.report_id,
            sanction.actor,
            sanction.start_ts,
            sanction.end_ts,
            sanction.credit_delta,
            sanction.credit_user,
        ),
    )
    credit = None if charge is None else _charge_txn(txn, policy, charge, sanction.actor, sanction.id, now)
    for record in audits:
        _audit_txn(txn, chain, now, record)
    if credit is not None:
        _audit_txn(txn, chain, now, _credit_audit(sanction.actor, credit))
    if report is not None:
        _insert_report_txn(txn, report)
    if also is not None:
        also(txn, sanction.id)
    return ApplyOutcome(sanction, credit)


def _charge_txn(
    txn: LoggingTransaction,
    policy: Policy,
    charge: CreditCharge,
    actor: str,
    sanction_id: str | None,
    now_ms: int,
) -> CreditChange:
    """Apply a credit charge (a measure's, or staff's adjustment without a measure)."""
    return change_credit_txn(
        txn,
        policy,
        charge.change_id,
        charge.fingerprint,
        charge.user_id,
        charge.delta,
        charge.reason,
        actor,
        sanction_id,
        now_ms,
    )


def _credit_audit(actor: str, credit: CreditChange) -> AuditRecord:
    return AuditRecord(
        actor,
        "credit.change",
        credit.user_id,
        {
            "id": credit.id,
            "before": credit.before,
            "after": credit.after,
            "delta": credit.delta,
            "sanction": credit.sanction_id,
        },
    )


def _adjust_credit_txn(
    txn: LoggingTransaction,
    chain: AuditChain,
    policy: Policy,
    charge: CreditCharge,
    actor: str,
    audit: AuditRecord,
    now_ms: int,
) -> CreditChange:
    credit = _charge_txn(txn, policy, charge, actor, None, now_ms)
    _audit_txn(txn, chain, now_ms, audit)
    _audit_txn(txn, chain, now_ms, _credit_audit(actor, credit))
    return credit


def _lift_sanction_txn(
    txn: LoggingTransaction,
    chain: AuditChain,
    policy: Policy,
    sanction_id: str,
    actor: str,
    reason: str,
    overturned: bool,
    audit: AuditRecord,
    now_ms: int,
) -> Sanction | None:
    txn.execute(
        "UPDATE qunzu_sanctions SET lifted_ts = ?, lifted_by = ?, lift_reason = ?, overturned = ?"
        " WHERE id = ? AND lifted_ts IS NULL",
        (now_ms, actor, reason, 1 if overturned else 0, sanction_id),
    )
    if txn.rowcount != 1:
        return None
    sanction = _get_sanction_txn(txn, sanction_id)
    assert sanction is not None
    _audit_txn(txn, chain, now_ms, audit)
    if overturned:
        # A measure overturned on appeal gives back the credit it took.
        txn.execute(
            "SELECT fingerprint, user_id, delta FROM qunzu_credit_changes WHERE sanction_id = ?", (sanction_id,)
        )
        for fingerprint, user_id, delta in txn.fetchall():
            if int(delta) < 0:
                credit = change_credit_txn(
                    txn,
                    policy,
                    f"{sanction_id}.restore",
                    fingerprint,
                    user_id,
                    -int(delta),
                    f"overturned: {reason}",
                    actor,
                    sanction_id,
                    now_ms,
                )
                _audit_txn(txn, chain, now_ms, _credit_audit(actor, credit))
    return sanction


def _get_sanction_txn(txn: LoggingTransaction, sanction_id: str) -> Sanction | None:
    txn.execute(f"SELECT {_COLUMNS} FROM qunzu_sanctions WHERE id = ?", (sanction_id,))
    row = txn.fetchone()
    return None if row is None else _sanction(row)


_ACTIVE = "lifted_ts IS NULL AND (end_ts IS NULL OR end_ts > ?)"


def _list_sanctions_txn(
    txn: LoggingTransaction, subject: str | None, active_only: bool, now_ms: int, limit: int
) -> list[Sanction]:
    where = (
        Where()
        .add("(subject = ? OR credit_user = ?)", subject, subject, when=subject is not None)
        .add(_ACTIVE, now_ms, when=active_only)
    )
    txn.execute(
        f"SELECT {_COLUMNS} FROM qunzu_sanctions {where} ORDER BY start_ts DESC, id LIMIT ?", (*where.args, limit)
    )
    return [_sanction(row) for row in txn.fetchall()]


def _user_sanctions_txn(
    txn: LoggingTransaction, user_id: str, fingerprint: str | None, active_only: bool, now_ms: int, limit: int
) -> list[Sanction]:
    where = "subject_type = 'user' AND (subject = ? OR fingerprint = ?)"
    args: list[Any] = [user_id, fingerprint]
    if active_only:
        where += f" AND {_ACTIVE}"
        args.append(now_ms)
    txn.execute(f"SELECT {_COLUMNS} FROM qunzu_sanctions WHERE {where} ORDER BY start_ts DESC LIMIT ?", (*args, limit))
    return [_sanction(row) for row in txn.fetchall()]


def _ends(rows: Sequence[Sequence[Any]]) -> MeasureEnds:
    ends: dict[str, int] = {}
    for measure, end in rows:
        value = PERMANENT if end is None else int(end)
        known = ends.get(measure)
        if known is None or (known != PERMANENT and (value == PERMANENT or value > known)):
            ends[measure] = value
    return MeasureEnds(ends)


def _user_ends_txn(txn: LoggingTransaction, user_id: str, fingerprint: str | None, now_ms: int) -> MeasureEnds:
    # A user measure follows the person: it covers every account of the identity.
    placeholders = ", ".join("?" for _ in USER_STATE_MEASURES)
    txn.execute(
        "SELECT measure, end_ts FROM qunzu_sanctions WHERE subject_type = 'user' AND (subject = ? OR fingerprint = ?)"
        f" AND measure IN ({placeholders}) AND {_ACTIVE}",
        (user_id, fingerprint, *USER_STATE_MEASURES, now_ms),
    )
    return _ends(txn.fetchall())


def _user_credit_and_ends_txn(
    txn: LoggingTransaction, user_id: str, fingerprint: str | None, now_ms: int
) -> tuple[CreditRow | None, MeasureEnds]:
    credit = credit_row_txn(txn, fingerprint) if fingerprint else None
    return credit, _user_ends_txn(txn, user_id, fingerprint, now_ms)


def _any_active_txn(txn: LoggingTransaction, measure: str, now_ms: int) -> bool:
    txn.execute(
        f"SELECT 1 FROM qunzu_sanctions WHERE subject_type = 'user' AND measure = ? AND {_ACTIVE} LIMIT 1",
        (measure, now_ms),
    )
    return txn.fetchone() is not None


def _room_ends_txn(txn: LoggingTransaction, room_id: str, now_ms: int) -> MeasureEnds:
    placeholders = ", ".join("?" for _ in ROOM_STATE_MEASURES)
    txn.execute(
        "SELECT measure, end_ts FROM qunzu_sanctions WHERE subject_type = 'room' AND subject = ?"
        f" AND measure IN ({placeholders}) AND {_ACTIVE}",
        (room_id, *ROOM_STATE_MEASURES, now_ms),
    )
    rows = list(txn.fetchall())
    # Art. 11: a room on the blacklist is closed for as long as the entry lasts.
    txn.execute(
        "SELECT until_ts FROM qunzu_blacklist WHERE subject_type = 'room' AND subject = ?"
        " AND lifted_ts IS NULL AND (until_ts IS NULL OR until_ts > ?)",
        (room_id, now_ms),
    )
    rows += [("closure", row[0]) for row in txn.fetchall()]
    return _ends(rows)


def _count_prior_txn(txn: LoggingTransaction, ladder: str, subject: str, fingerprint: str | None, since_ms: int) -> int:
    # Measures overturned on appeal never happened as far as the ladder is concerned.
    txn.execute(
        "SELECT COUNT(*) FROM qunzu_sanctions WHERE ladder = ? AND (subject = ? OR fingerprint = ?)"
        " AND start_ts >= ? AND overturned = 0",
        (ladder, subject, fingerprint, since_ms),
    )
    row = txn.fetchone()
    return int(row[0]) if row else 0


def event_evidence_txn(txn: LoggingTransaction, event_id: str) -> dict[str, Any] | None:
    """The event's room, sender and a SHA-256 of its content as stored now.

    Reads Synapse's own `event_json` table (not a stable API; tests/e2e/test_sanctions.py
    checks the digest against what the client sent, so a schema change is caught).
    """
    txn.execute("SELECT room_id, json FROM event_json WHERE event_id = ?", (event_id,))
    row = txn.fetchone()
    if row is None:
        return None
    event = json.loads(row[1])
    content = event.get("content", {})
    digest = hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()
    return {"event_id": event_id, "room_id": row[0], "sender": event.get("sender"), "content_sha256": digest}


def _pending_followups_txn(txn: LoggingTransaction, claim_before: int, limit: int) -> list[str]:
    txn.execute(
        "SELECT id FROM qunzu_sanctions WHERE notified_ts IS NULL"
        " AND (notice_claim_ts IS NULL OR notice_claim_ts < ?) ORDER BY start_ts LIMIT ?",
        (claim_before, limit),
    )
    return [str(row[0]) for row in txn.fetchall()]


def _claim_followup_txn(txn: LoggingTransaction, sanction_id: str, now_ms: int, claim_before: int) -> bool:
    txn.execute(
        "UPDATE qunzu_sanctions SET notice_claim_ts = ? WHERE id = ? AND notified_ts IS NULL"
        " AND (notice_claim_ts IS NULL OR notice_claim_ts < ?)",
        (now_ms, sanction_id, claim_before),
    )
    return bool(txn.rowcount == 1)


def _finish_followup_txn(txn: LoggingTransaction, sanction_id: str, now_ms: int) -> None:
    txn.execute("UPDATE qunzu_sanctions SET notified_ts = ? WHERE id = ?", (now_ms, sanction_id))


def _release_followup_txn(txn: LoggingTransaction, sanction_id: str) -> None:
    txn.execute("UPDATE qunzu_sanctions SET notice_claim_ts = NULL WHERE id = ?", (sanction_id,))


# --- appeals -------------------------------------------------------------------------------

_APPEAL_COLUMNS = "id, sanction_id, appellant, text, created_ts, status, decided_ts, decided_by, decision_reason"


def _appeal(row: Sequence[Any]) -> Appeal:
    return Appeal(row[0], row[1], row[2], row[3], int(row[4]), row[5], _int_or_none(row[6]), row[7], row[8])


def _add_appeal_txn(txn: LoggingTransaction, chain: AuditChain, appeal: Appeal, audit: AuditRecord) -> Appeal | None:
    txn.execute(
        "SELECT id FROM qunzu_appeals WHERE sanction_id = ? AND appellant = ? AND status = 'open'",
        (appeal.sanction_id, appeal.appellant),
    )
    if txn.fetchone() is not None:
        return None
    txn.execute(
        f"INSERT INTO qunzu_appeals ({_APPEAL_COLUMNS}) VALUES (?, ?, ?, ?, ?, 'open', NULL, NULL, NULL)",
        (appeal.id, appeal.sanction_id, appeal.appellant, appeal.text, appeal.created_ts),
    )
    _audit_txn(txn, chain, appeal.created_ts, audit)
    return appeal


def _list_appeals_txn(txn: LoggingTransaction, status: str | None, limit: int) -> list[Appeal]:
    where, args = ("WHERE status = ?", (status,)) if status else ("", ())
    txn.execute(f"SELECT {_APPEAL_COLUMNS} FROM qunzu_appeals {where} ORDER BY created_ts LIMIT ?", (*args, limit))
    return [_appeal(row) for row in txn.fetchall()]


def _get_appeal_txn(txn: LoggingTransaction, appeal_id: str) -> Appeal | None:
    txn.execute(f"SELECT {_APPEAL_COLUMNS} FROM qunzu_appeals WHERE id = ?", (appeal_id,))
    row = txn.fetchone()
    return None if row is None else _appeal(row)


def _decide_appeal_txn(
    txn: LoggingTransaction,
    chain: AuditChain,
    appeal_id: str,
    status: str,
    actor: str,
    reason: str,
    audit: AuditRecord,
    now_ms: int,
) -> bool:
    txn.execute(
        "UPDATE qunzu_appeals SET status = ?, decided_ts = ?, decided_by = ?, decision_reason = ?"
        " WHERE id = ? AND status = 'open'",
        (status, now_ms, actor, reason, appeal_id),
    )
    if txn.rowcount != 1:
        return False
    _audit_txn(txn, chain, now_ms, audit)
    return True


# --- regulator reports -----------------------------------------------------------------------

_REPORT_COLUMNS = (
    "id, ts, kind, subject_type, subject, sanction_id, blacklist_id, category, summary, evidence, legal_basis, actor"
)


def _insert_report_txn(txn: LoggingTransaction, report: RegulatorReport) -> None:
    txn.execute(
        f"INSERT INTO qunzu_regulator_reports ({_REPORT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            report.id,
            report.ts,
            report.kind,
            report.subject_type,
            report.subject,
            report.sanction_id,
            report.blacklist_id,
            report.category,
            report.summary,
            canonical_json([dict(item) for item in report.evidence]),
            report.legal_basis,
            report.actor,
        ),
    )


def _add_report_txn(txn: LoggingTransaction, chain: AuditChain, report: RegulatorReport, audit: AuditRecord) -> None:
    _insert_report_txn(txn, report)
    _audit_txn(txn, chain, report.ts, audit)


def _list_reports_txn(
    txn: LoggingTransaction, since_ms: int | None, until_ms: int | None, limit: int
) -> list[RegulatorReport]:
    where = (
        Where().add("ts >= ?", since_ms, when=since_ms is not None).add("ts < ?", until_ms, when=until_ms is not None)
    )
    txn.execute(
        f"SELECT {_REPORT_COLUMNS} FROM qunzu_regulator_reports {where} ORDER BY ts DESC, id LIMIT ?",
        (*where.args, limit),
    )
    return [
        RegulatorReport(
            r[0], int(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], r[8], tuple(json.loads(r[9])), r[10], r[11]
        )
        for r in txn.fetchall()
    ]


# --- notice rooms, settings, policy list ---------------------------------------------------------


def _notice_room_txn(txn: LoggingTransaction, user_id: str) -> str | None:
    txn.execute("SELECT room_id FROM qunzu_notice_rooms WHERE user_id = ?", (user_id,))
    row = txn.fetchone()
    return None if row is None else str(row[0])


def _notice_room_owner_txn(txn: LoggingTransaction, room_id: str) -> str | None:
    txn.execute("SELECT user_id FROM qunzu_notice_rooms WHERE room_id = ?", (room_id,))
    row = txn.fetchone()
    return None if row is None else str(row[0])


def _set_notice_room_txn(txn: LoggingTransaction, user_id: str, room_id: str, now_ms: int) -> None:
    txn.execute(
        "INSERT INTO qunzu_notice_rooms (user_id, room_id, created_ts) VALUES (?, ?, ?)"
        " ON CONFLICT (user_id) DO UPDATE SET room_id = excluded.room_id, created_ts = excluded.created_ts",
        (user_id, room_id, now_ms),
    )


def _setting_txn(txn: LoggingTransaction, name: str) -> str | None:
    txn.execute("SELECT value FROM qunzu_sanction_settings WHERE name = ?", (name,))
    row = txn.fetchone()
    return None if row is None else str(row[0])


def _set_setting_txn(txn: LoggingTransaction, name: str, value: str) -> str:
    txn.execute(
        "INSERT INTO qunzu_sanction_settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", (name, value)
    )
    stored = _setting_txn(txn, name)
    assert stored is not None
    return stored


def _rules_to_sync_txn(txn: LoggingTransaction, now_ms: int, limit: int) -> list[tuple[str, str, str, bool]]:
    # Identity entries are never published: they would link a person's accounts in public.
    txn.execute(
        "SELECT b.id, b.subject_type, b.subject,"
        " CASE WHEN b.lifted_ts IS NULL AND (b.until_ts IS NULL OR b.until_ts > ?) THEN 1 ELSE 0 END,"
        " r.published_ts, r.withdrawn_ts"
        " FROM qunzu_blacklist b LEFT JOIN qunzu_policy_rules r ON r.entry_id = b.id"
        " WHERE b.subject_type IN ('user', 'room')"
        " AND ((r.entry_id IS NULL AND b.lifted_ts IS NULL AND (b.until_ts IS NULL OR b.until_ts > ?))"
        "  OR (r.published_ts IS NOT NULL AND r.withdrawn_ts IS NULL"
        "      AND (b.lifted_ts IS NOT NULL OR (b.until_ts IS NOT NULL AND b.until_ts <= ?))))"
        " ORDER BY b.created_ts LIMIT ?",
        (now_ms, now_ms, now_ms, limit),
    )
    return [
        (str(r[0]), "m.policy.rule.user" if r[1] == "user" else "m.policy.rule.room", str(r[2]), bool(r[3]))
        for r in txn.fetchall()
    ]


def _mark_rule_txn(
    txn: LoggingTransaction, entry_id: str, rule_type: str, entity: str, state_key: str, active: bool, now_ms: int
) -> None:
    if active:
        txn.execute(
            "INSERT INTO qunzu_policy_rules (entry_id, rule_type, entity, state_key, published_ts, withdrawn_ts)"
            " VALUES (?, ?, ?, ?, ?, NULL) ON CONFLICT (entry_id) DO UPDATE SET published_ts = excluded.published_ts",
            (entry_id, rule_type, entity, state_key, now_ms),
        )
    else:
        txn.execute(
            "INSERT INTO qunzu_policy_rules (entry_id, rule_type, entity, state_key, published_ts, withdrawn_ts)"
            " VALUES (?, ?, ?, ?, NULL, ?) ON CONFLICT (entry_id) DO UPDATE SET withdrawn_ts = excluded.withdrawn_ts",
            (entry_id, rule_type, entity, state_key, now_ms),
        )
