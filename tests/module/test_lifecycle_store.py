"""Ownership changes counted exactly (store/lifecycle.py): private chats becoming groups, transfers.

An owner with one place left whose private chats all get a third person at once ends
with exactly one more group; a transfer racing a conversion for the same new owner
takes the last place once (DESIGN.md §6.2, §6.4; Art. 8).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from policies import Decision, Reason
from synapse_module.store.groups import _owned_txn
from synapse_module.store.lifecycle import _become_group_txn, _transfer_txn

from .harness import NOW, Database, Txn
from .test_limits_store import in_parallel

CAP = 10


def rule(owned: int) -> Decision:
    if owned >= CAP:
        return Decision.refuse(Reason.CREATE_LIMIT, cap=CAP, count=owned)
    return Decision.allow()


def _rooms_txn(txn: Txn, owner: str, groups: int, chats: int, prefix: str) -> None:
    for i in range(groups + chats):
        txn.execute(
            "INSERT INTO qunzu_groups (code, room_id, category, creator, created_ts, scale_tier, activity_tier,"
            " verification_dm, private_chat) VALUES (?, ?, 'general', ?, ?, 'small', 'quiet', 0, ?)",
            (f"{prefix}{i:03d}", f"!{prefix}{i}:x", owner, NOW, 1 if i >= groups else 0),
        )


def _private(db: Database, code: str) -> bool:
    return bool(db.query("SELECT private_chat FROM qunzu_groups WHERE code = ?", (code,))[0][0])


def test_a_private_chat_becomes_a_group_only_with_a_place_left_and_only_once(db: Database) -> None:
    db.run(_rooms_txn, "@o:x", 9, 2, "c")
    assert db.run(_owned_txn, "@o:x", NOW) == 9  # private chats are not counted
    assert db.run(_become_group_txn, "c009", "@o:x", rule, NOW).allowed
    assert not _private(db, "c009")
    refused = db.run(_become_group_txn, "c010", "@o:x", rule, NOW)
    assert refused.reason is Reason.CREATE_LIMIT and refused.detail == {"cap": 10, "count": 10}
    assert _private(db, "c010")
    # A group already (a repeated callback): allowed without counting again.
    assert db.run(_become_group_txn, "c009", "@o:x", rule, NOW).allowed
    assert db.run(_owned_txn, "@o:x", NOW) == 10


def test_a_transfer_moves_the_place_and_refuses_a_full_new_owner_or_a_stale_old_one(db: Database) -> None:
    db.run(_rooms_txn, "@old:x", 10, 0, "o")
    db.run(_rooms_txn, "@new:x", 9, 0, "n")
    assert db.run(_transfer_txn, "o000", "@old:x", "@new:x", rule, NOW).allowed
    assert (db.run(_owned_txn, "@old:x", NOW), db.run(_owned_txn, "@new:x", NOW)) == (9, 10)
    full = db.run(_transfer_txn, "o001", "@old:x", "@new:x", rule, NOW)
    assert full.reason is Reason.CREATE_LIMIT
    # Handed over meanwhile: the old owner no longer owns it.
    assert db.run(_transfer_txn, "o000", "@old:x", "@third:x", rule, NOW).reason is Reason.NOT_OWNER
    assert db.query("SELECT creator FROM qunzu_groups WHERE code = 'o000'") == [("@new:x",)]


def _race(db: Database, parallel: Callable[[int, Callable[[int], Decision]], list[Decision]]) -> list[Decision]:
    db.run(_rooms_txn, "@o:x", 9, 4, "c")
    db.run(_rooms_txn, "@giver:x", 1, 0, "g")

    def work(i: int) -> Decision:
        if i == 4:
            return db.run(_transfer_txn, "g000", "@giver:x", "@o:x", rule, NOW)
        return db.run(_become_group_txn, f"c{9 + i:03d}", "@o:x", rule, NOW)

    return parallel(5, work)


@pytest.mark.postgres
def test_conversions_and_a_transfer_racing_for_the_last_place_take_it_once_on_postgresql(
    postgres_db: Database,
) -> None:
    results = _race(postgres_db, in_parallel)
    assert sum(decision.allowed for decision in results) == 1
    assert {d.reason for d in results if not d.allowed} == {Reason.CREATE_LIMIT}
    assert postgres_db.run(_owned_txn, "@o:x", NOW) == CAP


def test_conversions_and_a_transfer_racing_for_the_last_place_take_it_once_on_sqlite(sqlite_db: Database) -> None:
    lock = threading.Lock()  # one writer: concurrent transactions queue

    def locked(count: int, work: Callable[[int], Decision]) -> list[Decision]:
        def one(i: int) -> Decision:
            with lock:
                return work(i)

        return in_parallel(count, one)

    results = _race(sqlite_db, locked)
    assert sum(decision.allowed for decision in results) == 1
    assert sqlite_db.run(_owned_txn, "@o:x", NOW) == CAP
