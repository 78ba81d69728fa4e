"""From delivered events to command handlers, with failures isolated.

The dispatcher ignores the bot's own messages, non-commands, events already
handled (sync can replay after a crash) and, when the bot started without a
sync token, events from before its start. Each command runs in isolation:

- ``UsageError``      → one usage line in the room's language
- ``QunzuApiError``   → the server's own message (already human)
- anything else       → logged with traceback; a short apology in chat
- ``CancelledError``  → always re-raised (shutdown)

so one failing handler never stops the sync loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from bot.commands import CommandSpec, Context, Registry, Scope, direct_chat_meaning, parse_command
from bot.errors import MatrixError, QunzuApiError, UsageError
from bot.events import ChatClient, Clock, EncryptedRoom, IncomingMessage, Invite, RoomEvent, now_ms, system_clock
from bot.messages import t
from bot.qunzu_api import BAD_RESPONSE_ERRCODE, NETWORK_ERRCODE, QunzuApi
from bot.services import Services
from bot.state import BotState
from policies.constants import DEFAULT_LANGUAGE, Language

logger = logging.getLogger(__name__)

#: A handler running longer than this is cancelled and the caller gets the apology.
HANDLER_TIMEOUT_S: Final = 60.0
#: Handled event ids are kept this long (far beyond any sync replay).
HANDLED_RETENTION_S: Final = 7 * 24 * 3600
_PRUNE_EVERY_S: Final = 3600


class Dispatcher:
    """Routes messages to handlers; see the module docstring.

    Args:
        client: Sends replies and joins rooms.
        state: Idempotency and outbox.
        api: Passed to handlers.
        registry: The commands.
        language: Configured language (the language of every room).
        prefix: Command prefix.
        moderation_room_id: Resolved id of the staff moderation room, if any.
        clock: Injectable clock.
        handler_timeout_s: Per-command time limit.
    """

    def __init__(
        self,
        *,
        client: ChatClient,
        state: BotState,
        api: QunzuApi,
        registry: Registry,
        language: Language = DEFAULT_LANGUAGE,
        prefix: str = "!",
        moderation_room_id: str | None = None,
        clock: Clock = system_clock,
        handler_timeout_s: float = HANDLER_TIMEOUT_S,
    ) -> None:
        self.client = client
        self.state = state
        self.api = api
        self.registry = registry
        self.language = language
        self.prefix = prefix
        self.moderation_room_id = moderation_room_id
        self.clock = clock
        self.handler_timeout_s = handler_timeout_s
        #: Events with an earlier server timestamp are ignored (set by the bot
        #: when it started without a sync token: those are old commands).
        self.ignore_before_ms: int | None = None
        self._last_prune_ms = 0
        #: Set by the bot: roles, staff, the room client; None in unit tests.
        self.services: Services | None = None
        #: Reacts to joins and power-level changes (welcome, role labels); set by the bot.
        self.room_event_handler: Callable[[RoomEvent], Awaitable[None]] | None = None

    # --- language and scopes per room ------------------------------------------

    def language_for(self, room_id: str) -> Language:
        """Language of ``room_id``: the configured language (rooms carry none of their own)."""
        return self.language

    async def who_may(self, ctx: Context) -> Scope:
        """The scopes the caller holds in this room.

        ``DM`` in a direct chat; ``MODERATION_ROOM`` in the moderation room, and ``STAFF``
        there for staff (module API); ``ROOM_ADMIN`` in a group room for its creators and
        admins (``policies.roles``). The module refuses a suspended admin's actions itself.
        """
        held = Scope.ANYONE
        if ctx.is_direct:
            held |= Scope.DM
        in_desk = self.moderation_room_id is not None and ctx.room_id == self.moderation_room_id
        if in_desk:
            held |= Scope.MODERATION_ROOM
        services = self.services
        if services is None:
            return held
        # Art. 9: room admins from the room's power levels (a suspended admin is refused by
        # the module when acting, with the end of the suspension); staff only at the desk.
        if not ctx.is_direct and not in_desk and await services.room_role(ctx.room_id, ctx.sender) != "member":
            held |= Scope.ROOM_ADMIN
        if in_desk and await services.is_staff(ctx.sender):
            held |= Scope.STAFF
        return held

    async def may_use(self, ctx: Context, spec: CommandSpec) -> bool:
        """Whether the caller in ``ctx`` holds every scope ``spec`` needs."""
        return not (spec.scope & ~await self.who_may(ctx))

    # --- event entry points ------------------------------------------------------

    async def on_invite(self, invite: Invite) -> None:
        """Join every room the bot is invited to (DESIGN §3.5)."""
        try:
            await self.client.join(invite.room_id)
            logger.info("joined %s after invite", invite.room_id)
        except MatrixError as exc:
            logger.warning("could not join %s: %s", invite.room_id, exc.errcode or exc)

    async def on_message(self, message: IncomingMessage) -> None:
        """Handle one message; never raises except ``CancelledError``."""
        try:
            await self._on_message(message)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Boundary: a broken state db or similar must not stop the sync loop.
            logger.exception("failed to dispatch %s", message.event_id)

    async def on_encrypted_room(self, room: EncryptedRoom) -> None:
        """Say once per room that the bot cannot read it; never raises except ``CancelledError``.

        Without encryption keys the bot does not see encrypted commands. In a
        direct chat it sends one plain notice saying so (best effort: not
        queued, and the user's client may warn that it is unencrypted); in
        other rooms it only logs.
        """
        try:
            if not await self.state.claim_encrypted_room(room.room_id):
                return
            logger.info("room %s is end-to-end encrypted; encrypted commands there are not seen", room.room_id)
            if room.is_direct:
                await self.client.send_text(room.room_id, t("encrypted_dm", self.language_for(room.room_id)))
        except asyncio.CancelledError:
            raise
        except MatrixError as exc:
            logger.info("could not tell %s that it is encrypted: %s", room.room_id, exc.errcode or exc)
        except Exception:
            logger.exception("handling encrypted room %s failed", room.room_id)

    async def on_room_event(self, event: RoomEvent) -> None:
        """A join or a power-level change: welcome and role labels, once; never raises except cancel."""
        try:
            if event.sender == self.client.user_id and event.kind == "member_join":
                return
            if self.room_event_handler is None:
                return
            if self.ignore_before_ms is not None and event.server_ts < self.ignore_before_ms:
                return
            if not event.event_id or not await self.state.claim_event(event.event_id):
                return
            await self.room_event_handler(event)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("handling room event %s failed", event.event_id)

    async def on_desk_nudge(self) -> None:
        """The module filed a report (``DESK_NUDGE_TYPE`` account data): the desk looks at once."""
        if self.services is not None:
            self.services.ticket_filed()

    async def on_synced(self) -> None:
        """After each sync: send queued messages, prune old handled ids now and then.

        Never raises except ``CancelledError``: housekeeping must not stop syncing.
        """
        try:
            await self.flush_outbox()
            now = now_ms(self.clock)
            if now - self._last_prune_ms >= _PRUNE_EVERY_S * 1000:
                self._last_prune_ms = now
                pruned = await self.state.prune_handled(HANDLED_RETENTION_S)
                if pruned:
                    logger.debug("pruned %s handled event ids", pruned)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("housekeeping after sync failed")

    async def _on_message(self, message: IncomingMessage) -> None:
        if message.sender == self.client.user_id:
            return
        if self.ignore_before_ms is not None and message.server_ts < self.ignore_before_ms:
            return
        cmd = parse_command(message.body, self.prefix)
        if cmd is None:
            return
        if not await self.state.claim_event(message.event_id):
            logger.debug("%s already handled", message.event_id)
            return
        language = self.language_for(message.room_id)

        async def reply(text: str) -> None:
            await self.send(message.room_id, text, reply_to=message.event_id)

        spec = self.registry.lookup(cmd.name)
        meaning = direct_chat_meaning(cmd) if message.is_direct else None
        if meaning is not None:
            spec = self.registry.lookup(meaning) or spec
        if spec is None:
            help_spec = self.registry.lookup("help")
            await reply(
                t(
                    "unknown_command",
                    language,
                    command=self.prefix + cmd.name,
                    help=self.prefix + (help_spec.name_in(language) if help_spec else "help"),
                )
            )
            return
        ctx = Context(
            room_id=message.room_id,
            sender=message.sender,
            event_id=message.event_id,
            language=language,
            is_direct=message.is_direct,
            command=cmd,
            spec=spec,
            message=message,
            api=self.api,
            registry=self.registry,
            prefix=self.prefix,
            _reply=reply,
            _may_use=self.may_use,
            services=self.services,
        )
        missing = spec.scope & ~await self.who_may(ctx)
        if missing:
            key = "dm_only" if missing == Scope.DM else "not_allowed"
            await reply(t(key, language, command=self.prefix + cmd.name))
            return
        await self._run(ctx)

    async def _run(self, ctx: Context) -> None:
        name = ctx.spec.name
        try:
            async with asyncio.timeout(self.handler_timeout_s):
                await ctx.spec.handler(ctx)
        except asyncio.CancelledError:
            raise
        except UsageError as exc:
            usage = exc.usage or ctx.spec.usage_in(ctx.language, self.prefix)
            await ctx.reply(ctx.t("usage", usage=usage))
        except QunzuApiError as exc:
            logger.info("command %s refused by the module: %s", name, exc)
            await ctx.reply(self._api_error_text(exc, ctx.language))
        except Exception:
            # Boundary: log everything, show nothing technical in chat.
            logger.exception("command %s failed (event %s)", name, ctx.event_id)
            await ctx.reply(ctx.t("apology"))

    @staticmethod
    def _api_error_text(exc: QunzuApiError, language: Language) -> str:
        # The server's text is in the server's language; our own fallbacks are
        # re-rendered in the room's.
        if exc.errcode == NETWORK_ERRCODE:
            return t("api_unreachable", language)
        if exc.errcode in (BAD_RESPONSE_ERRCODE, "M_UNRECOGNIZED") and exc.reason is None:
            # No usable server text (e.g. the module is not loaded: Synapse's 404).
            return t("api_failed", language, status=exc.status)
        return exc.message

    # --- sending -------------------------------------------------------------------

    async def send(self, room_id: str, text: str, *, reply_to: str | None = None) -> None:
        """Send ``text`` now, or queue it in the outbox when the homeserver is unreachable."""
        try:
            await self.client.send_text(room_id, text, reply_to=reply_to)
        except MatrixError as exc:
            if exc.retryable:
                await self.state.enqueue(room_id, text, reply_to=reply_to)
                logger.info("send to %s failed (%s); queued", room_id, exc.errcode or "network")
            else:
                logger.warning("send to %s failed: %s", room_id, exc.errcode or exc)

    async def flush_outbox(self) -> None:
        """Send queued messages that are due; stop at the first retryable failure."""
        for item in await self.state.due():
            try:
                await self.client.send_text(
                    item.room_id,
                    item.body,
                    reply_to=item.reply_to,
                    notice=item.notice,
                    txn_id=item.txn_id,
                )
            except MatrixError as exc:
                dropped = await self.state.mark_failed(item.id, permanent=not exc.retryable)
                if dropped:
                    logger.warning("dropped queued message %s: %s", item.id, exc.errcode or exc)
                if exc.retryable:
                    return
            else:
                await self.state.mark_sent(item.id)
