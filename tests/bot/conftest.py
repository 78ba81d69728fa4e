"""Fixtures of the bot tests: a real state database in tmp_path, a real API
client, and a fake Matrix client with the small interface of bot.client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from bot.commands import Registry
from bot.dispatcher import Dispatcher
from bot.errors import MatrixError
from bot.events import IncomingMessage
from bot.handlers import builtin_registry
from bot.qunzu_api import QunzuApi
from bot.state import BotState

BOT = "@qunzu:localhost"
ALICE = "@alice:localhost"
ROOM = "!room:localhost"
DM = "!dm:localhost"
NOW_MS = 1_700_000_000_000


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, now: float = NOW_MS / 1000) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Sent:
    room_id: str
    text: str
    reply_to: str | None
    notice: bool
    txn_id: str | None


@dataclass
class FakeClient:
    """Records what the dispatcher sends; ``fail_with`` makes sends fail."""

    user_id: str = BOT
    sent: list[Sent] = field(default_factory=list)
    joined: list[str] = field(default_factory=list)
    fail_with: MatrixError | None = None

    async def send_text(
        self,
        room_id: str,
        text: str,
        reply_to: str | None = None,
        notice: bool = True,
        txn_id: str | None = None,
    ) -> str:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(Sent(room_id, text, reply_to, notice, txn_id))
        return f"$sent{len(self.sent)}"

    async def join(self, room_id: str) -> str:
        if self.fail_with is not None:
            raise self.fail_with
        self.joined.append(room_id)
        return room_id

    @property
    def texts(self) -> list[str]:
        return [s.text for s in self.sent]


_counter = 0


def message(
    body: str,
    *,
    room_id: str = ROOM,
    sender: str = ALICE,
    event_id: str | None = None,
    is_direct: bool = False,
    server_ts: int = NOW_MS,
) -> IncomingMessage:
    """An incoming text message with a fresh event id unless one is given."""
    global _counter
    _counter += 1
    return IncomingMessage(
        room_id=room_id,
        event_id=event_id or f"$ev{_counter}",
        sender=sender,
        body=body,
        formatted_body=None,
        reply_to_event_id=None,
        server_ts=server_ts,
        is_direct=is_direct,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def state(tmp_path, clock) -> AsyncIterator[BotState]:
    st = await BotState.open(tmp_path / "state.sqlite", clock)
    yield st
    await st.close()


@pytest.fixture
async def api() -> AsyncIterator[QunzuApi]:
    # Nothing listens on port 9 (discard): tests that reach the API use their own server.
    client = QunzuApi("http://127.0.0.1:9/_synapse/client/qunzu/v1", lambda: "token")
    yield client
    await client.close()


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


@pytest.fixture
def registry() -> Registry:
    return builtin_registry()


@pytest.fixture
def dispatcher(client, state, api, registry, clock) -> Dispatcher:
    return Dispatcher(client=client, state=state, api=api, registry=registry, language="en", clock=clock)
