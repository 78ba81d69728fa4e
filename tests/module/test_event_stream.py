"""The event-stream follower (event_stream.py) over Synapse's own tables on SQLite and PostgreSQL.

No Synapse: events are written into `events` and `event_json` as Synapse persists
them, and the follower's looping call is run by hand, tick by tick, with a movable
clock. What is shown: a new event reaches the subscribers at the next tick (a fifth
of a second), an event that commits behind one already delivered is still delivered,
by the look-back of the first tick a second after the last one, and nothing is
delivered twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from synapse_module.event_stream import LOOKBACK_EVERY_MS, TICK_MS, EventStream, StreamEvent
from synapse_module.health import Health
from synapse_module.store.netlog import NetlogStore

from .harness import Database, FakeModuleApi, MovableClock, insert_event

ROOM = "!r:localhost"
SENDER = "@u:localhost"


class ReadyHealth:
    """The follower only asks whether the module is ready."""

    def is_ready(self) -> bool:
        return True


def _follower(module_api: FakeModuleApi, clock: MovableClock) -> tuple[Callable[[], Awaitable[Any]], list[str]]:
    """A started follower from position 0; returns its tick and the event ids it delivered, in order."""
    api = module_api.as_module_api()
    stream = EventStream(api, clock, cast(Health, ReadyHealth()), NetlogStore(api, clock))
    delivered: list[str] = []

    async def collect(events: list[StreamEvent]) -> None:
        delivered.extend(event.event_id for event in events)

    stream.subscribe("collector", collect)
    stream.begin_at(0)
    stream.start()
    ((tick, interval, _),) = module_api.looping_calls
    assert interval == TICK_MS == 200
    return tick, delivered


async def test_a_new_event_is_delivered_at_the_next_tick_and_a_late_commit_by_the_look_back(
    database: Database, module_api: FakeModuleApi, clock: MovableClock
) -> None:
    tick, delivered = _follower(module_api, clock)
    await tick()
    assert delivered == []

    first = insert_event(database, 1, SENDER, ROOM, 1_000)
    # Position 3 commits before position 2 (Synapse allocates positions before it commits).
    third = insert_event(database, 3, SENDER, ROOM, 1_002)
    await tick()
    assert delivered == [first, third]

    second = insert_event(database, 2, SENDER, ROOM, 1_001)
    # Ticks read only after the newest position until a second has passed since the last look-back.
    clock.advance(LOOKBACK_EVERY_MS - TICK_MS)
    await tick()
    assert second not in delivered
    clock.advance(TICK_MS)
    await tick()
    assert delivered == [first, third, second]

    fourth = insert_event(database, 4, SENDER, ROOM, 1_003)
    for _ in range(3):
        clock.advance(LOOKBACK_EVERY_MS)
        await tick()
    # Each event once, in the order the follower found them.
    assert delivered == [first, third, second, fourth]


async def test_an_outlier_is_never_delivered(
    database: Database, module_api: FakeModuleApi, clock: MovableClock
) -> None:
    tick, delivered = _follower(module_api, clock)
    insert_event(database, 1, SENDER, ROOM, 1_000, outlier=True)
    message = insert_event(database, 2, SENDER, ROOM, 1_001)
    for _ in range(3):
        clock.advance(LOOKBACK_EVERY_MS)
        await tick()
    assert delivered == [message]
