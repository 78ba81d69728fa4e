"""The Matrix client: the only module that imports nio.

It logs in (reusing the saved device), sends text, joins rooms, and runs the
sync loop: our own instead of nio's ``sync_forever`` so the token is saved only
after a batch was delivered, network failures back off 1 s → 60 s, the
first sync of a fresh bot does not answer old commands, and an event nobody
can read (anyone in a room can send any JSON) is logged and skipped, never
the end of the loop. Everything it hands
out is plain data from :mod:`bot.events`; every failure is a
:class:`~bot.errors.MatrixError`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

import aiohttp
import nio

from bot.config import BotConfig
from bot.errors import MatrixError
from bot.events import EncryptedRoom, EventSink, IncomingMessage, Invite, RoomEvent
from bot.state import BotState, Session
from policies.commands import strip_reply_fallback
from policies.constants import DESK_NUDGE_TYPE

logger = logging.getLogger(__name__)

#: Long-poll time of one sync request (ms).
SYNC_TIMEOUT_MS: Final = 30_000
#: Extra seconds a sync request may take beyond the long-poll before we give up.
_SYNC_GRACE_S: Final = 60
#: A first or full-state sync covers every room the service account is in (every group and
#: every bot chat): on a large server it takes minutes, and cutting it off would only start it again.
_FULL_SYNC_LIMIT_S: Final = 900
DEVICE_NAME: Final = "Qunzu bot"

# What the bot reads of a room: the messages and joins in its timeline, its own membership and the
# room's create event (which chats are direct, `_note_direct_chats`), whether it is encrypted, and
# its size from the summary Synapse sends with lazy-loaded members. Everything else is left out of
# every sync: presence, typing and read receipts (in every group the service account is in, each
# one would end the bot's long poll), rooms' account data, and the rest of the rooms' state (the
# bot reads roles from the state when a command needs them). A first or full-state sync then
# costs a fraction of Synapse's work and of the bytes.
_MEMBERS: Final[dict[str, Any]] = {"lazy_load_members": True}
_STATE_READ: Final = ("m.room.create", "m.room.member", "m.room.encryption")
_NOTHING: Final[dict[str, Any]] = {"types": []}
_SYNC_FILTER: Final[dict[str, Any]] = {
    "presence": _NOTHING,
    "room": {
        "state": {**_MEMBERS, "types": list(_STATE_READ)},
        "timeline": _MEMBERS,
        "ephemeral": _NOTHING,
        "account_data": _NOTHING,
    },
}
# The first sync of a fresh bot only needs state and invites: old timeline
# events are never answered, so do not download them.
_INITIAL_FILTER: Final[dict[str, Any]] = {
    **_SYNC_FILTER,
    "room": {**_SYNC_FILTER["room"], "timeline": {**_MEMBERS, "limit": 0}},
}

# Errcodes that say "try again later"; None is a non-JSON answer (a proxy's
# 502 while Synapse restarts).
_RETRYABLE: Final = frozenset({None, "M_LIMIT_EXCEEDED", "M_UNKNOWN"})
_NETWORK_ERRORS: Final = (aiohttp.ClientError, TimeoutError)
_MX_REPLY: Final = re.compile(r"<mx-reply>.*?</mx-reply>", re.DOTALL)
# The module marks the direct chat it opens to tell a person about a measure (synapse_module/notices.py).
NOTICE_CHAT_KEY: Final = "cn.qunzu.notices"

T = TypeVar("T")


class Backoff:
    """Exponential delays: ``initial``, doubling up to ``cap``; :meth:`reset` on success."""

    def __init__(self, initial: float = 1.0, cap: float = 60.0) -> None:
        self._initial = initial
        self._cap = cap
        self._next = initial

    def next(self) -> float:
        """The delay to wait now (and double the one after)."""
        delay = self._next
        self._next = min(self._next * 2, self._cap)
        return delay

    def reset(self) -> None:
        """Start again from ``initial``."""
        self._next = self._initial


def _raise_for(resp: Any, what: str) -> None:
    if isinstance(resp, nio.ErrorResponse):
        errcode = resp.status_code
        raise MatrixError(
            f"{what} failed: {errcode or 'no errcode'}",
            errcode=errcode,
            retryable=errcode in _RETRYABLE,
        )


class MatrixClient:
    """nio ``AsyncClient`` behind the small interface of :class:`bot.events.ChatClient`.

    Args:
        config: Bot configuration.
        state: Where the session and the sync token are saved.
        sleep: Injectable ``asyncio.sleep`` (tests of the backoff).
    """

    def __init__(
        self,
        config: BotConfig,
        state: BotState,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._config = config
        self._state = state
        self._sleep = sleep
        self._direct_rooms: set[str] = set()
        self._encrypted_rooms: set[str] = set()  # already reported in this run
        self._nio = nio.AsyncClient(
            config.homeserver,
            config.user_id,
            device_id=config.device_id,
            config=nio.AsyncClientConfig(
                # We back off ourselves; nio would otherwise retry forever inside a call.
                max_timeouts=0,
                request_timeout=30,
                store_sync_tokens=False,
                encryption_enabled=False,
            ),
        )

    @property
    def user_id(self) -> str:
        """The bot's user id."""
        return self._config.user_id

    @property
    def access_token(self) -> str | None:
        """The current access token (None before login)."""
        token: str | None = self._nio.access_token or None
        return token

    async def close(self) -> None:
        """Close the HTTP session (the access token stays valid for the next start)."""
        await self._nio.close()

    async def _call(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except _NETWORK_ERRORS as exc:
            raise MatrixError(f"{what}: homeserver unreachable ({type(exc).__name__})", retryable=True) from exc

    # --- login -------------------------------------------------------------------

    async def login(self) -> None:
        """Log in, reusing the saved device and token; retries while the homeserver is down.

        Raises:
            MatrixError: Refused (wrong password, token for another user …).
        """
        backoff = Backoff()
        while True:
            try:
                await self._login_once()
                return
            except MatrixError as exc:
                if not exc.retryable:
                    raise
                delay = backoff.next()
                logger.warning("login failed (%s); retrying in %ss", exc, delay)
                await self._sleep(delay)

    async def _login_once(self) -> None:
        cfg = self._config
        saved = await self._state.session()
        if saved is not None and saved.user_id != cfg.user_id:
            saved = None  # another account is configured now
        if cfg.access_token is not None:
            self._nio.user_id = cfg.user_id
            self._nio.access_token = cfg.access_token.get_secret_value()
            await self._whoami()
            # The configured token stays in the config; keep only the device id.
            await self._state.save_session(Session(cfg.user_id, self._nio.device_id, None))
            return
        device_id = cfg.device_id or (saved.device_id if saved else None)
        if saved is not None and saved.access_token and saved.device_id == device_id and await self._restore(saved):
            return
        assert cfg.password is not None  # config guarantees exactly one credential
        self._nio.device_id = device_id
        password = cfg.password.get_secret_value()
        resp = await self._call("login", lambda: self._nio.login(password, DEVICE_NAME))
        _raise_for(resp, "login")
        await self._state.save_session(Session(cfg.user_id, resp.device_id, resp.access_token))
        logger.info("logged in as device %s", resp.device_id)

    async def _restore(self, saved: Session) -> bool:
        self._nio.user_id = saved.user_id
        self._nio.device_id = saved.device_id
        self._nio.access_token = saved.access_token
        try:
            await self._whoami()
        except MatrixError as exc:
            if exc.retryable:
                raise
            logger.info("saved access token refused (%s); logging in again", exc.errcode)
            self._nio.access_token = ""
            return False
        logger.info("resumed session of device %s", saved.device_id)
        return True

    async def _whoami(self) -> None:
        resp = await self._call("whoami", self._nio.whoami)
        _raise_for(resp, "whoami")
        if resp.user_id != self._config.user_id:
            raise MatrixError("the access token belongs to another user", errcode="M_FORBIDDEN")
        if resp.device_id:
            self._nio.device_id = resp.device_id

    # --- actions -------------------------------------------------------------------

    async def send_text(
        self,
        room_id: str,
        text: str,
        reply_to: str | None = None,
        notice: bool = True,
        txn_id: str | None = None,
    ) -> str:
        """Send ``text`` to ``room_id``.

        Args:
            room_id: Target room.
            text: Plain text.
            reply_to: Event id to reply to.
            notice: ``m.notice`` (default) so other bots do not react to us.
            txn_id: Transaction id; reuse it when retrying the same message so
                the homeserver sends it once.

        Returns:
            The event id.

        Raises:
            MatrixError: Refused, or homeserver unreachable (``retryable``).
        """
        content: dict[str, Any] = {"msgtype": "m.notice" if notice else "m.text", "body": text}
        if reply_to is not None:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        tx = txn_id or f"qunzu-{uuid.uuid4().hex}"
        resp = await self._call("send", lambda: self._nio.room_send(room_id, "m.room.message", content, tx_id=tx))
        _raise_for(resp, "send")
        event_id: str = resp.event_id
        return event_id

    async def join(self, room_id: str) -> str:
        """Join ``room_id`` (id or alias); returns the room id.

        Raises:
            MatrixError: Refused or unreachable.
        """
        resp = await self._call("join", lambda: self._nio.join(room_id))
        _raise_for(resp, "join")
        joined: str = resp.room_id
        return joined

    async def resolve_room(self, room: str) -> str:
        """The room id of ``room`` (an id is returned as is, an alias is resolved).

        Raises:
            MatrixError: Unknown alias or unreachable.
        """
        if room.startswith("!"):
            return room
        resp = await self._call("resolve alias", lambda: self._nio.room_resolve_alias(room))
        _raise_for(resp, "resolve alias")
        room_id: str = resp.room_id
        return room_id

    async def get_state_event(self, room_id: str, event_type: str, state_key: str = "") -> dict[str, Any] | None:
        """One state event of ``room_id`` as JSON (``sender``, ``content`` …), or None when absent.

        The whole event (``format=event``), because from room version 11 the creator
        of a room is only the sender of its create event.

        Raises:
            MatrixError: Refused (not in the room) or unreachable.
        """
        path = nio.Api._build_path(
            ["rooms", room_id, "state", event_type, state_key],
            {"access_token": self._nio.access_token, "format": "event"},
        )

        async def fetch() -> tuple[int, Any]:
            async with await self._nio.send("GET", path) as resp:
                return resp.status, await resp.json(content_type=None)

        status, body = await self._call("get state", fetch)
        if status == 404:
            return None
        if status != 200 or not isinstance(body, dict):
            errcode = body.get("errcode") if isinstance(body, dict) else None
            raise MatrixError(f"get state failed: {errcode or status}", errcode=errcode, retryable=status >= 500)
        if "content" not in body:  # a server that ignores format=event answers the content only
            body = {"content": body}
        return body

    async def redact(self, room_id: str, event_id: str, reason: str | None = None) -> None:
        """Redact ``event_id`` (the bot's power in governed rooms allows it).

        Raises:
            MatrixError: Refused or unreachable.
        """
        resp = await self._call("redact", lambda: self._nio.room_redact(room_id, event_id, reason))
        _raise_for(resp, "redact")

    async def create_private_room(self, alias_localpart: str | None, name: str) -> str:
        """Create an invite-only room (the moderation room when its alias is missing).

        Raises:
            MatrixError: Refused or unreachable.
        """
        resp = await self._call(
            "create room",
            lambda: self._nio.room_create(alias=alias_localpart, name=name, preset=nio.RoomPreset.private_chat),
        )
        _raise_for(resp, "create room")
        room_id: str = resp.room_id
        return room_id

    # --- sync ------------------------------------------------------------------------

    async def sync_loop(self, sink: EventSink, ready: asyncio.Event | None = None) -> None:
        """Sync until cancelled, delivering events to ``sink``.

        Without a saved token the first sync only joins pending invites and
        records where "now" is: messages in it are old and never answered.
        With a saved token it resumes there; the token is saved only after a
        batch was delivered, so a crash replays it (the dispatcher's handled-id
        check stops double answers).

        Args:
            sink: Receives invites, messages, and a call after every sync.
            ready: Set once the first sync of this run was handled.

        Raises:
            MatrixError: A non-retryable sync failure (e.g. the token was revoked
                and there is no password to log in again).
        """
        token = await self._state.sync_token()
        self._direct_rooms = await self._state.direct_rooms()
        backoff = Backoff()
        if token is None:
            resp = await self._sync(backoff, since=None, full_state=False, initial=True)
            for invite in await self._invites(resp):
                await sink.on_invite(invite)
            await self._note_direct_chats(resp)
            token = resp.next_batch
            await self._state.set_sync_token(token)
            logger.info("initial sync done; earlier messages will not be answered")
            first = False  # the initial sync already gave full state
        else:
            first = True  # nio's room list is empty after a restart: ask for full state once
        if ready is not None and not first:
            ready.set()
        while True:
            resp = await self._sync(backoff, since=token, full_state=first)
            await self._deliver(resp, sink)
            token = resp.next_batch
            await self._state.set_sync_token(token)
            if ready is not None and first:
                ready.set()
            first = False
            await sink.on_synced()

    async def _sync(
        self, backoff: Backoff, *, since: str | None, full_state: bool, initial: bool = False
    ) -> nio.SyncResponse:
        while True:
            try:
                # nio drops its HTTP timeout for full-state syncs; a hung
                # connection must still end in a retry.
                limit_s = _FULL_SYNC_LIMIT_S if initial or full_state else SYNC_TIMEOUT_MS / 1000 + _SYNC_GRACE_S
                async with asyncio.timeout(limit_s):
                    resp = await self._nio.sync(
                        timeout=0 if initial else SYNC_TIMEOUT_MS,
                        since=since,
                        full_state=full_state or None,
                        sync_filter=_INITIAL_FILTER if initial else _SYNC_FILTER,
                    )
            except _NETWORK_ERRORS as exc:
                reason = type(exc).__name__
            else:
                if isinstance(resp, nio.SyncResponse):
                    backoff.reset()
                    return resp
                if resp.status_code == "M_UNKNOWN_TOKEN":
                    if self._config.password is None:
                        _raise_for(resp, "sync")
                    logger.warning("access token no longer valid; logging in again")
                    await self._state.save_session(Session(self._config.user_id, self._nio.device_id, None))
                    await self.login()
                    continue
                reason = resp.status_code or "no errcode"
            delay = backoff.next()
            logger.warning("sync failed (%s); retrying in %ss", reason, delay)
            await self._sleep(delay)

    async def _invites(self, resp: nio.SyncResponse) -> list[Invite]:
        invites = []
        for room_id, info in resp.rooms.invite.items():
            sender, is_direct = "", False
            for ev in info.invite_state:
                if getattr(ev, "state_key", None) == self.user_id and hasattr(ev, "membership"):
                    sender = ev.sender
                    is_direct = (getattr(ev, "content", None) or {}).get("is_direct") is True
            if is_direct and room_id not in self._direct_rooms:
                self._direct_rooms.add(room_id)
                await self._state.add_direct_room(room_id)
            invites.append(Invite(room_id=room_id, sender=sender, is_direct=is_direct))
        return invites

    async def _deliver(self, resp: nio.SyncResponse, sink: EventSink) -> None:
        for invite in await self._invites(resp):
            await sink.on_invite(invite)
        on_nudge = getattr(sink, "on_desk_nudge", None)
        if on_nudge is not None and any(
            getattr(ev, "type", None) == DESK_NUDGE_TYPE for ev in getattr(resp, "account_data_events", [])
        ):
            # The module filed a report taken out of a room: the desk looks now, not at its next poll.
            await on_nudge()
        await self._note_direct_chats(resp)
        for room_id, info in resp.rooms.join.items():
            room = self._nio.rooms.get(room_id)
            if room is not None and room.encrypted and room_id not in self._encrypted_rooms:
                # nio tracks m.room.encryption even without encryption support.
                self._encrypted_rooms.add(room_id)
                await sink.on_encrypted_room(EncryptedRoom(room_id, self._is_direct(room_id)))
            events = info.timeline.events
            # After our own join, the timeline also carries history from before
            # it: old commands that are not ours to answer.
            start = 0
            for i, ev in enumerate(events):
                if (
                    isinstance(ev, nio.RoomMemberEvent)
                    and ev.state_key == self.user_id
                    and ev.membership == "join"
                    and ev.prev_membership != "join"
                ):
                    start = i + 1
            on_room_event = getattr(sink, "on_room_event", None)
            for ev in events[start:]:
                try:
                    if isinstance(ev, nio.RoomMessageText):
                        message = self._message(room_id, ev)
                        if message is not None:
                            await sink.on_message(message)
                    elif on_room_event is not None and (room_event := self._room_event(room_id, ev)) is not None:
                        await on_room_event(room_event)
                except Exception:
                    # The boundary of one event: whatever anyone sent, the next events and syncs go on.
                    logger.exception("an event could not be read; skipped (room %s)", room_id)

    async def _note_direct_chats(self, resp: nio.SyncResponse) -> None:
        """Direct chats first seen joined: the module's notice chats, and direct invites accepted for the bot.

        A measure's notice in a notice chat says "reply here with !appeal". A person's direct
        chat may reach this sync already joined, its invite never seen as one: the module's
        event follower joins the service account into rooms it is invited to, and may do so
        before the bot's next sync.
        """
        for room_id, info in resp.rooms.join.items():
            if room_id not in self._direct_rooms and (
                self._opened_as_notice_chat(info) or self._invited_as_direct(info)
            ):
                self._direct_rooms.add(room_id)
                await self._state.add_direct_room(room_id)

    def _invited_as_direct(self, info: Any) -> bool:
        """This account's invite into the room, or the invite its join replaced, was a direct one."""
        for ev in [*info.state, *info.timeline.events]:
            source = ev.source if isinstance(getattr(ev, "source", None), dict) else {}
            if source.get("type") != "m.room.member" or source.get("state_key") != self.user_id:
                continue
            content = source.get("content") or {}
            replaced = (source.get("unsigned") or {}).get("prev_content") or {}
            for member in (content, replaced):
                if member.get("membership") == "invite" and member.get("is_direct") is True:
                    return True
        return False

    def _opened_as_notice_chat(self, info: Any) -> bool:
        """The room was created by this account as a person's notice chat (its create event says so)."""
        for ev in [*info.state, *info.timeline.events]:
            source = ev.source if isinstance(getattr(ev, "source", None), dict) else {}
            if source.get("type") == "m.room.create" and source.get("sender") == self.user_id:
                return bool((source.get("content") or {}).get(NOTICE_CHAT_KEY))
        return False

    def _room_event(self, room_id: str, ev: Any) -> RoomEvent | None:
        # Only what the desk announces: joins of others (welcome) and power-level changes (role labels).
        source = ev.source if isinstance(getattr(ev, "source", None), dict) else {}
        kind = None
        if isinstance(ev, nio.RoomMemberEvent) and ev.state_key != self.user_id:
            if ev.membership == "join" and ev.prev_membership != "join":
                kind = "member_join"
        elif source.get("type") == "m.room.power_levels":
            kind = "power_levels"
        if kind is None:
            return None
        prev = (source.get("unsigned") or {}).get("prev_content")
        return RoomEvent(
            kind=kind,
            room_id=room_id,
            event_id=str(source.get("event_id", "")),
            sender=str(source.get("sender", "")),
            state_key=str(source.get("state_key", "")),
            content=dict(source.get("content") or {}),
            prev_content=dict(prev) if isinstance(prev, dict) else None,
            server_ts=int(source.get("origin_server_ts", 0)),
        )

    def _message(self, room_id: str, ev: Any) -> IncomingMessage | None:
        content = ev.source.get("content") or {}
        # Anyone in a room can send any JSON: a field of the wrong shape counts as absent.
        relates = _object(content.get("m.relates_to"))
        if relates.get("rel_type") == "m.replace":
            return None  # an edit: commands are never re-run by editing them
        reply_to = _object(relates.get("m.in_reply_to")).get("event_id")
        if relates.get("is_falling_back"):
            reply_to = None  # thread fallback, not a real reply
        body: str = ev.body
        formatted: str | None = ev.formatted_body
        if reply_to:
            body = strip_reply_fallback(body)
            if formatted:
                formatted = _MX_REPLY.sub("", formatted, count=1)
        return IncomingMessage(
            room_id=room_id,
            event_id=ev.event_id,
            sender=ev.sender,
            body=body,
            formatted_body=formatted,
            reply_to_event_id=reply_to if isinstance(reply_to, str) else None,
            server_ts=int(ev.server_timestamp),
            is_direct=self._is_direct(room_id),
        )

    def _is_direct(self, room_id: str) -> bool:
        # A direct chat: invited as one, and still just the caller and the bot.
        # Both, because a fresh group of two must not see personal status.
        room = self._nio.rooms.get(room_id)
        return room_id in self._direct_rooms and room is not None and room.member_count <= 2


def _object(value: object) -> dict[str, Any]:
    """A JSON object of an event, or {} for anything else sent in its place."""
    return value if isinstance(value, dict) else {}
