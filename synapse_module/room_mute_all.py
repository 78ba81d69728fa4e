"""Mute-all (全员禁言, Art. 9): while on, only the room's creator and admins post.

The owner or an admin turns it on through the bot (`!muteall [duration]`, which asks
`POST /admin/rooms/{room_id}/moderate` with `action: mute_all`) and off (`unmute_all`);
`RoomModeration.moderate` checks the actor, this module stores and enforces it. The
row lives in `qunzu_sanctions` (store/mute_all.py), so it survives restarts and ends by
itself at its end. The posting gate (`check_event_for_spam`) reads it through a
cluster-wide cache, one lookup per message; only in a muted room is the sender's role
read, and the rule is `policies.room_tools.may_post_while_muted_all`. Staff and the
service account are exempt before the gate asks.

A mute-all that ends by itself is announced in the room by a job (`announce_ended`), once
per mute-all across processes (a `qunzu_once` key), also after a stop of up to a day; one
lifted by a person is not, since the bot answered that person in the room.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from synapse.module_api import EventBase

from policies import Decision
from policies.api import Moderation, MuteAllEnded
from policies.constants import DAY_MS
from policies.numbers import duration_seconds
from policies.room_tools import may_post_while_muted_all
from policies.timing import in_force

from .cache import ClusterCache
from .notice_texts import notice_time
from .store.audit import AuditRecord
from .texts import text

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .clock import Clock
    from .notices import Notifier
    from .room_roles import RoomRoles
    from .store.mute_all import MuteAllStore
    from .store.once import OnceStore

logger = logging.getLogger(__name__)

_OFF = -2  # cached "no mute-all" (None cannot be told from a cache miss by the reader)

# How long after its end a mute-all is still announced (a process stopped meanwhile), and how
# long its announcement key is kept: past the window, so the key outlives the search for it.
ANNOUNCE_WINDOW_MS = DAY_MS
ENDED_KEY = "mute_all_ended|"
ANNOUNCE_BATCH = 50


class RoomMuteAll:
    """A room's mute-all: start, lift, and the check every message passes."""

    def __init__(
        self,
        api: ModuleApi,
        clock: Clock,
        *,
        store: MuteAllStore,
        roles: RoomRoles,
        once: OnceStore,
        notifier: Notifier,
        language: str,
    ) -> None:
        self._clock = clock
        self._store = store
        self._roles = roles
        self._once = once
        self._notifier = notifier
        self._language = language
        self._ends: ClusterCache[str, int] = ClusterCache(api, "qunzu_room_mute_all", self._load)

    async def _load(self, room_id: str) -> int:
        end = await self._store.end(room_id)
        return _OFF if end is None else end

    async def invalidate(self, room_id: str, subject: str, fingerprint: str | None = None) -> None:
        """Drop the cached state everywhere (a `SanctionState.on_room_mute_changed` hook: staff lifted it)."""
        if subject == room_id:
            await self._ends.invalidate_everywhere(room_id)

    async def check(self, event: EventBase) -> Decision:
        """The posting gate: a plain member's event in a muted room is refused with room_muted_all."""
        end = await self._ends.get(event.room_id)
        now = self._clock.now_ms()
        if end == _OFF or not in_force(end, now):
            return Decision.allow()
        role = await self._roles.role(event.room_id, event.sender)
        return may_post_while_muted_all(
            end, now, sender_is_admin=role.is_admin, event_type=event.type, is_state=event.is_state()
        )

    async def start(self, actor: str, room_id: str, duration: object, reason: str) -> Moderation:
        """Turn mute-all on for `duration` (seconds, `30m`, `perm`; absent: until lifted).

        Raises:
            InvalidNumber: a duration that is not one (400 `invalid_number`, bounded to ten years).
        """
        seconds = None if duration is None else duration_seconds(duration, "duration")
        end = None if seconds is None else self._clock.now_ms() + seconds * 1000
        audit = AuditRecord(actor, "room.mute_all", room_id, {"action": "mute_all", "until": end})
        row = await self._store.start(room_id, actor, reason, end, audit)
        await self._ends.invalidate_everywhere(room_id)
        logger.info("qunzu: mute-all started in a room")
        return Moderation(id=row, until=end)

    async def lift(self, actor: str, room_id: str, reason: str) -> Moderation:
        """Turn mute-all off; `lifted` is False when it was not on."""
        audit = AuditRecord(actor, "room.unmute_all", room_id, {"action": "unmute_all"})
        lifted = await self._store.lift(room_id, actor, reason, audit)
        await self._ends.invalidate_everywhere(room_id)
        return Moderation(lifted=lifted > 0)

    async def announce_ended(self) -> MuteAllEnded:
        """The job: tell each room whose mute-all ended by itself that everyone may post again.

        Returns:
            How many ended and how many rooms were told; a room that could not be told
            (the service account cannot post there) is tried again at the next run.
        """
        since = self._clock.now_ms() - ANNOUNCE_WINDOW_MS
        ended = await self._store.ended(since, ENDED_KEY, ANNOUNCE_BATCH)
        told = 0
        for row_id, room_id, end in ended:
            key = ENDED_KEY + row_id
            if not await self._once.claim(key, 2 * ANNOUNCE_WINDOW_MS):
                continue  # another process is telling this room
            body = text("mute_all_ended_room", self._language, end=notice_time(end, self._language))
            if await self._notifier.to_room(room_id, body):
                told += 1
            else:
                await self._once.release(key)
        return MuteAllEnded(ended=len(ended), told=told)
