"""Background work done a few items at a time, so that a burst of it never crowds out requests.

Opening a person's bot chat costs the database about as much as creating a room. On
SQLite every transaction takes turns on one connection, and on PostgreSQL the pool is
small: forty notices started at once put forty rooms' worth of transactions in front
of every request that arrives meanwhile (a crowd refused from a full group waited
seconds for its own refusals). A `WorkQueue` runs at most `at_once` items, each as a
background process on the reactor, and keeps the rest waiting in order.

An item whose key is already waiting is not queued twice (an item without a key is
always queued). A queue with a `limit` drops a new item past that many waiting ones,
with a warning and a count, unless the item is `required` (work whose number its cause
bounds, such as a new group's code notice); where every item must be done, the queue
has no limit. The caller's own action (a refusal, a registration) never waits for the
queue.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

logger = logging.getLogger(__name__)

# What an item returns is not looked at: a failure to deliver is the item's own to handle.
Work = Callable[[], Awaitable[object]]


class WorkQueue:
    """Items of background work, run in order, at most `at_once` at a time."""

    def __init__(self, api: ModuleApi, name: str, *, at_once: int, limit: int | None) -> None:
        """Create an empty queue.

        Args:
            api: Synapse's module API (runs the workers as background processes).
            name: The background processes' name, and the queue's in the log.
            at_once: How many items run at the same time.
            limit: How many items may wait; a further one is dropped and logged. None: no limit.
        """
        if at_once < 1 or (limit is not None and limit < 1):
            raise ValueError(f"{name}: at_once and limit must be at least 1")
        self._api = api
        self._name = name
        self._at_once = at_once
        self._limit = limit
        # Each waiting item under its key (or a number of its own), with what it is, for the log.
        self._waiting: OrderedDict[str | int, tuple[str, Work]] = OrderedDict()
        self._added = 0
        self._workers = 0
        self.dropped = 0

    @property
    def waiting(self) -> int:
        """Items not started yet."""
        return len(self._waiting)

    @property
    def workers(self) -> int:
        """Workers running items now."""
        return self._workers

    def add(self, what: str, work: Work, *, key: str | None = None, required: bool = False) -> bool:
        """Queue `work`, starting a worker if fewer than `at_once` run.

        Args:
            what: What the item is, in the log's words ("refusal notice"); no personal data.
            work: The item: a coroutine function, called once when its turn comes.
            key: Items with the same key do the same work: one waiting is enough.
            required: Queued even past the limit: nothing else would ever do this work.

        Returns:
            False when the item was not queued: its key is already waiting, or the queue is
            full (logged and counted in `dropped`).
        """
        if key is not None and key in self._waiting:
            return False
        if not required and self._limit is not None and len(self._waiting) >= self._limit:
            self.dropped += 1
            logger.warning(
                "qunzu: %s has %d items waiting; a %s was dropped (%d in all since start)",
                self._name,
                len(self._waiting),
                what,
                self.dropped,
            )
            return False
        self._added += 1
        self._waiting[self._added if key is None else key] = (what, work)
        if self._workers < self._at_once:
            self._workers += 1
            try:
                self._api.run_as_background_process(self._name, self._work_through)
            except Exception as exc:
                self._workers -= 1
                logger.warning("qunzu: %s could not start a worker (%s)", self._name, type(exc).__name__)
        return True

    async def _work_through(self) -> None:
        """One worker: runs the waiting items one after the other until none is left."""
        try:
            while self._waiting:
                _key, (what, work) = self._waiting.popitem(last=False)
                try:
                    await work()
                except Exception as exc:
                    # The boundary of a background process: one item failing leaves the others to run.
                    logger.warning("qunzu: %s: a %s failed (%s: %s)", self._name, what, type(exc).__name__, exc)
        finally:
            self._workers -= 1
