"""Plain data the Matrix client hands to the dispatcher, and the small
interfaces between the parts. No nio types ever cross this line, so handlers
and the dispatcher are testable with a fake client.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

#: Seconds since the epoch; injectable so tests can move time.
Clock = Callable[[], float]


def system_clock() -> float:
    """The real clock."""
    return time.time()


def now_ms(clock: Clock) -> int:
    """``clock`` in Matrix milliseconds."""
    return int(clock() * 1000)


@dataclass(frozen=True)
class IncomingMessage:
    """A text message (``m.text``) in a room the bot is in.

    Attributes:
        room_id: Room id.
        event_id: Event id; the idempotency key for commands.
        sender: Sender's user id.
        body: Plain body, reply fallback removed.
        formatted_body: HTML body (pills carry user ids there), or None.
        reply_to_event_id: The event this message replies to, or None.
        server_ts: Origin server timestamp (ms).
        is_direct: True in a direct chat with the bot.
    """

    room_id: str
    event_id: str
    sender: str
    body: str
    formatted_body: str | None
    reply_to_event_id: str | None
    server_ts: int
    is_direct: bool


@dataclass(frozen=True)
class Invite:
    """The bot was invited into ``room_id`` by ``sender``.

    ``is_direct`` is the inviter's flag for a direct chat (``m.direct`` invite).
    """

    room_id: str
    sender: str
    is_direct: bool = False


@dataclass(frozen=True)
class EncryptedRoom:
    """The bot is in ``room_id`` and found it end-to-end encrypted.

    The bot has no encryption keys: it sees neither encrypted commands nor
    can it send encrypted answers there. ``is_direct`` as for messages.
    """

    room_id: str
    is_direct: bool


@dataclass(frozen=True)
class RoomEvent:
    """A state change the desk reacts to (welcome, role labels); delivered if the sink has ``on_room_event``.

    Attributes:
        kind: ``member_join`` (someone joined, not the bot) or ``power_levels``.
        room_id: Room id.
        event_id: Event id (idempotency key).
        sender: Who sent the event.
        state_key: The joining user for ``member_join``; ``""`` for power levels.
        content: The event content.
        prev_content: The content it replaced (power levels), or None.
        server_ts: Origin server timestamp (ms).
    """

    kind: str
    room_id: str
    event_id: str
    sender: str
    state_key: str
    content: dict[str, Any]
    prev_content: dict[str, Any] | None
    server_ts: int


class ChatClient(Protocol):
    """What the dispatcher and handlers need from the Matrix client."""

    @property
    def user_id(self) -> str:
        """The bot's own user id."""
        ...

    async def send_text(
        self,
        room_id: str,
        text: str,
        reply_to: str | None = None,
        notice: bool = True,
        txn_id: str | None = None,
    ) -> str:
        """Send ``text``; returns the event id. Raises ``MatrixError``."""
        ...

    async def join(self, room_id: str) -> str:
        """Join ``room_id``; returns the room id. Raises ``MatrixError``."""
        ...


class EventSink(Protocol):
    """Receives what the sync loop delivers."""

    async def on_message(self, message: IncomingMessage) -> None:
        """A new text message."""
        ...

    async def on_invite(self, invite: Invite) -> None:
        """A new invite."""
        ...

    async def on_encrypted_room(self, room: EncryptedRoom) -> None:
        """A room the bot is in is encrypted (told once per room and run)."""
        ...

    async def on_synced(self) -> None:
        """A sync succeeded and its events were delivered (housekeeping time)."""
        ...
