"""The per-person limit transactions (store/limits.py, store/groups.py) on plain SQLite and PostgreSQL.

The transaction functions run here without Synapse, on a thin stand-in for
Synapse's `LoggingTransaction`; on PostgreSQL, concurrent transactions at
REPEATABLE READ are retried on serialization failures as Synapse does.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import psycopg2
import psycopg2.errors
import pytest

from policies import Decision, Reason
from synapse_module.store.groups import (
    PENDING_MS,
    NewGroup,
    _check_join_txn,
    _link_group_txn,
    _release_places_txn,
    _reserve_group_txn,
)
from synapse_module.store.limits import REALNAME_ATTEMPTS, REPORTS, give_back_txn, take_txn, uses_txn
from tests.e2e.conftest import PG_DSN, fresh_pg_database

from .harness import NOW, SERVER, SERVICE, Database, Txn, join_txn, setup_txn

T = TypeVar("T")


def _created_txn(txn: Txn, room_id: str, creator: str, code: str) -> None:
    """A creation landing in Synapse's tables: the `#code` alias, then its creator's join."""
    txn.execute("INSERT INTO room_aliases VALUES (?, ?)", (f"#{code}:{SERVER}", room_id))
    join_txn(txn, room_id, creator)


@pytest.fixture
def sqlite_connect(tmp_path: Any) -> Callable[[], Database]:
    path = tmp_path / "store.db"
    return lambda: Database(lambda: sqlite3.connect(path, check_same_thread=False), postgres=False)


@pytest.fixture
def postgres_connect() -> Iterator[Callable[[], Database]]:
    with fresh_pg_database("qunzu_store", "the PostgreSQL store test") as name:
        dsn = PG_DSN.replace("dbname=postgres", f"dbname={name}")
        yield lambda: Database(lambda: psycopg2.connect(dsn), postgres=True)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def connect(request: pytest.FixtureRequest) -> Callable[[], Database]:
    return request.getfixturevalue(f"{request.param}_connect")  # type: ignore[no-any-return]


def _before_counters_txn(txn: Txn) -> None:
    reporters = [("t1", "@r:x", NOW - 10), ("t2", "@r:x", NOW - REPORTS.window_ms - 10), ("t3", "@o:x", NOW)]
    for ticket, reporter, ts in reporters:
        txn.execute(
            "INSERT INTO qunzu_ticket_reporters (ticket_id, reporter, source, reason, ts) VALUES (?, ?, 'x', '', ?)",
            (ticket, reporter, ts),
        )
    for ts in (NOW - 5, NOW - 5, NOW - REALNAME_ATTEMPTS.window_ms - 5):
        txn.execute("INSERT INTO qunzu_realname_attempts (user_id, ts, outcome) VALUES ('@r:x', ?, 'invalid')", (ts,))


def in_parallel(count: int, work: Callable[[int], T]) -> list[T]:
    """Run `work(i)` for i in range(count) on as many threads, all released at once."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


# --- windowed counters ------------------------------------------------------------------------------


def test_a_windowed_counter_stops_at_the_cap_and_frees_uses_as_the_window_moves(db: Database) -> None:
    taken = [db.run(take_txn, REPORTS, "@a:x", 3, NOW + i, f"u{i}") for i in range(4)]
    assert [use.allowed for use in taken] == [True, True, True, False]
    refused = taken[-1]
    assert (refused.count, refused.cap, refused.use_id) == (3, 3, None)
    assert refused.retry_after_ms == REPORTS.window_ms - 3  # until the first use leaves the window
    # Another person and another limit have their own counts.
    assert db.run(take_txn, REPORTS, "@b:x", 3, NOW, "u0").allowed
    assert db.run(take_txn, REALNAME_ATTEMPTS, "@a:x", 3, NOW, "u0").allowed
    # One hour after the first use, one place is free again, and the old use is gone.
    later = NOW + REPORTS.window_ms
    assert db.run(take_txn, REPORTS, "@a:x", 3, later, "u5").allowed
    assert not db.run(take_txn, REPORTS, "@a:x", 3, later, "u6").allowed
    assert db.run(uses_txn, REPORTS, "@a:x", later) == 3


def test_a_forced_use_counts_but_is_never_refused_and_a_use_can_be_given_back(db: Database) -> None:
    for i in range(3):
        assert db.run(take_txn, REPORTS, "@a:x", None, NOW, f"import:{i}").allowed
    assert db.run(uses_txn, REPORTS, "@a:x", NOW) == 3
    assert not db.run(take_txn, REPORTS, "@a:x", 3, NOW, "u").allowed
    db.run(give_back_txn, REPORTS, "@a:x", "import:1")
    assert db.run(take_txn, REPORTS, "@a:x", 3, NOW, "u").allowed
    # Recording the same use twice (a retried transaction) counts it once.
    db.run(take_txn, REPORTS, "@b:x", 3, NOW, "same")
    db.run(take_txn, REPORTS, "@b:x", 3, NOW, "same")
    assert db.run(uses_txn, REPORTS, "@b:x", NOW) == 1


@pytest.mark.postgres
def test_concurrent_takes_by_one_person_on_postgresql_stop_exactly_at_the_cap(postgres_db: Database) -> None:
    uses = in_parallel(12, lambda i: postgres_db.run(take_txn, REALNAME_ATTEMPTS, "@a:x", 5, NOW, f"u{i}"))
    assert sum(use.allowed for use in uses) == 5
    assert sorted(use.count for use in uses if use.allowed) == [0, 1, 2, 3, 4]
    assert postgres_db.run(uses_txn, REALNAME_ATTEMPTS, "@a:x", NOW) == 5


def test_concurrent_takes_by_one_person_on_sqlite_stop_exactly_at_the_cap(sqlite_db: Database) -> None:
    # SQLite has one writer: concurrent transactions queue (here: on the database lock).
    lock = threading.Lock()

    def take(i: int) -> bool:
        with lock:
            return sqlite_db.run(take_txn, REALNAME_ATTEMPTS, "@a:x", 5, NOW, f"u{i}").allowed

    assert sum(in_parallel(12, take)) == 5


# --- rooms joined ------------------------------------------------------------------------------------


def _cap_rule(cap: int) -> Callable[[int, int], Decision]:
    def rule(members: int, rooms_joined: int) -> Decision:
        if rooms_joined >= cap:
            return Decision.refuse(Reason.JOIN_LIMIT, cap=cap, count=rooms_joined)
        return Decision.allow()

    return rule


def _check(db: Database, room: str, cap: int, now: int = NOW, unheld: tuple[str, ...] = ()) -> Decision:
    return db.run(_check_join_txn, room, "@j:x", SERVICE, _cap_rule(cap), now, unheld, SERVER)


def test_rooms_joined_counts_the_places_a_persons_joins_hold_in_other_rooms(db: Database) -> None:
    db.join("!in1", "@j:x")
    db.join("!in2", "@j:x")
    assert _check(db, "!a", 4).allowed  # 2 joined
    assert _check(db, "!b", 4).allowed  # 2 joined + !a held
    refused = _check(db, "!c", 4)  # 2 joined + !a, !b held
    assert (refused.reason, dict(refused.detail)) == (Reason.JOIN_LIMIT, {"cap": 4, "count": 4})
    # Asking again for a room one holds a place in takes no second place.
    assert _check(db, "!a", 4).allowed
    # A join that landed is counted once, whether or not its place is released yet.
    db.join("!a", "@j:x")
    assert dict(_check(db, "!c", 4).detail) == {"cap": 4, "count": 4}
    db.run(_release_places_txn, [("!a", "@j:x")])
    assert dict(_check(db, "!c", 4).detail) == {"cap": 4, "count": 4}
    # Re-joining a room one is in is not counted against the cap.
    assert _check(db, "!in1", 4).allowed
    # Places expire: a join that never landed stops counting after PENDING_MS.
    assert _check(db, "!c", 4, now=NOW + PENDING_MS + 1).allowed


def test_a_join_let_through_without_a_held_place_counts_until_it_lands(db: Database) -> None:
    assert _check(db, "!a", 2, unheld=("!fast",)).allowed  # !fast under way + !a
    refused = _check(db, "!b", 2, unheld=("!fast",))
    assert dict(refused.detail) == {"cap": 2, "count": 2}
    db.join("!fast", "@j:x")
    assert dict(_check(db, "!b", 2, unheld=("!fast",)).detail) == {"cap": 2, "count": 2}  # counted once


@pytest.mark.postgres
def test_nine_concurrent_join_checks_into_nine_rooms_on_postgresql_hold_exactly_six(postgres_db: Database) -> None:
    decisions = in_parallel(9, lambda i: _check(postgres_db, f"!room{i}", 6))
    assert sum(decision.allowed for decision in decisions) == 6
    for decision in decisions:
        if not decision.allowed:
            assert dict(decision.detail) == {"cap": 6, "count": 6}


def _create(db: Database, code: str, cap: int, now: int = NOW) -> Decision:
    group = NewGroup((code,), "general", "@j:x", "small", "quiet", False)

    def enter(rooms: int) -> Decision:
        return _cap_rule(cap)(0, rooms)

    return db.run(_reserve_group_txn, group, None, now, enter, SERVER).decision


def test_a_creation_takes_a_place_among_the_rooms_its_creator_has_joined(db: Database) -> None:
    db.join("!in1", "@j:x")
    assert _create(db, "100000001", 3).allowed  # 1 joined
    assert _check(db, "!a", 3).allowed  # 1 joined + the creation under way
    refused = _create(db, "100000002", 3)  # 1 joined + !a held + the creation under way
    assert (refused.reason, dict(refused.detail)) == (Reason.JOIN_LIMIT, {"cap": 3, "count": 3})
    # The room is created (its alias written, its creator joined) before its code is linked:
    # counted once.
    db.run(_created_txn, "!new", "@j:x", "100000001")
    assert dict(_check(db, "!b", 3).detail) == {"cap": 3, "count": 3}
    db.run(_link_group_txn, "100000001", "!new")
    assert dict(_check(db, "!b", 3).detail) == {"cap": 3, "count": 3}
    # A creation that never finished stops counting after PENDING_MS.
    assert _create(db, "100000003", 4).allowed
    assert _check(db, "!b", 4, now=NOW + PENDING_MS + 1).allowed  # 2 joined + !a expired too


def test_uses_made_before_the_counters_existed_count_for_the_rest_of_their_window(
    connect: Callable[[], Database],
) -> None:
    db = connect()
    db.run(setup_txn, 7)
    db.run(_before_counters_txn)
    db.run(setup_txn)
    assert db.run(uses_txn, REPORTS, "@r:x", NOW) == 1
    assert db.run(uses_txn, REPORTS, "@o:x", NOW) == 1
    # Two attempts in the same millisecond with the same outcome were one row's worth of id: at
    # least one counts (the counter never starts above what happened).
    assert 1 <= db.run(uses_txn, REALNAME_ATTEMPTS, "@r:x", NOW) <= 2
