"""SQL of the blacklist (黑名单, Art. 11): entries for users, rooms and identities."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from synapse.module_api import LoggingTransaction, ModuleApi

from policies import api
from policies.constants import PERMANENT, SubjectType

from ..clock import Clock


@dataclass(frozen=True)
class BlacklistEntry:
    id: str
    subject_type: SubjectType
    subject: str
    has_identity: bool
    reason: str
    actor: str
    created_ts: int
    until_ts: int | None
    lifted_ts: int | None
    lifted_by: str | None
    lift_reason: str | None

    def active(self, now_ms: int) -> bool:
        return self.lifted_ts is None and (self.until_ts is None or self.until_ts > now_ms)

    def record(self, now_ms: int) -> api.BlacklistEntry:
        # An identity entry's subject is the keyed fingerprint, never the ID number.
        return api.BlacklistEntry(
            id=self.id,
            subject=api.Subject(type=self.subject_type, id=self.subject),
            covers_identity=self.has_identity,
            reason=self.reason,
            actor=self.actor,
            created_at=self.created_ts,
            until=self.until_ts,
            active=self.active(now_ms),
            lifted=None
            if self.lifted_ts is None
            else api.Lifted(at=self.lifted_ts, by=self.lifted_by, reason=self.lift_reason),
        )


class BlacklistStore:
    """Async access to `qunzu_blacklist`."""

    def __init__(self, api: ModuleApi, clock: Clock) -> None:
        self._api = api
        self._clock = clock

    async def add(
        self,
        entry_id: str,
        subject_type: SubjectType,
        subject: str,
        fingerprint: str | None,
        reason: str,
        actor: str,
        until_ms: int | None,
    ) -> BlacklistEntry:
        return await self._api.run_db_interaction(
            "qunzu_add_blacklist",
            _add_blacklist_txn,
            entry_id,
            subject_type,
            subject,
            fingerprint,
            reason,
            actor,
            self._clock.now_ms(),
            until_ms,
        )

    async def get(self, entry_id: str) -> tuple[BlacklistEntry, str | None] | None:
        """The entry and the fingerprint it covers (for cache invalidation)."""
        return await self._api.run_db_interaction("qunzu_get_blacklist", _get_blacklist_txn, entry_id)

    async def lift(self, entry_id: str, actor: str, reason: str) -> bool:
        return await self._api.run_db_interaction(
            "qunzu_lift_blacklist", _lift_blacklist_txn, entry_id, actor, reason, self._clock.now_ms()
        )

    async def list(self, active_only: bool, limit: int) -> list[BlacklistEntry]:
        return await self._api.run_db_interaction(
            "qunzu_list_blacklist", _list_blacklist_txn, active_only, self._clock.now_ms(), limit
        )

    async def until(self, user_id: str, fingerprint: str) -> int | None:
        """The end of this account's or this identity's blacklisting (`PERMANENT`: none), None when not blacklisted."""
        return await self._api.run_db_interaction(
            "qunzu_blacklist_covers", blacklist_until_txn, user_id, fingerprint, self._clock.now_ms()
        )


_COLUMNS = (
    "id, subject_type, subject, fingerprint, reason, actor, created_ts, until_ts, lifted_ts, lifted_by, lift_reason"
)


def _entry(row: tuple[Any, ...]) -> BlacklistEntry:
    return BlacklistEntry(
        id=row[0],
        subject_type=row[1],
        subject=row[2],
        has_identity=bool(row[3]),
        reason=row[4],
        actor=row[5],
        created_ts=int(row[6]),
        until_ts=None if row[7] is None else int(row[7]),
        lifted_ts=None if row[8] is None else int(row[8]),
        lifted_by=row[9],
        lift_reason=row[10],
    )


def _add_blacklist_txn(
    txn: LoggingTransaction,
    entry_id: str,
    subject_type: SubjectType,
    subject: str,
    fingerprint: str | None,
    reason: str,
    actor: str,
    now_ms: int,
    until_ms: int | None,
) -> BlacklistEntry:
    txn.execute(
        f"INSERT INTO qunzu_blacklist ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL)",
        (entry_id, subject_type, subject, fingerprint, reason, actor, now_ms, until_ms),
    )
    return BlacklistEntry(
        entry_id, subject_type, subject, fingerprint is not None, reason, actor, now_ms, until_ms, None, None, None
    )


def _get_blacklist_txn(txn: LoggingTransaction, entry_id: str) -> tuple[BlacklistEntry, str | None] | None:
    txn.execute(f"SELECT {_COLUMNS} FROM qunzu_blacklist WHERE id = ?", (entry_id,))
    row = txn.fetchone()
    return (_entry(row), row[3]) if row else None


def _lift_blacklist_txn(txn: LoggingTransaction, entry_id: str, actor: str, reason: str, now_ms: int) -> bool:
    txn.execute(
        "UPDATE qunzu_blacklist SET lifted_ts = ?, lifted_by = ?, lift_reason = ? WHERE id = ? AND lifted_ts IS NULL",
        (now_ms, actor, reason, entry_id),
    )
    return bool(txn.rowcount == 1)


def _list_blacklist_txn(txn: LoggingTransaction, active_only: bool, now_ms: int, limit: int) -> list[BlacklistEntry]:
    where = "WHERE lifted_ts IS NULL AND (until_ts IS NULL OR until_ts > ?)" if active_only else ""
    args: tuple[Any, ...] = (now_ms, limit) if active_only else (limit,)
    txn.execute(f"SELECT {_COLUMNS} FROM qunzu_blacklist {where} ORDER BY created_ts DESC LIMIT ?", args)
    return [_entry(row) for row in txn.fetchall()]


def blacklist_until_txn(txn: LoggingTransaction, user_id: str, fingerprint: str | None, now_ms: int) -> int | None:
    """The end of the longest active blacklisting of this account or its identity."""
    clauses = ["(subject_type = 'user' AND subject = ?)"]
    args: list[object] = [user_id]
    if fingerprint:
        clauses.append("fingerprint = ?")
        args.append(fingerprint)
    txn.execute(
        "SELECT until_ts FROM qunzu_blacklist WHERE lifted_ts IS NULL"
        f" AND (until_ts IS NULL OR until_ts > ?) AND ({' OR '.join(clauses)})",
        (now_ms, *args),
    )
    ends = [row[0] for row in txn.fetchall()]
    if not ends:
        return None
    if any(end is None for end in ends):
        return PERMANENT
    return max(int(end) for end in ends)
