"""SQL of credit scores (Art. 7): one row per identity, every change logged with before and after.

The change functions run inside the transaction of the measure that causes
them (store/sanctions.py), so a measure and its credit change are stored
together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from synapse.module_api import LoggingTransaction, ModuleApi

from policies import Policy
from policies.credit import CreditRow, changed

from ..clock import Clock


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

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user_id": self.user_id,
            "ts": self.ts,
            "delta": self.delta,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
            "actor": self.actor,
            "sanction": self.sanction_id,
        }


class CreditStore:
    """Async access to `qunzu_credit` and `qunzu_credit_changes`."""

    def __init__(self, api: ModuleApi, clock: Clock) -> None:
        self._api = api
        self._clock = clock

    async def row(self, fingerprint: str) -> CreditRow | None:
        return await self._api.run_db_interaction("qunzu_credit_row", credit_row_txn, fingerprint)

    async def history(self, fingerprint: str, limit: int) -> list[CreditChange]:
        return await self._api.run_db_interaction("qunzu_credit_history", _credit_history_txn, fingerprint, limit)


def credit_row_txn(txn: LoggingTransaction, fingerprint: str) -> CreditRow | None:
    txn.execute("SELECT score, anchor_ts FROM qunzu_credit WHERE fingerprint = ?", (fingerprint,))
    row = txn.fetchone()
    return None if row is None else CreditRow(int(row[0]), None if row[1] is None else int(row[1]))


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
    txn.execute(
        "INSERT INTO qunzu_credit (fingerprint, score, anchor_ts, last_violation_ts, updated_ts)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO UPDATE SET score = excluded.score,"
        " anchor_ts = excluded.anchor_ts,"
        " last_violation_ts = COALESCE(excluded.last_violation_ts, qunzu_credit.last_violation_ts),"
        " updated_ts = excluded.updated_ts",
        (fingerprint, row.score, row.anchor_ts, now_ms if delta < 0 else None, now_ms),
    )
    txn.execute(
        "INSERT INTO qunzu_credit_changes (id, fingerprint, user_id, ts, delta, before_score, after_score,"
        " reason, actor, sanction_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (change_id, fingerprint, user_id, now_ms, row.score - before, before, row.score, reason, actor, sanction_id),
    )
    return CreditChange(change_id, user_id, now_ms, row.score - before, before, row.score, reason, actor, sanction_id)


def _credit_history_txn(txn: LoggingTransaction, fingerprint: str, limit: int) -> list[CreditChange]:
    txn.execute(
        "SELECT id, user_id, ts, delta, before_score, after_score, reason, actor, sanction_id"
        " FROM qunzu_credit_changes WHERE fingerprint = ? ORDER BY ts DESC, id DESC LIMIT ?",
        (fingerprint, limit),
    )
    return [
        CreditChange(r[0], r[1], int(r[2]), int(r[3]), int(r[4]), int(r[5]), r[6], r[7], r[8]) for r in txn.fetchall()
    ]
