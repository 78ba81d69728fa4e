"""What command handlers need besides the module API: the room, the desk, roles. No nio types.

``Services`` is built by :class:`bot.bot.Bot` and handed to every
:class:`~bot.commands.Context` (``ctx.services``). Roles come from the room's
own state (``m.room.create`` creators — unbounded power from room version 12 —
and ``m.room.power_levels``), staff from the module (``GET /me?user_id=``
answers ``staff``), both read per command so a change applies at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from bot.errors import MatrixError, QunzuApiError
from bot.qunzu_api import QunzuApi
from policies.constants import GROUP_STATE_TYPE
from policies.roles import RoleName, room_role

logger = logging.getLogger(__name__)

#: How long the module's answer "is this user staff" is reused (seconds).
STAFF_CACHE_S: Final = 30.0


class RoomClient(Protocol):
    """The Matrix calls handlers need (``bot.client.MatrixClient``)."""

    @property
    def user_id(self) -> str:
        """The bot's user id."""
        ...

    async def get_state_event(self, room_id: str, event_type: str, state_key: str = "") -> dict[str, Any] | None:
        """A state event as JSON (``sender``, ``content``), or None."""
        ...

    async def redact(self, room_id: str, event_id: str, reason: str | None = None) -> None:
        """Redact an event."""
        ...


@dataclass
class Services:
    """Shared helpers for handlers.

    Attributes:
        client: Room state and redactions.
        api: The module's HTTP API.
        send: Post a message into a room (queued in the outbox when the homeserver is down).
        moderation_room_id: The staff room, if configured and joined.
        on_ticket_filed: Called when the module filed a report from a room (the desk's nudge); None without a desk.
    """

    client: RoomClient
    api: QunzuApi
    send: Callable[[str, str], Awaitable[None]]
    moderation_room_id: str | None = None
    on_ticket_filed: Callable[[], None] | None = None
    _staff: dict[str, tuple[float, bool]] = field(default_factory=dict)

    def ticket_filed(self) -> None:
        """The bot just filed a report: the moderation desk announces it now, not at its next poll."""
        if self.on_ticket_filed is not None:
            self.on_ticket_filed()

    async def room_role(self, room_id: str, user_id: str) -> RoleName:
        """``creator``, ``admin`` or ``member`` from the room's state ("member" when unreadable)."""
        try:
            create, levels = await asyncio.gather(
                self.client.get_state_event(room_id, "m.room.create"),
                self.client.get_state_event(room_id, "m.room.power_levels"),
            )
        except MatrixError as exc:
            logger.info("room state of %s unreadable: %s", room_id, exc.errcode or exc)
            return "member"
        levels_content = (levels or {}).get("content") if levels is not None else None
        create_content = (create or {}).get("content") or {}
        sender = (create or {}).get("sender")
        return room_role(user_id, sender if isinstance(sender, str) else None, create_content, levels_content).role

    async def is_staff(self, user_id: str) -> bool:
        """Server admins and the module's staff (the module decides; cached briefly)."""
        now = time.monotonic()
        cached = self._staff.get(user_id)
        if cached is not None and now - cached[0] < STAFF_CACHE_S:
            return cached[1]
        try:
            staff = (await self.api.me(as_user=user_id)).staff
        except QunzuApiError as exc:
            logger.info("staff check failed: %s", exc)
            return False
        self._staff[user_id] = (now, staff)
        return staff

    async def group_state(self, room_id: str) -> dict[str, Any] | None:
        """The room's ``cn.qunzu.group`` content (code, category), or None for ungoverned rooms."""
        try:
            event = await self.client.get_state_event(room_id, GROUP_STATE_TYPE)
        except MatrixError:
            return None
        content = (event or {}).get("content")
        return content if isinstance(content, dict) and content.get("code") else None
