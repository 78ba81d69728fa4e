"""SQL of emergency freezes (Art. 5 应急处置)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from synapse.module_api import LoggingTransaction, ModuleApi

from policies import api

from ..clock import Clock
from .synapse_tables import notice_rooms_txn

_COLUMNS: Final = "id, scope, reason, actor, created_ts, lifted_ts, lifted_by, lift_reason"


@dataclass(frozen=True)
class Freeze:
    """One emergency freeze; active while `lifted_ts` is None."""

    id: str
    scope: str
    reason: str
    actor: str
    created_ts: int
    lifted_ts: int | None = None
    lifted_by: str | None = None
    lift_reason: str | None = None

    def record(self) -> api.Freeze:
        return api.Freeze(
            id=self.id,
            scope=self.scope,
            reason=self.reason,
            actor=self.actor,
            created_ts=self.created_ts,
            lifted_ts=self.lifted_ts,
            lifted_by=self.lifted_by,
            lift_reason=self.lift_reason,
            active=self.lifted_ts is None,
        )


class EmergencyStore:
    """Async access to `qunzu_emergency`."""

    def __init__(self, api: ModuleApi, clock: Clock) -> None:
        self._api = api
        self._clock = clock

    async def add(self, freeze: Freeze) -> None:
        await self._api.run_db_interaction("qunzu_emergency_add", _add_txn, freeze)

    async def active(self) -> list[Freeze]:
        return await self._api.run_db_interaction("qunzu_emergency_active", _list_txn, True, 1000)

    async def recent(self, limit: int) -> list[Freeze]:
        return await self._api.run_db_interaction("qunzu_emergency_recent", _list_txn, False, limit)

    async def lift(self, freeze_id: str, actor: str, reason: str) -> Freeze | None:
        """Lift an active freeze; None when there is no such active freeze."""
        return await self._api.run_db_interaction(
            "qunzu_emergency_lift", _lift_txn, freeze_id, actor, reason, self._clock.now_ms()
        )


def _add_txn(txn: LoggingTransaction, freeze: Freeze) -> None:
    txn.execute(
        f"INSERT INTO qunzu_emergency ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL)"
        " ON CONFLICT (id) DO NOTHING",
        (freeze.id, freeze.scope, freeze.reason, freeze.actor, freeze.created_ts),
    )


def _list_txn(txn: LoggingTransaction, active_only: bool, limit: int) -> list[Freeze]:
    where = "WHERE lifted_ts IS NULL" if active_only else ""
    txn.execute(f"SELECT {_COLUMNS} FROM qunzu_emergency {where} ORDER BY created_ts DESC, id LIMIT ?", (limit,))
    return [Freeze(*row) for row in txn.fetchall()]


def _lift_txn(txn: LoggingTransaction, freeze_id: str, actor: str, reason: str, now_ms: int) -> Freeze | None:
    txn.execute(
        "UPDATE qunzu_emergency SET lifted_ts = ?, lifted_by = ?, lift_reason = ? WHERE id = ? AND lifted_ts IS NULL",
        (now_ms, actor, reason, freeze_id),
    )
    if txn.rowcount != 1:
        return None
    txn.execute(f"SELECT {_COLUMNS} FROM qunzu_emergency WHERE id = ?", (freeze_id,))
    row = txn.fetchone()
    return None if row is None else Freeze(*row)


class NoticeTargets:
    """Which rooms a freeze notice goes to: rooms the service account is in (Synapse's table)."""

    def __init__(self, api: ModuleApi) -> None:
        self._api = api

    async def rooms(self, service_account: str, category: str | None) -> list[str]:
        return await self._api.run_db_interaction(
            "qunzu_emergency_notice_rooms", notice_rooms_txn, service_account, category
        )
