"""People and a moderation desk for the bot's end-to-end tests (reports, desk delivery, commands).

A `Person` is an account with a sync loop (what it sees) and raw API calls as
it; a `Desk` is a server with the bot running its moderation desk and a staff
member sitting at it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import nio

from devtools.homeserver import Account, SynapseProcess

from .bot_fixtures import BotRunner, UserView, new_view
from .conftest import fresh_localpart
from .identities import verify
from .matrix import Matrix
from .sanction_helpers import eventually


@dataclass
class Person:
    """An account, what it sees (a sync loop) and raw API calls as it."""

    view: UserView
    api: Matrix

    @property
    def user_id(self) -> str:
        return self.view.user_id

    async def ask(self, room_id: str, body: str) -> str:
        return await self.view.ask(room_id, body)


async def new_person(server: SynapseProcess, session: aiohttp.ClientSession, account: Account) -> Person:
    return Person(await new_view(server, account), Matrix(session, server.base_url, account))


@dataclass
class Desk:
    """A server with the bot running a moderation desk, and a staff member sitting at it."""

    server: SynapseProcess
    bot: BotRunner
    room_id: str
    staff: Person
    session: aiohttp.ClientSession
    people: list[Person]

    async def person(self, *, verified: bool = True, admin: bool = False) -> Person:
        account = self.server.register(fresh_localpart("p"), admin=admin)
        if verified:
            await verify(self.session, self.server.base_url, account.access_token)
        person = await new_person(self.server, self.session, account)
        self.people.append(person)
        return person

    def desk_messages(self) -> list[str]:
        return [str(ev["content"].get("body")) for ev in self.staff.view.bot_messages(self.room_id)]

    async def wait_desk(self, needle: str, what: str, wait_s: float = 30.0, also: str = "") -> str:
        """The first desk message containing `needle` (and `also`), as staff see it."""
        return await self.staff.view.wait_until(
            lambda: next((body for body in self.desk_messages() if needle in body and also in body), None),
            what,
            wait_s,
        )

    async def tickets(self, **query: str) -> list[dict[str, Any]]:
        path = "/admin/reports" + ("?" + "&".join(f"{k}={quote(v)}" for k, v in query.items()) if query else "")
        status, body = await self.staff.api.qunzu("GET", path)
        assert status == 200, body
        return list(body["tickets"])


async def open_desk(
    server: SynapseProcess,
    credentials: dict[str, str],
    directory: Path,
    session: aiohttp.ClientSession,
    config: dict[str, Any] | None = None,
    *,
    start: bool = True,
) -> Desk:
    """A staff member, a moderation room and the bot configured for it (started unless `start` is False)."""
    staff = await new_person(server, session, server.register(fresh_localpart("staff"), admin=True))
    # The module invites the service account into every new room: the bot joins at start.
    room_id = await staff.api.new_room(name="Qunzu moderation", preset="private_chat")
    runner = BotRunner(server, credentials, directory, extra_config={"moderation_room": room_id, **(config or {})})
    if start:
        await runner.start()
    return Desk(server, runner, room_id, staff, session, [])


async def report_a_message(reporter: Person, accused: Person) -> str:
    """In a room of the two, `accused` writes and `reporter` reports it; returns the ticket's id."""
    room = await room_with(reporter, accused)
    message = await accused.view.send(room, "周末一起去爬山吗")
    status, filed = await reporter.api.qunzu(
        "POST", "/reports", {"room_id": room, "event_id": message, "category": "fraud", "reason": "刷单"}
    )
    assert status == 200, filed
    return str(filed["ticket"])


async def ticket_where(desk: Desk, match: Callable[[dict[str, Any]], bool], wait_s: float = 20.0) -> dict[str, Any]:
    """The first ticket in the desk's queue that `match`es, once there is one."""

    async def probe() -> dict[str, Any] | None:
        return next((t for t in await desk.tickets(limit="200") if match(t)), None)

    return await eventually(probe, wait_s, "the ticket")


async def send_as(person: Person, room: str, content: dict[str, Any], txn: str | None = None) -> tuple[int, Any]:
    """A raw send as `person`, so the refusal's status and text are what the client got."""
    path = f"/_matrix/client/v3/rooms/{quote(room)}/send/m.room.message/{txn or secrets.token_hex(8)}"
    return await person.api.call("PUT", path, content)


async def close_desk(desk: Desk) -> None:
    await desk.bot.stop()
    for person in [desk.staff, *desk.people]:
        await person.view.client.close()


async def room_with(owner: Person, *others: Person, name: str = "群", **create: Any) -> str:
    """A room of `owner` (the bot is invited and joins) that `others` joined."""
    room = await owner.view.create_room(name=name, **create)
    for other in others:
        status, body = await owner.api.invite(room, other.user_id)
        assert status == 200, body
        status, body = await other.api.join(room)
        assert status == 200, body
    return room


async def reply(person: Person, room_id: str, event_id: str, body: str) -> str:
    """Send `body` as a reply to `event_id`; returns the new event's id."""
    content = {"msgtype": "m.text", "body": body, "m.relates_to": {"m.in_reply_to": {"event_id": event_id}}}
    resp = await person.view.client.room_send(room_id, "m.room.message", content)
    assert isinstance(resp, nio.RoomSendResponse), resp
    return str(resp.event_id)
