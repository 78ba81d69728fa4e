"""SQL of credit scores (Art. 7): one row per identity, every change logged with before and after.

The change functions run inside the transaction of the measure that causes
them (store/measures.py), so a measure, its credit change and their audit
records are stored together or not at all. A staff adjustment without a
measure is one transaction of its own here.
"""

from __future__ import annotations

from dataclasses import dataclass

from synapse.module_api import LoggingTransaction, ModuleApi

from policies import Policy, api
from policies.credit import CreditRow, changed

from ..audit import AuditChain
from ..clock import Clock
from .audit import AuditRecord, append_record_txn


@dataclass(frozen=True)
class CreditChange:
    """One stored change of a score."""

    id: str
    user_id: str
    ts: int
    delta: int
    before: int
    after: int
    reason: str
    actor: str
    sanction_id: str | None

    def record(self) -> api.CreditChange:
        """The change as the API shows it."""
        return api.CreditChange(
            id=self.id,
            user_id=self.user_id,
            ts=self.ts,
            delta=self.delta,
            before=self.before,
            after=self.after,
            reason=self.reason,
            actor=self.actor,
            sanction=self.sanction_id,
        )


@dataclass(frozen=True)
class CreditCharge:
    """A credit change that goes with a measure or stands alone (staff adjustment)."""

    change_id: str
    fingerprint: str
    user_id: str
    delta: int
    reason: str


class CreditStore:
    """Async access to `qunzu_credit` and `qunzu_credit_changes`."""

    def __init__(self, api: ModuleApi, clock: Clock, chain: AuditChain) -> None:
        self._api = api
        self._clock = clock
        self._chain = chain

    async def adjust(self, policy: Policy, charge: CreditCharge, actor: str, audit: AuditRecord) -> CreditChange:
        """A staff adjustment: the change, `audit` and the change's own audit row in one transaction."""
        return await self._api.run_db_interaction(
            "qunzu_adjust_credit", _adjust_credit_txn, self._chain, policy, charge, actor, audit, self._clock.now_ms()
        )

    async def row(self, fingerprint: str) -> CreditRow | None:
        return await self._api.run_db_interaction("qunzu_credit_row", credit_row_txn, fingerprint)

    async def history(self, fingerprint: str, limit: int) -> list[CreditChange]:
        return await self._api.run_db_interaction("qunzu_credit_history", _credit_history_txn, fingerprint, limit)


def credit_row_txn(txn: LoggingTransaction, fingerprint: str) -> CreditRow | None:
    txn.execute("SELECT score, anchor_ts FROM qunzu_credit WHERE fingerprint = ?", (fingerprint,))
    row = txn.fetchone()
    if row is not None:
        return CreditRow(int(row[0]), None if row[1] is None else int(row[1]))
    # Never sanctioned: the initial score, recovering since the identity was first verified.
    txn.execute(
        "SELECT MIN(decided_ts) FROM qunzu_identities WHERE fingerprint = ? AND status = 'verified'",
        (fingerprint,),
    )
    verified = txn.fetchone()
    return None if verified is None or verified[0] is None else CreditRow(None, int(verified[0]))


def change_credit_txn(
    txn: LoggingTransaction,
    policy: Policy,
    change_id: str,
    fingerprint: str,
    user_id: str,
    delta: int,
    reason: str,
    actor: str,
    sanction_id: str | None,
    now_ms: int,
) -> CreditChange:
    """Apply `delta` to the identity's score now (recovery so far included) and log it."""
    before, row = changed(credit_row_txn(txn, fingerprint), delta, now_ms, policy)
    after = row.score
    assert after is not None  # changed() always gives the new score
    txn.execute(
        "INSERT INTO qunzu_credit (fingerprint, score, anchor_ts, last_violation_ts, updated_ts)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO UPDATE SET score = excluded.score,"
        " anchor_ts = excluded.anchor_ts,"
        " last_violation_ts = COALESCE(excluded.last_violation_ts, qunzu_credit.last_violation_ts),"
        " updated_ts = excluded.updated_ts",
        (fingerprint, after, row.anchor_ts, now_ms if delta < 0 else None, now_ms),
    )
    txn.execute(
        "INSERT INTO qunzu_credit_changes (id, fingerprint, user_id, ts, delta, before_score, after_score,"
        " reason, actor, sanction_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (change_id, fingerprint, user_id, now_ms, after - before, before, after, reason, actor, sanction_id),
    )
    return CreditChange(change_id, user_id, now_ms, after - before, before, after, reason, actor, sanction_id)


def charge_txn(
    txn: LoggingTransaction,
    policy: Policy,
    charge: CreditCharge,
    actor: str,
    sanction_id: str | None,
    now_ms: int,
) -> CreditChange:
    """Apply a credit charge (a measure's, or staff's adjustment) in the caller's transaction."""
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


def restore_credit_txn(
    txn: LoggingTransaction, chain: AuditChain, policy: Policy, sanction_id: str, actor: str, reason: str, now_ms: int
) -> None:
    """Give back what a measure overturned on appeal took, with the audit row of each change."""
    txn.execute("SELECT fingerprint, user_id, delta FROM qunzu_credit_changes WHERE sanction_id = ?", (sanction_id,))
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
            append_record_txn(txn, chain, now_ms, credit_audit(actor, credit))


def credit_audit(actor: str, credit: CreditChange) -> AuditRecord:
    """The audit row of one stored change (no personal data: the account and the numbers)."""
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
    credit = charge_txn(txn, policy, charge, actor, None, now_ms)
    append_record_txn(txn, chain, now_ms, audit)
    append_record_txn(txn, chain, now_ms, credit_audit(actor, credit))
    return credit


def _credit_history_txn(txn: LoggingTransaction, fingerprint: str, limit: int) -> list[CreditChange]:
    txn.execute(
        "SELECT id, user_id, ts, delta, before_score, after_score, reason, actor, sanction_id"
        " FROM qunzu_credit_changes WHERE fingerprint = ? ORDER BY ts DESC, id DESC LIMIT ?",
        (fingerprint, limit),
    )
    return [
        CreditChange(r[0], r[1], int(r[2]), int(r[3]), int(r[4]), int(r[5]), r[6], r[7], r[8]) for r in txn.fetchall()
    ]
