"""Group codes (Art. 8 唯一群组识别编码) reserved through the module's store, on SQLite and PostgreSQL.

Every creation draws candidate codes with `policies.codes.new_code` and
reserves the first free one in `qunzu_groups` (store/groups.py). Two hundred
concurrent creations by twenty owners get two hundred distinct valid codes; a
taken candidate is skipped; when every candidate is taken nothing is written.
tests/e2e/test_groups.py checks that the code a room is created with is the
one in its state.
"""

from __future__ import annotations

import asyncio

import pytest

from policies import Decision, Reason
from policies.codes import is_valid_code, new_code
from synapse_module.errors import StoreError
from synapse_module.store import QunzuStore
from synapse_module.store.groups import PENDING_MS, NewGroup

from .harness import Database, MovableClock

CANDIDATES = 5  # as many as Groups draws per creation


def group(creator: str, codes: tuple[str, ...] | None = None) -> NewGroup:
    return NewGroup(
        codes=codes or tuple(new_code() for _ in range(CANDIDATES)),
        category="general",
        creator=creator,
        scale_tier="small",
        activity_tier="quiet",
        verification_dm=False,
    )


async def test_two_hundred_concurrent_creations_get_distinct_valid_codes(store: QunzuStore, database: Database) -> None:
    owners = [f"@owner{i}:localhost" for i in range(20)]
    reservations = await asyncio.gather(*(store.groups.reserve(group(owner), None) for owner in owners * 10))
    codes = [reservation.code for reservation in reservations]
    assert all(reservation.decision.allowed for reservation in reservations)
    assert len(codes) == 200
    assert all(code is not None and is_valid_code(code) for code in codes)
    assert len(set(codes)) == 200
    stored = database.query("SELECT code, creator FROM qunzu_groups")
    assert sorted(stored) == sorted(zip(codes, owners * 10, strict=True))


async def test_a_taken_candidate_is_skipped_and_all_taken_writes_nothing(store: QunzuStore, database: Database) -> None:
    first, second, third = new_code(), new_code(), new_code()
    assert len({first, second, third}) == 3
    assert (await store.groups.reserve(group("@a:localhost", (first,)), None)).code == first
    assert (await store.groups.reserve(group("@b:localhost", (first, second)), None)).code == second
    with pytest.raises(StoreError):
        await store.groups.reserve(group("@c:localhost", (first, second)), None)
    assert database.query("SELECT creator FROM qunzu_groups WHERE creator = ?", ("@c:localhost",)) == []
    assert (await store.groups.reserve(group("@c:localhost", (second, third)), None)).code == third


async def test_concurrent_creations_racing_for_the_same_candidates_each_get_one(
    store: QunzuStore,
) -> None:
    shared = tuple(new_code() for _ in range(CANDIDATES))
    reservations = await asyncio.gather(
        *(store.groups.reserve(group(f"@racer{i}:localhost", shared), None) for i in range(CANDIDATES))
    )
    assert sorted(reservation.code or "" for reservation in reservations) == sorted(shared)


async def test_a_creation_under_way_holds_its_owners_place_until_it_expires(
    store: QunzuStore, clock: MovableClock
) -> None:
    """The cap counts a reserved code as a room owned for PENDING_MS; the movable clock lets it lapse."""
    owned: list[int] = []

    def cap_of_one(count: int) -> Decision:
        owned.append(count)
        return Decision.allow() if count < 1 else Decision.refuse(Reason.CREATE_LIMIT, limit=1)

    assert (await store.groups.reserve(group("@owner:localhost"), cap_of_one)).code is not None
    refused = await store.groups.reserve(group("@owner:localhost"), cap_of_one)
    assert not refused.decision.allowed
    assert refused.code is None
    clock.advance(PENDING_MS + 1)
    assert (await store.groups.reserve(group("@owner:localhost"), cap_of_one)).code is not None
    assert owned == [0, 1, 0]
