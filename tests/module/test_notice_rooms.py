"""One notice chat per person, whichever process opens it first (`qunzu_notice_rooms` claims)."""

from __future__ import annotations

import pytest

from synapse_module.notices import Notifier
from synapse_module.store import QunzuStore
from synapse_module.store.notice_rooms import CLAIM_STALE_MS, NoticeRoomStore

from .harness import Database, FakeModuleApi, MovableClock

PERSON = "@person:localhost"


async def test_the_first_claim_opens_the_chat_and_later_ones_wait_for_it_then_use_it(store: QunzuStore) -> None:
    rooms = store.notice_rooms
    assert await rooms.claim(PERSON) == "ours"
    # Another process (or call) asking meanwhile waits instead of opening a second chat.
    assert await rooms.claim(PERSON) == "opening"
    assert await rooms.room_of(PERSON) is None
    await rooms.set(PERSON, "!chat:localhost")
    assert await rooms.claim(PERSON) == "!chat:localhost"
    assert await rooms.room_of(PERSON) == "!chat:localhost"
    assert await rooms.owner("!chat:localhost") == PERSON


async def test_a_failed_opening_is_released_and_the_next_notice_claims_again(store: QunzuStore) -> None:
    rooms = store.notice_rooms
    assert await rooms.claim(PERSON) == "ours"
    await rooms.release(PERSON)
    assert await rooms.claim(PERSON) == "ours"
    # Releasing never removes a chat that is open.
    await rooms.set(PERSON, "!chat:localhost")
    await rooms.release(PERSON)
    assert await rooms.room_of(PERSON) == "!chat:localhost"


async def test_a_claim_left_by_a_stopped_process_is_taken_over_once_it_is_stale(
    store: QunzuStore, clock: MovableClock
) -> None:
    rooms = store.notice_rooms
    assert await rooms.claim(PERSON) == "ours"
    clock.advance(CLAIM_STALE_MS - 1)
    assert await rooms.claim(PERSON) == "opening"
    clock.advance(2)
    assert await rooms.claim(PERSON) == "ours"
    # The takeover renews the claim: a third caller waits again.
    assert await rooms.claim(PERSON) == "opening"


async def test_an_opening_that_raised_leaves_no_claim_for_the_next_notice_to_wait_on(
    store: QunzuStore, module_api: FakeModuleApi
) -> None:
    notifier = Notifier(module_api.as_module_api(), "@qunzu:localhost", store.notice_rooms)
    # The fake API cannot create rooms: the opening raises, as an unexpected failure would.
    with pytest.raises(NotImplementedError):
        await notifier.to_user(PERSON, "hello")
    assert await store.notice_rooms.claim(PERSON) == "ours"


async def test_a_chat_that_is_gone_is_replaced_by_one_caller_and_the_others_get_the_replacement(
    store: QunzuStore,
) -> None:
    rooms = store.notice_rooms
    await rooms.set(PERSON, "!gone:localhost")
    # Two processes find at once that the chat takes no more notices: one replaces it.
    assert await rooms.claim(PERSON, gone="!gone:localhost") == "ours"
    assert await rooms.claim(PERSON, gone="!gone:localhost") == "opening"
    assert await rooms.room_of(PERSON) is None
    await rooms.set(PERSON, "!new:localhost")
    # A caller that saw the old chat fail after the replacement gets the new one, not a third.
    assert await rooms.claim(PERSON, gone="!gone:localhost") == "!new:localhost"
    # A replacement that failed is released: the next notice opens a chat again.
    assert await rooms.claim(PERSON, gone="!new:localhost") == "ours"
    await rooms.release(PERSON)
    assert await rooms.claim(PERSON) == "ours"


async def test_a_claim_left_by_this_instances_earlier_start_is_taken_over_at_once_another_instances_is_waited_for(
    database: Database, clock: MovableClock
) -> None:
    # A process stopped (a restart, a crash) while it opened the chat: its claim stays behind.
    before_restart = NoticeRoomStore(FakeModuleApi(database, clock).as_module_api(), clock)
    assert await before_restart.claim(PERSON) == "ours"
    # A worker's claim is another live process's: it is waited for until it is stale.
    worker = NoticeRoomStore(FakeModuleApi(database, clock, worker_name="worker1").as_module_api(), clock)
    assert await worker.claim(PERSON) == "opening"
    # The same instance started again knows the claim is its own earlier start's: taken at once.
    after_restart = NoticeRoomStore(FakeModuleApi(database, clock).as_module_api(), clock)
    assert await after_restart.claim(PERSON) == "ours"
    # ... once: its own claim now, which the worker still waits for, and so does the old start.
    assert await worker.claim(PERSON) == "opening"
    assert await after_restart.claim(PERSON) == "opening"
    await after_restart.set(PERSON, "!chat:localhost")
    assert await worker.claim(PERSON) == "!chat:localhost"
