"""SQL of measures (Art. 9, 11): `qunzu_sanctions`, staff's measures and room admins' mutes alike.

- A measure, the credit change it causes, its audit records and its regulator
  report are written in one transaction (`_apply_txn`, which calls the credit
  and regulator-report stores' `_txn` functions): after a crash either all of
  them exist or none does.
- A room admin's mute is a row with `subject_type = 'room_member'` (subject =
  the user, room_id = the room), written with its audit record; it needs no
  follow-up (the bot answers in the room), so it is stored as notified.
- Every row is written with one column list, and "in force" is one predicate,
  `_ACTIVE`: not lifted and not ended.

Each `_<verb>_txn` may be retried by Synapse on PostgreSQL, so it only touches
the database.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from synapse.module_api import LoggingTransaction, ModuleApi

from policies import PERMANENT, Policy, api
from policies.credit import CreditRow

from ..audit import AuditChain, canonical_json
from ..clock import Clock
from .audit import AuditRecord, append_record_txn
from .credit import CreditChange, CreditCharge, charge_txn, credit_audit, credit_row_txn, restore_credit_txn
from .identities import GateRecord, gate_record_txn
from .regulator_reports import RegulatorReport, insert_regulator_report_txn
from .sql import Where
from .synapse_tables import event_evidence_txn, event_sender_txn

# A room admin's mute of one member in one room (Art. 9).
ROOM_MEMBER = "room_member"

# The measures whose state a user or a room carries while they last.
USER_STATE_MEASURES = ("mute", "admin_suspension", "creation_revoked")
ROOM_STATE_MEASURES = ("closure", "posting_suspension", "warning")


@dataclass(frozen=True)
class Sanction:
    """One measure against a user, a room, or (a room admin's mute) a member in one room."""

    id: str
    subject_type: str
    subject: str
    room_id: str | None
    fingerprint: str | None
    measure: str
    ladder: str
    category: str | None
    reason: str
    evidence: tuple[Mapping[str, Any], ...]
    ticket_id: str | None  # the complaint ticket the measure resolved (column `report_id`)
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

    def record(self, now_ms: int) -> api.Sanction:
        """The measure as the API shows it."""
        return api.Sanction(
            id=self.id,
            subject=api.Subject(type=self.subject_type, id=self.subject),
            room_id=self.room_id,
            measure=self.measure,
            ladder=self.ladder,
            category=self.category,
            reason=self.reason,
            evidence=[dict(item) for item in self.evidence],
            report=self.ticket_id,
            actor=self.actor,
            start=self.start_ts,
            end=self.end_ts,
            permanent=self.permanent,
            active=self.active(now_ms),
            credit_delta=self.credit_delta,
            credit_user=self.credit_user,
            lifted=None
            if self.lifted_ts is None
            else api.Lifted(at=self.lifted_ts, by=self.lifted_by, reason=self.lift_reason, overturned=self.overturned),
            notified=self.notified_ts is not None,
        )


@dataclass(frozen=True)
class MeasureEnds:
    """Active measures of a user or room at load time: the latest end per measure (PERMANENT: none)."""

    ends: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ApplyOutcome:
    """A measure as stored, with the credit change it caused."""

    sanction: Sanction
    credit: CreditChange | None

    def record(self, now_ms: int) -> api.Sanction:
        """The measure as the API shows it, with `credit` when it changed a score."""
        shown = self.sanction.record(now_ms)
        if self.credit is None:
            return shown
        return shown.model_copy(update={"credit": api.CreditDelta(before=self.credit.before, after=self.credit.after)})


class MeasureStore:
    """Async access to `qunzu_sanctions`."""

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
            "qunzu_apply_sanction", _apply_txn, self._chain, policy, sanction, charge, audits, report, also
        )

    async def lift(
        self, policy: Policy, sanction_id: str, actor: str, reason: str, overturned: bool, audit: AuditRecord
    ) -> Sanction | None:
        """Lift an active measure (overturned: give back its credit); None when unknown or lifted already."""
        return await self._api.run_db_interaction(
            "qunzu_lift_sanction",
            _lift_txn,
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
        return await self._api.run_db_interaction("qunzu_get_sanction", _get_txn, sanction_id)

    async def list_sanctions(self, subject: str | None, active_only: bool, limit: int) -> list[Sanction]:
        return await self._api.run_db_interaction(
            "qunzu_list_sanctions", _list_txn, subject, active_only, self._clock.now_ms(), limit
        )

    async def of_user(self, user_id: str, fingerprint: str | None, active_only: bool, limit: int) -> list[Sanction]:
        return await self._api.run_db_interaction(
            "qunzu_user_sanctions", _of_user_txn, user_id, fingerprint, active_only, self._clock.now_ms(), limit
        )

    async def user_credit_and_ends(self, user_id: str, fingerprint: str | None) -> tuple[CreditRow | None, MeasureEnds]:
        """The identity's credit row (None unverified) and the account's active measures, in one read."""
        return await self._api.run_db_interaction(
            "qunzu_user_credit_and_ends", _user_credit_and_ends_txn, user_id, fingerprint, self._clock.now_ms()
        )

    async def user_gate_credit_and_ends(self, user_id: str) -> tuple[GateRecord, CreditRow | None, MeasureEnds]:
        """The account's gate record, its identity's credit row and its active measures, in one read.

        For an account nothing is cached of yet (a first join, say): one round trip instead of
        the gate record's and then, for the identity it names, `user_credit_and_ends`.
        """
        return await self._api.run_db_interaction(
            "qunzu_user_gate_credit_and_ends", _user_gate_credit_and_ends_txn, user_id, self._clock.now_ms()
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
        """The event's room, sender and content digest, for a measure's (or a ticket's) evidence."""
        return await self._api.run_db_interaction("qunzu_event_evidence", event_evidence_txn, event_id)

    async def event_sender(self, event_id: str) -> tuple[str, str] | None:
        """(room, sender) of an event, from Synapse's events table; None if this server does not have it."""
        return await self._api.run_db_interaction("qunzu_event_sender", event_sender_txn, event_id)

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

    # -- room admins' mutes (Art. 9) ------------------------------------------------------

    async def add_room_mute(
        self,
        room_id: str,
        user_id: str,
        fingerprint: str | None,
        actor: str,
        reason: str,
        end_ts: int | None,
        audit: AuditRecord,
    ) -> str:
        """A room admin's mute of one member (and the identity behind the account) in one room; returns its id."""
        mute = room_mute(
            "rm_" + secrets.token_hex(8), room_id, user_id, fingerprint, actor, reason, self._clock.now_ms(), end_ts
        )
        await self._api.run_db_interaction("qunzu_add_room_mute", _add_room_mute_txn, self._chain, mute, audit)
        return mute.id

    async def lift_room_mutes(
        self, room_id: str, user_id: str, fingerprint: str | None, actor: str, reason: str, audit: AuditRecord
    ) -> int:
        """Lift every active mute in the room of the user and of the identity behind it; returns how many."""
        return await self._api.run_db_interaction(
            "qunzu_lift_room_mutes",
            _lift_room_mutes_txn,
            self._chain,
            room_id,
            user_id,
            fingerprint,
            actor,
            reason,
            audit,
            self._clock.now_ms(),
        )

    async def room_mute_end(self, room_id: str, user_id: str, fingerprint: str | None) -> int | None:
        """End of the active mute in the room of the user or its identity (-1: no end), or None when not muted."""
        return await self._api.run_db_interaction(
            "qunzu_room_mute_end", _room_mute_end_txn, room_id, user_id, fingerprint, self._clock.now_ms()
        )


def room_admin_measure(
    sanction_id: str,
    subject_type: str,
    subject: str,
    room_id: str,
    measure: str,
    fingerprint: str | None,
    actor: str,
    reason: str,
    now_ms: int,
    end_ts: int | None,
) -> Sanction:
    """The row of a room admin's measure (a mute, a mute-all): no credit, no evidence, nothing to follow up."""
    return Sanction(
        id=sanction_id,
        subject_type=subject_type,
        subject=subject,
        room_id=room_id,
        fingerprint=fingerprint,
        measure=measure,
        ladder="room_admin",
        category=None,
        reason=reason,
        evidence=(),
        ticket_id=None,
        actor=actor,
        start_ts=now_ms,
        end_ts=end_ts,
        credit_delta=0,
        credit_user=None,
        notified_ts=now_ms,
    )


def room_mute(
    mute_id: str,
    room_id: str,
    user_id: str,
    fingerprint: str | None,
    actor: str,
    reason: str,
    now_ms: int,
    end_ts: int | None,
) -> Sanction:
    """The row of a room admin's mute of one member."""
    return room_admin_measure(
        mute_id, ROOM_MEMBER, user_id, room_id, "mute", fingerprint, actor, reason, now_ms, end_ts
    )


# --- rows ----------------------------------------------------------------------------------

_COLUMNS = (
    "id, subject_type, subject, room_id, fingerprint, measure, ladder, category, reason, evidence, report_id,"
    " actor, start_ts, end_ts, credit_delta, credit_user, lifted_ts, lifted_by, lift_reason, overturned, notified_ts"
)
_PLACEHOLDERS = ", ".join("?" for _ in _COLUMNS.split(","))
# In force: not lifted, and not ended by the clock.
_ACTIVE = "lifted_ts IS NULL AND (end_ts IS NULL OR end_ts > ?)"


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
        ticket_id=row[10],
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


def _insert_txn(txn: LoggingTransaction, sanction: Sanction) -> None:
    txn.execute(
        f"INSERT INTO qunzu_sanctions ({_COLUMNS}) VALUES ({_PLACEHOLDERS})",
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
            sanction.ticket_id,
            sanction.actor,
            sanction.start_ts,
            sanction.end_ts,
            sanction.credit_delta,
            sanction.credit_user,
            sanction.lifted_ts,
            sanction.lifted_by,
            sanction.lift_reason,
            1 if sanction.overturned else 0,
            sanction.notified_ts,
        ),
    )


def _apply_txn(
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
    _insert_txn(txn, sanction)
    credit = None if charge is None else charge_txn(txn, policy, charge, sanction.actor, sanction.id, now)
    for record in audits:
        append_record_txn(txn, chain, now, record)
    if credit is not None:
        append_record_txn(txn, chain, now, credit_audit(sanction.actor, credit))
    if report is not None:
        insert_regulator_report_txn(txn, report)
    if also is not None:
        also(txn, sanction.id)
    return ApplyOutcome(sanction, credit)


def _lift_txn(
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
    sanction = _get_txn(txn, sanction_id)
    assert sanction is not None
    append_record_txn(txn, chain, now_ms, audit)
    if overturned:
        # A measure overturned on appeal gives back the credit it took.
        restore_credit_txn(txn, chain, policy, sanction_id, actor, reason, now_ms)
    return sanction


def _get_txn(txn: LoggingTransaction, sanction_id: str) -> Sanction | None:
    txn.execute(f"SELECT {_COLUMNS} FROM qunzu_sanctions WHERE id = ?", (sanction_id,))
    row = txn.fetchone()
    return None if row is None else _sanction(row)


def _list_txn(
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


def _of_user_txn(
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


def _user_gate_credit_and_ends_txn(
    txn: LoggingTransaction, user_id: str, now_ms: int
) -> tuple[GateRecord, CreditRow | None, MeasureEnds]:
    gate = gate_record_txn(txn, user_id, now_ms)
    credit, ends = _user_credit_and_ends_txn(txn, user_id, gate.fingerprint, now_ms)
    return gate, credit, ends


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


# --- room admins' mutes ----------------------------------------------------------------------


def _add_room_mute_txn(txn: LoggingTransaction, chain: AuditChain, mute: Sanction, audit: AuditRecord) -> None:
    _insert_txn(txn, mute)
    record = AuditRecord(audit.actor, audit.action, audit.subject, {**audit.details, "id": mute.id})
    append_record_txn(txn, chain, mute.start_ts, record)


def _lift_room_mutes_txn(
    txn: LoggingTransaction,
    chain: AuditChain,
    room_id: str,
    user_id: str,
    fingerprint: str | None,
    actor: str,
    reason: str,
    audit: AuditRecord,
    now_ms: int,
) -> int:
    txn.execute(
        "UPDATE qunzu_sanctions SET lifted_ts = ?, lifted_by = ?, lift_reason = ?"
        f" WHERE subject_type = ? AND room_id = ? AND (subject = ? OR fingerprint = ?) AND {_ACTIVE}",
        (now_ms, actor, reason, ROOM_MEMBER, room_id, user_id, fingerprint, now_ms),
    )
    lifted = txn.rowcount
    if lifted:
        record = AuditRecord(audit.actor, audit.action, audit.subject, {**audit.details, "lifted": lifted})
        append_record_txn(txn, chain, now_ms, record)
    return lifted


def _room_mute_end_txn(
    txn: LoggingTransaction, room_id: str, user_id: str, fingerprint: str | None, now_ms: int
) -> int | None:
    # A mute follows the person: the account's own rows and those of its identity.
    txn.execute(
        "SELECT end_ts FROM qunzu_sanctions WHERE subject_type = ? AND room_id = ?"
        f" AND (subject = ? OR fingerprint = ?) AND {_ACTIVE}",
        (ROOM_MEMBER, room_id, user_id, fingerprint, now_ms),
    )
    ends = [PERMANENT if row[0] is None else int(row[0]) for row in txn.fetchall()]
    if not ends:
        return None
    return PERMANENT if PERMANENT in ends else max(ends)
