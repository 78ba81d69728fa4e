"""SQL of a group's life after creation: a private chat becoming a group, a new owner, convention notices.

Ownership changes are decided inside the transaction that counts, like a
creation (`store/groups.py`): the transaction writes the owner's guard row
first, so a conversion or a transfer racing the same person's creations is
counted exactly against their cap (Art. 8).
"""

from __future__ import annotations

from collections.abc import Callable

from synapse.module_api import LoggingTransaction, ModuleApi

from policies import Decision, Reason

from ..clock import Clock
from .groups import _owned_txn
from .limits import guard_txn
from .sql import run_contended

# The owner's creation decision given the groups they own now (not counting this one).
OwnerRule = Callable[[int], Decision]


class LifecycleStore:
    """Async access to the ownership and kind of registered rooms, and to convention notices."""

    def __init__(self, api: ModuleApi, clock: Clock) -> None:
        self._api = api
        self._clock = clock

    async def become_group(self, code: str, owner: str, rule: OwnerRule | None) -> Decision:
        """A private chat becomes a group, if its owner has a place left (None: no cap, exempt).

        Idempotent: a chat that is a group already is allowed without counting.
        """
        return await run_contended(
            self._api, "qunzu_private_to_group", _become_group_txn, code, owner, rule, self._clock.now_ms()
        )

    async def transfer(self, code: str, old_owner: str, new_owner: str, rule: OwnerRule | None) -> Decision:
        """Hand a group to a new owner, counted against the new owner's cap (None: no cap, exempt).

        Refused without change when the group is no longer the old owner's (a race).
        """
        return await run_contended(
            self._api,
            "qunzu_transfer_group",
            _transfer_txn,
            code,
            old_owner,
            new_owner,
            rule,
            self._clock.now_ms(),
        )

    async def claim_convention_notice(self, user_id: str, version: str) -> bool:
        """Whether this process is the one to tell the person about this convention version (once ever)."""
        return await self._api.run_db_interaction(
            "qunzu_claim_convention_notice", _claim_notice_txn, user_id, version, self._clock.now_ms()
        )

    async def verified_without(self, version: str, after_user: str, limit: int) -> list[str]:
        """Verified, active accounts that accepted an earlier version than `version` and were not told of it."""
        return await self._api.run_db_interaction(
            "qunzu_verified_without_convention", _verified_without_txn, version, after_user, limit
        )


def _become_group_txn(txn: LoggingTransaction, code: str, owner: str, rule: OwnerRule | None, now_ms: int) -> Decision:
    txn.execute("SELECT private_chat FROM qunzu_groups WHERE code = ?", (code,))
    row = txn.fetchone()
    if row is None or not row[0]:
        return Decision.allow()
    if rule is not None:
        guard_txn(txn, f"owner:{owner}")
        decision = rule(_owned_txn(txn, owner, now_ms))
        if not decision.allowed:
            return decision
    txn.execute("UPDATE qunzu_groups SET private_chat = 0 WHERE code = ? AND private_chat = 1", (code,))
    return Decision.allow()


def _transfer_txn(
    txn: LoggingTransaction, code: str, old_owner: str, new_owner: str, rule: OwnerRule | None, now_ms: int
) -> Decision:
    if rule is not None:
        guard_txn(txn, f"owner:{new_owner}")
        decision = rule(_owned_txn(txn, new_owner, now_ms))
        if not decision.allowed:
            return decision
    guard_txn(txn, f"owner:{old_owner}")
    txn.execute(
        "UPDATE qunzu_groups SET creator = ? WHERE code = ? AND creator = ? AND retired_ts IS NULL",
        (new_owner, code, old_owner),
    )
    if txn.rowcount != 1:
        return Decision.refuse(Reason.NOT_OWNER)  # dissolved or handed over meanwhile
    return Decision.allow()


def _claim_notice_txn(txn: LoggingTransaction, user_id: str, version: str, now_ms: int) -> bool:
    txn.execute(
        "INSERT INTO qunzu_convention_notices (user_id, version, sent_ts) VALUES (?, ?, ?)"
        " ON CONFLICT (user_id, version) DO NOTHING",
        (user_id, version, now_ms),
    )
    return bool(txn.rowcount == 1)


def _verified_without_txn(txn: LoggingTransaction, version: str, after_user: str, limit: int) -> list[str]:
    txn.execute(
        # People who accepted an earlier version, and were not told about this one yet.
        "SELECT i.user_id FROM qunzu_identities AS i JOIN qunzu_conventions AS c ON c.user_id = i.user_id"
        " WHERE i.status = 'verified' AND i.deactivated_ts IS NULL AND i.user_id > ? AND c.version != ?"
        " AND NOT EXISTS (SELECT 1 FROM qunzu_convention_notices AS n WHERE n.user_id = i.user_id AND n.version = ?)"
        " ORDER BY i.user_id LIMIT ?",
        (after_user, version, version, limit),
    )
    return [str(row[0]) for row in txn.fetchall()]
