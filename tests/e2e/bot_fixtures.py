"""The real bot in-process against the shared Synapse, and a user's view of the rooms.

Import the fixtures into a test module (pytest registers them under their
`name`, so the imported symbols are never used directly)::

    from .bot_fixtures import (  # noqa: F401  (fixtures)
        bot_fixture, bot_runner_fixture, service_account_fixture, verified_member_fixture,
    )

- `service_account`: credentials of `@qunzu:localhost`, the module's service account.
- `bot_runner` (module): one `BotRunner`, started once per test module and
  stopped after it (so it does not join rooms of other modules' tests); tests
  of restarts stop and start it, and every test that asks for `bot` gets it
  running again.
- `bot`: the running `BotRunner` for one test.
- `verified_member` (module): a verified account with a `UserView` (a nio client and a
  sync loop with deadlines) that reads what the bot answers.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import nio
import pytest
from nio import AsyncClient

from bot.bot import Bot
from bot.commands import Registry
from bot.config import BotConfig
from bot.handlers import builtin_registry
from devtools.homeserver import SERVER_NAME, SERVICE_LOCALPART, Account, HomeserverError, SynapseProcess

from .conftest import SERVICE_PASSWORD as SERVICE_PASSWORD  # re-exported: the bot tests import it from here
from .conftest import fresh_localpart
from .identities import verify

SERVICE_USER_ID = f"@{SERVICE_LOCALPART}:{SERVER_NAME}"
#: How long a test waits for anything the bot or Synapse should do (seconds).
WAIT_S = 20.0

T = TypeVar("T")


# --- the service account and the bot ------------------------------------------------


async def _admin_login_as(synapse: SynapseProcess, user_id: str) -> str:
    """A new access token for `user_id` via the admin API (the password is someone else's)."""
    admin = synapse.register(fresh_localpart("botadmin"), admin=True)
    url = f"{synapse.base_url}/_synapse/admin/v1/users/{user_id}/login"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json={}, headers={"Authorization": f"Bearer {admin.access_token}"}) as response,
    ):
        body = await response.json()
        assert response.status == 200, f"admin login as {user_id}: {response.status} {body}"
        return str(body["access_token"])


@pytest.fixture(name="service_account", scope="session")
async def service_account_fixture(synapse: SynapseProcess) -> dict[str, str]:
    """Bot credentials for the service account: `{"password": …}` or `{"access_token": …}`."""
    try:
        synapse.ensure_account(SERVICE_LOCALPART, SERVICE_PASSWORD)
    except HomeserverError:
        # Registered earlier in this session by a test with another password.
        return {"access_token": await _admin_login_as(synapse, SERVICE_USER_ID)}
    return {"password": SERVICE_PASSWORD}


class BotRunner:
    """Runs the real `bot.bot.Bot` in this event loop; restartable.

    Args:
        synapse: The homeserver.
        credentials: `password` or `access_token` of the service account.
        directory: Where state databases go.

    Attributes:
        registry: The bot's commands; shared by every start, so a test may add
            one (`runner.registry.add(CommandSpec(...))`) while it runs.
        state_db: The state database of the current (or next) start.
        bot: The running bot, or None.
    """

    def __init__(
        self,
        synapse: SynapseProcess,
        credentials: dict[str, str],
        directory: Path,
        extra_config: dict[str, Any] | None = None,
    ) -> None:
        self.synapse = synapse
        #: More bot.yaml keys (`moderation_room`, `desk_poll_interval` …); may change between starts.
        self.extra_config: dict[str, Any] = dict(extra_config or {})
        self.registry: Registry = builtin_registry()
        self.user_id = SERVICE_USER_ID
        self._credentials = credentials
        self._dir = directory
        self._generation = itertools.count(1)
        self.state_db = self._new_state_db()
        self.bot: Bot | None = None
        self._task: asyncio.Task[None] | None = None

    def _new_state_db(self) -> Path:
        return self._dir / f"bot-state-{next(self._generation)}.sqlite"

    @property
    def running(self) -> bool:
        """Whether the bot task is alive."""
        return self._task is not None and not self._task.done()

    @property
    def access_token(self) -> str:
        """The running bot's access token (to call the module as the service account)."""
        assert self.bot is not None and self.bot.client is not None
        token = self.bot.client.access_token
        assert token is not None
        return token

    async def start(self, *, fresh_state: bool = False, wait_s: float = 30.0) -> Bot:
        """Start the bot and wait until its first sync was handled.

        Args:
            fresh_state: Use a new, empty state database: a first start, which
                never answers what was sent before it.
            wait_s: Seconds to wait for readiness.
        """
        assert not self.running, "the bot is running already"
        if fresh_state:
            self.state_db = self._new_state_db()
        config = BotConfig.model_validate(
            {
                "homeserver": self.synapse.base_url,
                "user_id": self.user_id,
                "state_db": str(self.state_db),
                "language": "zh-CN",
                **self._credentials,
                **self.extra_config,
            }
        )
        bot = Bot(config, registry=self.registry)
        task = asyncio.create_task(bot.run(), name="e2e-bot")
        ready = asyncio.create_task(bot.ready.wait())
        done, _ = await asyncio.wait({task, ready}, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            if task in done:
                task.result()  # raises what stopped the bot
            await bot.stop()
            await task
            raise AssertionError(f"the bot was not ready within {wait_s:.0f}s")
        self.bot, self._task = bot, task
        return bot

    async def stop(self) -> None:
        """Stop the bot; `Bot.run` must return normally."""
        if self.bot is None or self._task is None:
            return
        bot, task = self.bot, self._task
        self.bot, self._task = None, None
        await bot.stop()
        await task

    async def ensure_running(self) -> None:
        """Start again (same state) if a test left it stopped."""
        if not self.running:
            if self._task is not None:
                await self.stop()
            await self.start()


@pytest.fixture(name="bot_runner", scope="module")
async def bot_runner_fixture(
    synapse: SynapseProcess, service_account: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BotRunner]:
    runner = BotRunner(synapse, service_account, tmp_path_factory.mktemp("bot"))
    await runner.start()
    try:
        yield runner
    finally:
        await runner.stop()


@pytest.fixture(name="bot")
async def bot_fixture(bot_runner: BotRunner) -> BotRunner:
    """The shared bot, running."""
    await bot_runner.ensure_running()
    return bot_runner


# --- a user's view ------------------------------------------------------------------------------

# Enough that no event between two syncs of a test is cut off by a limited timeline.
_SYNC_FILTER: dict[str, Any] = {"room": {"timeline": {"limit": 100}}, "presence": {"not_types": ["*"]}}


class UserView:
    """What one user sees: rooms they make, messages they send, the bot's answers.

    Every wait is a sync loop with a deadline; nothing sleeps a fixed time.
    """

    def __init__(self, account: Account, client: AsyncClient, bot_user_id: str = SERVICE_USER_ID) -> None:
        self.account = account
        self.client = client
        self.bot_user_id = bot_user_id
        #: Timeline events (raw JSON) by room, in order.
        self.timeline: dict[str, list[dict[str, Any]]] = {}
        #: The user's verification chat with the bot (one open at a time, like a client reuses its DM).
        self.bot_chat: str | None = None

    @property
    def user_id(self) -> str:
        """The user's id."""
        return self.account.user_id

    async def sync(self, timeout_ms: int = 0) -> None:
        """One sync (long-polling up to `timeout_ms`); new timeline events are kept in `timeline`.

        Rooms the user has left or was removed from count too: a client shows what was said up to
        the removal (a dissolved group's last notice comes just before its members are removed, and
        one sync may bring both).
        """
        resp = await self.client.sync(timeout=timeout_ms, sync_filter=_SYNC_FILTER)
        assert isinstance(resp, nio.SyncResponse), f"sync failed: {resp}"
        for rooms in (resp.rooms.join, resp.rooms.leave):
            for room_id, info in rooms.items():
                self.timeline.setdefault(room_id, []).extend(ev.source for ev in info.timeline.events)

    async def wait_until(self, found: Callable[[], T | None], what: str, wait_s: float = WAIT_S) -> T:
        """Sync until `found()` returns something; fail after `wait_s` seconds naming `what`."""
        deadline = time.monotonic() + wait_s
        while True:
            result = found()
            if result is not None:
                return result
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.user_id} did not see {what} within {wait_s:.0f}s")
            await self.sync(timeout_ms=int(min(left, 5.0) * 1000))

    async def create_room(
        self, *, direct: bool = False, initial_state: list[dict[str, Any]] | None = None, name: str | None = None
    ) -> str:
        """Create a room with the bot invited (as a direct chat if `direct`); wait until it joined.

        A person has one open direct chat with the bot: a second `direct` room is the first one.
        """
        if direct and self.bot_chat is not None:
            return self.bot_chat
        resp = await self.client.room_create(
            name=name,
            is_direct=direct,
            preset=nio.RoomPreset.trusted_private_chat if direct else nio.RoomPreset.private_chat,
            invite=[self.bot_user_id],
            initial_state=initial_state or [],
        )
        assert isinstance(resp, nio.RoomCreateResponse), f"{self.user_id} could not create a room: {resp}"
        await self.wait_until(
            lambda: self.membership(resp.room_id, self.bot_user_id) == "join" or None,
            f"the bot join {resp.room_id}",
        )
        if direct:
            self.bot_chat = str(resp.room_id)
        return str(resp.room_id)

    def membership(self, room_id: str, user_id: str) -> str | None:
        """Latest membership of `user_id` seen in the room's timeline."""
        found = None
        for ev in self.timeline.get(room_id, []):
            if ev.get("type") == "m.room.member" and ev.get("state_key") == user_id:
                found = ev["content"].get("membership")
        return found

    async def send(self, room_id: str, body: str) -> str:
        """Send a text message; returns its event id."""
        resp = await self.client.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": body})
        assert isinstance(resp, nio.RoomSendResponse), f"{self.user_id} could not send {body!r}: {resp}"
        return str(resp.event_id)

    def bot_messages(self, room_id: str) -> list[dict[str, Any]]:
        """Messages the bot sent into the room (seen so far)."""
        return [
            ev
            for ev in self.timeline.get(room_id, [])
            if ev.get("type") == "m.room.message" and ev.get("sender") == self.bot_user_id
        ]

    def replies_to(self, room_id: str, event_id: str) -> list[dict[str, Any]]:
        """The bot's replies to `event_id` (seen so far), as message contents."""
        return [
            ev["content"]
            for ev in self.bot_messages(room_id)
            if (ev["content"].get("m.relates_to") or {}).get("m.in_reply_to", {}).get("event_id") == event_id
        ]

    async def reply_to(self, room_id: str, event_id: str, wait_s: float = WAIT_S) -> str:
        """Wait for the bot's reply to `event_id`; returns its body (it must be an `m.notice`)."""
        content = await self.wait_until(
            lambda: next(iter(self.replies_to(room_id, event_id)), None), f"a reply to {event_id}", wait_s
        )
        assert content["msgtype"] == "m.notice", content
        return str(content["body"])

    async def ask(self, room_id: str, body: str) -> str:
        """Send `body` and return the bot's answer."""
        return await self.reply_to(room_id, await self.send(room_id, body))


@dataclass
class Member:
    """A verified account, its view, and its ID number (to check that it never shows)."""

    view: UserView
    id_number: str


async def new_view(synapse: SynapseProcess, account: Account) -> UserView:
    """A logged-in nio client for `account`, synced once (call `view.client.close()` after)."""
    # Like the bot, no end-to-end encryption: messages stay plain in encrypted rooms.
    client = AsyncClient(synapse.base_url, account.user_id, config=nio.AsyncClientConfig(encryption_enabled=False))
    client.restore_login(account.user_id, account.device_id, account.access_token)
    view = UserView(account, client)
    await view.sync()
    return view


@pytest.fixture(name="verified_member", scope="module")
async def verified_member_fixture(synapse: SynapseProcess) -> AsyncIterator[Member]:
    """A verified account shared by the tests of one module (each makes its own rooms)."""
    account = synapse.register(fresh_localpart("member"))
    async with aiohttp.ClientSession() as session:
        id_number = await verify(session, synapse.base_url, account.access_token)
    view = await new_view(synapse, account)
    try:
        yield Member(view, id_number)
    finally:
        await view.client.close()
