"""SQL of appeals against measures (Art. 11: a person decides): `qunzu_appeals`.

An appeal and its audit record are written in one transaction, and a decision
is the appeal row's guarded UPDATE, so two staff deciding at once decide once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from synapse.module_api import LoggingTransaction, ModuleApi

from policies import api

from ..audit import AuditChain
from ..clock import Clock
from .audit import AuditRecord, append_record_txn


@dataclass(frozen=True)
class Appeal:
    """One appeal against one measure, open until staff uphold or reject it."""

    id: str
    sanction_id: str
    appellant: str
    text: str
    created_ts: int
    status: str
    decided_ts: int | None
    decided_by: str | None
    decision_reason: str | None

    def record(self) -> api.Appeal:
        """The appeal as the API shows it."""
        return api.Appeal(
            id=self.id,
            sanction=self.sanction_id,
            appellant=self.appellant,
            text=self.text,
            created_at=self.created_ts,
            status=self.status,
            decision=None
            if self.decided_ts is None
            else api.AppealDecision(at=self.decided_ts, by=self.decided_by, reason=self.decision_reason),
        )


class AppealStore:
    """Async access to `qunzu_appeals`."""

    def __init__(self, api: ModuleApi, clock: Clock, chain: AuditChain) -> None:
        self._api = api
        self._clock = clock
        self._chain = chain

    async def add(self, appeal: Appeal, audit: AuditRecord) -> Appeal | None:
        """Store an appeal; None when the appellant already has one open for this measure."""
        return await self._api.run_db_interaction("qunzu_add_appeal", _add_txn, self._chain, appeal, audit)

    async def with_status(self, status: str | None, limit: int) -> list[Appeal]:
        return await self._api.run_db_interaction("qunzu_list_appeals", _list_txn, status, limit)

    async def get(self, appeal_id: str) -> Appeal | None:
        return await self._api.run_db_interaction("qunzu_get_appeal", _get_txn, appeal_id)

    async def decide(self, appeal_id: str, status: str, actor: str, reason: str, audit: AuditRecord) -> bool:
        """Record the decision of an open appeal; False when it is unknown or decided already."""
        return await self._api.run_db_interaction(
            "qunzu_decide_appeal",
            _decide_txn,
            self._chain,
            appeal_id,
            status,
            actor,
            reason,
            audit,
            self._clock.now_ms(),
        )


_COLUMNS = "id, sanction_id, appellant, text, created_ts, status, decided_ts, decided_by, decision_reason"


def _appeal(row: Sequence[Any]) -> Appeal:
    decided = None if row[6] is None else int(row[6])
    return Appeal(row[0], row[1], row[2], row[3], int(row[4]), row[5], decided, row[7], row[8])


def _add_txn(txn: LoggingTransaction, chain: AuditChain, appeal: Appeal, audit: AuditRecord) -> Appeal | None:
    txn.execute(
        "SELECT id FROM qunzu_appeals WHERE sanction_id = ? AND appellant = ? AND status = 'open'",
        (appeal.sanction_id, appeal.appellant),
    )
    if txn.fetchone() is not None:
        return None
    txn.execute(
        f"INSERT INTO qunzu_appeals ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, 'open', NULL, NULL, NULL)",
        (appeal.id, appeal.sanction_id, appeal.appellant, appeal.text, appeal.created_ts),
    )
    append_record_txn(txn, chain, appeal.created_ts, audit)
    return appeal


def _list_txn(txn: LoggingTransaction, status: str | None, limit: int) -> list[Appeal]:
    where, args = ("WHERE status = ?", (status,)) if status else ("", ())
    txn.execute(f"SELECT {_COLUMNS} FROM qunzu_appeals {where} ORDER BY created_ts LIMIT ?", (*args, limit))
    return [_appeal(row) for row in txn.fetchall()]


def _get_txn(txn: LoggingTransaction, appeal_id: str) -> Appeal | None:
    txn.execute(f"SELECT {_COLUMNS} FROM qunzu_appeals WHERE id = ?", (appeal_id,))
    row = txn.fetchone()
    return None if row is None else _appeal(row)


def _decide_txn(
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
    append_record_txn(txn, chain, now_ms, audit)
    return True
