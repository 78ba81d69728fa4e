"""Mute-all (全员禁言, Art. 9): while on, only the room's creator and admins post.

The owner or an admin turns it on through the bot (`!muteall [duration]`, which asks
`POST /admin/rooms/{room_id}/moderate` with `action: mute_all`) and off (`unmute_all`);
`RoomModeration.moderate` checks the actor, this module stores and enforces it. The
row lives in `qunzu_sanctions` (store/mute_all.py), so it survives restarts and ends by
itself at its end. The posting gate (`check_event_for_spam`) reads it through a
cluster-wide cache, one lookup per message; only in a muted room is the sender's role
read, and the rule is `policies.room_tools.may_post_while_muted_all`. Staff and the
service account are exempt before the gate asks.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from synapse.module_api import EventBase

from policies import Decision
from policies.numbers import duration_seconds
from policies.room_tools import may_post_while_muted_all
from policies.timing import in_force

from .cache import ClusterCache
from .store.audit import AuditRecord

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .clock import Clock
    from .room_roles import RoomRoles
    from .store.mute_all import MuteAllStore

logger = logging.getLogger(__name__)

_OFF = -2  # cached "no mute-all" (None cannot be told from a cache miss by the reader)


class RoomMuteAll:
    """A room's mute-all: start, lift, and the check every message passes."""

    def __init__(self, api: ModuleApi, clock: Clock, *, store: MuteAllStore, roles: RoomRoles) -> None:
        self._clock = clock
        self._store = store
        self._roles = roles
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

    async def start(self, actor: str, room_id: str, duration: object, reason: str) -> dict[str, Any]:
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
        return {"id": row, "until": end}

    async def lift(self, actor: str, room_id: str, reason: str) -> dict[str, Any]:
        """Turn mute-all off; `lifted` is False when it was not on."""
        audit = AuditRecord(actor, "room.unmute_all", room_id, {"action": "unmute_all"})
        lifted = await self._store.lift(room_id, actor, reason, audit)
        await self._ends.invalidate_everywhere(room_id)
        return {"lifted": lifted > 0}
