"""`WorkQueue`: background work a few items at a time, bounded, each item isolated from the others."""

from __future__ import annotations

import asyncio
import logging

import pytest

from synapse_module.work_queue import WorkQueue

from .harness import Database, FakeModuleApi, MovableClock


class Recorder:
    """Items of work that note when they run and how many run beside them."""

    def __init__(self) -> None:
        self.done: list[str] = []
        self.running = 0
        self.most_at_once = 0

    def item(self, name: str, *, fails: bool = False) -> WorkItem:
        return WorkItem(self, name, fails)


class WorkItem:
    def __init__(self, recorder: Recorder, name: str, fails: bool) -> None:
        self._recorder = recorder
        self._name = name
        self._fails = fails

    async def __call__(self) -> None:
        recorder = self._recorder
        recorder.running += 1
        recorder.most_at_once = max(recorder.most_at_once, recorder.running)
        try:
            await asyncio.sleep(0.001)
            if self._fails:
                raise RuntimeError(f"{self._name} broke")
            recorder.done.append(self._name)
        finally:
            recorder.running -= 1


@pytest.fixture
def api(sqlite_db: Database, clock: MovableClock) -> FakeModuleApi:
    return FakeModuleApi(sqlite_db, clock)


async def test_items_run_in_order_at_most_at_once_at_a_time(api: FakeModuleApi) -> None:
    queue = WorkQueue(api.as_module_api(), "test_queue", at_once=3, limit=None)
    recorder = Recorder()
    for number in range(20):
        assert queue.add("test item", recorder.item(f"item{number}"))
    assert queue.workers == 3
    await api.settle()
    assert sorted(recorder.done, key=lambda name: int(name[4:])) == [f"item{n}" for n in range(20)]
    assert recorder.most_at_once == 3
    assert (queue.waiting, queue.workers, queue.dropped) == (0, 0, 0)


async def test_an_item_already_waiting_is_not_queued_twice(api: FakeModuleApi) -> None:
    queue = WorkQueue(api.as_module_api(), "test_queue", at_once=1, limit=None)
    recorder = Recorder()
    assert queue.add("test item", recorder.item("first"), key="same")
    assert not queue.add("test item", recorder.item("second"), key="same")
    assert queue.add("test item", recorder.item("keyless"))  # an item without a key is always queued
    await api.settle()
    assert recorder.done == ["first", "keyless"]
    # Once it has run, the same key is work again.
    assert queue.add("test item", recorder.item("third"), key="same")
    await api.settle()
    assert recorder.done == ["first", "keyless", "third"]


async def test_past_the_limit_an_item_is_dropped_counted_and_logged(
    api: FakeModuleApi, caplog: pytest.LogCaptureFixture
) -> None:
    queue = WorkQueue(api.as_module_api(), "test_queue", at_once=1, limit=3)
    recorder = Recorder()
    with caplog.at_level(logging.WARNING, logger="synapse_module.work_queue"):
        added = [queue.add("test item", recorder.item(f"item{number}")) for number in range(5)]
    assert added == [True, True, True, False, False]
    assert queue.dropped == 2
    assert [record.getMessage() for record in caplog.records] == [
        "qunzu: test_queue has 3 items waiting; a test item was dropped (1 in all since start)",
        "qunzu: test_queue has 3 items waiting; a test item was dropped (2 in all since start)",
    ]
    # Work nothing else would do is queued all the same.
    assert queue.add("required item", recorder.item("required"), required=True)
    assert queue.dropped == 2
    await api.settle()
    assert recorder.done == ["item0", "item1", "item2", "required"]


async def test_a_failing_item_is_logged_and_the_others_still_run(
    api: FakeModuleApi, caplog: pytest.LogCaptureFixture
) -> None:
    queue = WorkQueue(api.as_module_api(), "test_queue", at_once=1, limit=None)
    recorder = Recorder()
    queue.add("test item", recorder.item("a"))
    queue.add("broken item", recorder.item("b", fails=True))
    queue.add("test item", recorder.item("c"))
    with caplog.at_level(logging.WARNING, logger="synapse_module.work_queue"):
        await api.settle()
    assert recorder.done == ["a", "c"]
    assert [record.getMessage() for record in caplog.records] == [
        "qunzu: test_queue: a broken item failed (RuntimeError: b broke)"
    ]
    assert queue.workers == 0


def test_a_queue_needs_room_for_one_item_and_one_worker(api: FakeModuleApi) -> None:
    with pytest.raises(ValueError, match="test_queue: at_once and limit must be at least 1"):
        WorkQueue(api.as_module_api(), "test_queue", at_once=0, limit=None)
    with pytest.raises(ValueError, match="test_queue: at_once and limit must be at least 1"):
        WorkQueue(api.as_module_api(), "test_queue", at_once=1, limit=0)
