"""The bot: config → state → client → API → dispatcher, and its lifecycle.

In-process use (tests, the e2e harness)::

    bot = Bot(config)
    bot.registry.add(CommandSpec("boom", handler=boom))   # optional extra commands
    task = asyncio.create_task(bot.run())
    await asyncio.wait_for(bot.ready.wait(), 30)           # first sync handled
    ...
    await bot.stop()                                        # run() returns normally
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Final, Protocol

from bot.commands import Registry
from bot.config import BotConfig
from bot.desk import Desk
from bot.dispatcher import Dispatcher
from bot.errors import MatrixError
from bot.events import ChatClient, Clock, EventSink, now_ms, system_clock
from bot.handlers import builtin_registry
from bot.qunzu_api import QunzuApi
from bot.room_notices import RoomNotices
from bot.services import RoomClient, Services
from bot.state import BotState

logger = logging.getLogger(__name__)

#: Without a sync token, messages older than start minus this are old commands.
START_GRACE_S: Final = 30.0


class BotClient(ChatClient, Protocol):
    """What :class:`Bot` needs from the Matrix client (``bot.client.MatrixClient``)."""

    @property
    def access_token(self) -> str | None:
        """Current access token."""
        ...

    async def login(self) -> None:
        """Log in (or resume the saved session)."""
        ...

    async def resolve_room(self, room: str) -> str:
        """Room id of a room id or alias."""
        ...

    async def sync_loop(self, sink: EventSink, ready: asyncio.Event | None = None) -> None:
        """Sync until cancelled."""
        ...

    async def close(self) -> None:
        """Release network resources."""
        ...


ClientFactory = Callable[[BotConfig, BotState], BotClient]


def _matrix_client(config: BotConfig, state: BotState) -> BotClient:
    # Imported here so that importing bot.bot does not pull in nio for tests
    # that bring their own client.
    from bot.client import MatrixClient

    return MatrixClient(config, state)


class Bot:
    """One bot process.

    Args:
        config: Validated configuration.
        registry: Commands to serve; default: a fresh copy of the built-ins, so
            ``bot.registry.add(...)`` never leaks into other bots.
        client_factory: Builds the Matrix client from config and state
            (default: :class:`bot.client.MatrixClient`).
        api: Module API client (default: one for ``config.api_url`` using the
            bot's access token).
        clock: Injectable clock.

    Attributes:
        ready: Set once logged in and the first sync was handled.
        state, client, dispatcher: Available while running (for tests).
    """

    def __init__(
        self,
        config: BotConfig,
        *,
        registry: Registry | None = None,
        client_factory: ClientFactory = _matrix_client,
        api: QunzuApi | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.config = config
        self.registry = registry if registry is not None else builtin_registry()
        self.ready = asyncio.Event()
        self.state: BotState | None = None
        self.client: BotClient | None = None
        self.dispatcher: Dispatcher | None = None
        #: The moderation desk while it runs (None without a moderation room).
        self.desk: Desk | None = None
        self._client_factory = client_factory
        self._api = api
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def run(self) -> None:
        """Run until :meth:`stop` (returns normally) or a fatal error (raised).

        Raises:
            StateError: The state database cannot be used.
            MatrixError: Login refused, or the session was lost without a password.
        """
        if self._task is not None:
            raise RuntimeError("Bot.run() is already running")
        self._stopping = False
        self.ready.clear()
        self._task = asyncio.create_task(self._serve(), name="qunzu-bot")
        try:
            await self._task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            # Swallow only the cancellation stop() caused, never our caller's.
            if not self._stopping or (current is not None and current.cancelling()):
                raise
        finally:
            self._task = None
        logger.info("bot stopped")

    async def stop(self) -> None:
        """Stop syncing, close client, API and state; :meth:`run` then returns."""
        self._stopping = True
        task = self._task
        if task is None or task.done():
            return
        task.cancel()
        # Wait for the cleanup in _serve; its outcome is reported by run().
        await asyncio.wait([task])

    async def _serve(self) -> None:
        state = await BotState.open(self.config.state_db, self._clock)
        self.state = state
        try:
            client = self._client_factory(self.config, state)
            self.client = client
            api = self._api or QunzuApi(self.config.api_url, lambda: client.access_token, language=self.config.language)
            try:
                await client.login()
                dispatcher = Dispatcher(
                    client=client,
                    state=state,
                    api=api,
                    registry=self.registry,
                    language=self.config.language,
                    prefix=self.config.command_prefix,
                    moderation_room_id=await self._moderation_room(client),
                    clock=self._clock,
                )
                if await state.sync_token() is None:
                    dispatcher.ignore_before_ms = now_ms(self._clock) - int(START_GRACE_S * 1000)
                self.dispatcher = dispatcher
                desk = self.desk = await self._wire_desk(client, api, state, dispatcher)
                logger.info("bot started; %s commands", len(self.registry))
                try:
                    await client.sync_loop(dispatcher, self.ready)
                finally:
                    if desk is not None:
                        await desk.stop()
                    self.desk = None
            finally:
                await client.close()
                if self._api is None:
                    await api.close()
        finally:
            await state.close()
            self.state = None

    async def _wire_desk(
        self, client: BotClient, api: QunzuApi, state: BotState, dispatcher: Dispatcher
    ) -> Desk | None:
        """Room roles and staff for commands, welcome and role notices, the moderation desk.

        Needs a client with room state and redactions (``bot.client.MatrixClient``);
        stand-in clients of unit tests without them get commands only, without these.
        """
        if not hasattr(client, "get_state_event") or not hasattr(client, "redact"):
            return None
        room_client: RoomClient = client  # type: ignore[assignment]

        async def send(room_id: str, text: str) -> None:
            await dispatcher.send(room_id, text)

        services = Services(room_client, api, send, dispatcher.moderation_room_id)
        dispatcher.services = services
        dispatcher.room_event_handler = RoomNotices(services, self.config.language, await state.direct_rooms())
        if dispatcher.moderation_room_id is None:
            return None
        desk = Desk(
            api=api,
            state=state,
            send=send,
            room_id=dispatcher.moderation_room_id,
            language=self.config.language,
            poll_interval_s=self.config.desk_poll_interval,
            reminder_before_s=self.config.reminder_before,
            digest_time=self.config.digest_time,
            clock=self._clock,
        )
        await desk.start()
        # A report taken out of a room is filed by the module, which rewrites an account data
        # entry of this account (policies.constants.DESK_NUDGE_TYPE): the desk then looks at once.
        services.on_ticket_filed = desk.nudge
        return desk

    async def _moderation_room(self, client: BotClient) -> str | None:
        room = self.config.moderation_room
        if room is None:
            return None
        try:
            try:
                room_id = await client.resolve_room(room)
            except MatrixError as exc:
                # A missing alias on our own server: the bot creates the (invite-only) room;
                # server admins join it with the admin API (docs/bot.md).
                own = room.startswith("#") and room.split(":", 1)[1] == self.config.user_id.split(":", 1)[1]
                create = getattr(client, "create_private_room", None)
                if exc.errcode != "M_NOT_FOUND" or not own or create is None:
                    raise
                room_id = await create(room[1:].split(":", 1)[0], "Qunzu moderation")
                logger.info("created the moderation room %s", room)
            await client.join(room_id)
        except MatrixError as exc:
            # Not fatal: rooms keep being served; staff commands wait for a restart.
            logger.warning("moderation room %s unavailable: %s", room, exc)
            return None
        return room_id
