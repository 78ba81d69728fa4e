"""Follows the events Synapse persisted, off the delivery path, once per cluster.

Why not `on_new_event`: Synapse 1.163 awaits those callbacks inside
`notify_new_room_events` — before clients are told about the event — after
loading the room's full current state for every event, and merely registering
one makes it log "Re-starting finished log context" warnings on every
request that persists events. Both cost every message in every room.

Instead, on the background-task instance, a tick five times a second reads
Synapse's event stream (`events` + `event_json`, the reader the network log's
catch-up uses) after its position and hands new events to the subscribers
(network log, group registry): what they do after the fact (the service
account's join of a new group, a take-down) follows within a fifth of a second.
A tick that finds nothing is one read of an index range. Events can commit
slightly out of stream order, so once a second a tick re-reads a small window
behind the position and skips what it has seen. Subscribers are idempotent.
The follower begins where the network log's catch-up at start stopped
(`begin_at`): before that position the persisted catch-up covers everything,
after it the follower does; the group repair job covers the registry.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .clock import Clock
    from .health import Health
    from .store.netlog import NetlogStore

logger = logging.getLogger(__name__)

TICK_MS = 200
BATCH = 500
# Positions re-read behind the newest seen, for events that committed late: at the first tick
# a second or more after the last re-read, so a late commit waits about that long, however busy.
LOOKBACK = 200
LOOKBACK_EVERY_MS = 1_000
_SEEN = 5_000


@dataclass(frozen=True)
class StreamEvent:
    """A persisted event as read back from Synapse's tables."""

    stream: int
    event_id: str
    room_id: str
    type: str
    sender: str
    state_key: str | None
    content: Mapping[str, Any]
    origin_server_ts: int
    redacts: str | None = field(default=None)

    def is_state(self) -> bool:
        return self.state_key is not None

    @property
    def membership(self) -> str | None:
        value = self.content.get("membership")
        return value if isinstance(value, str) else None

    @classmethod
    def from_json(cls, stream: int, event_id: str, room_id: str, body: str) -> StreamEvent | None:
        try:
            data = json.loads(body)
            content = data.get("content") or {}
            redacts = data.get("redacts") or (content.get("redacts") if isinstance(content, dict) else None)
            return cls(
                stream=stream,
                event_id=event_id,
                room_id=room_id,
                type=str(data["type"]),
                sender=str(data["sender"]),
                state_key=data.get("state_key"),
                content=content if isinstance(content, dict) else {},
                origin_server_ts=int(data.get("origin_server_ts", 0)),
                redacts=redacts if isinstance(redacts, str) else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            logger.warning("qunzu: skipping an unreadable event at stream position %d", stream)
            return None


Subscriber = Callable[[list[StreamEvent]], Awaitable[None]]


class EventStream:
    """Reads new events and feeds the subscribers (background-task instance only)."""

    def __init__(self, api: ModuleApi, clock: Clock, health: Health, store: NetlogStore) -> None:
        self._api = api
        self._clock = clock
        self._health = health
        self._store = store
        self._subscribers: list[tuple[str, Subscriber]] = []
        self._position: int | None = None
        # Never look back behind where this process started following.
        self._floor = 0
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._busy = False
        self._looked_back_ms = 0

    def subscribe(self, name: str, subscriber: Subscriber) -> None:
        self._subscribers.append((name, subscriber))

    def begin_at(self, position: int) -> None:
        """Follow from `position`: everything up to it is covered by the catch-up at start.

        The follower never looks back behind it, so it cannot bring back rows that a
        retention purge removed, nor deliver an event twice across the two mechanisms.
        """
        if self._position is None:
            self._position = self._floor = position

    def start(self) -> None:
        # Synapse runs looping calls only on the instance configured for background tasks.
        self._api.looping_background_call(self._tick, TICK_MS, desc="qunzu_event_stream")

    async def _tick(self) -> None:
        if self._busy or not self._health.is_ready():
            return
        self._busy = True
        now = self._clock.now_ms()
        look_back = now - self._looked_back_ms >= LOOKBACK_EVERY_MS
        if look_back:
            self._looked_back_ms = now
        try:
            await self.follow(look_back=look_back)
        except Exception:
            logger.exception("qunzu: following the event stream failed; the next tick retries")
        finally:
            self._busy = False

    async def follow(self, *, look_back: bool = True) -> int:
        """Deliver everything persisted since the last call; returns how many events were new.

        Args:
            look_back: Also re-read the `LOOKBACK` positions behind the newest seen, for
                events that committed after a later one was read.
        """
        store = self._store
        if self._position is None:
            return 0  # not begun: the catch-up at start has not said where it stopped
        delivered = 0
        while True:
            start = max(self._floor, self._position - (LOOKBACK if look_back else 0))
            rows = await store.synapse_events_after(start, BATCH, None)
            fresh = [row for row in rows if row.event_id not in self._seen]
            events = [
                event
                for row in fresh
                if (event := StreamEvent.from_json(row.stream, row.event_id, row.room_id, row.json)) is not None
            ]
            for name, subscriber in self._subscribers:
                try:
                    await subscriber(events)
                except Exception:
                    # One subscriber's fault must not starve the others; each has its own repair.
                    logger.exception("qunzu: event stream subscriber %s failed", name)
            for row in fresh:
                self._seen[row.event_id] = None
            while len(self._seen) > _SEEN:
                self._seen.popitem(last=False)
            if rows:
                self._position = max(self._position, rows[-1].stream)
            delivered += len(events)
            if len(rows) < BATCH or not fresh:
                return delivered
