"""How soon staff see a report at the moderation desk: real Synapse, module and bot.

What staff notice: a `!report` is in the moderation room before the desk's
poll could have looked (the poll interval is an hour here, so only the
command's nudge can bring it), and a client's report button shows up there
within seconds at the default settings.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import aiohttp
import nio
import pytest

from devtools.homeserver import SynapseProcess

from .bot_fixtures import BotRunner, UserView, new_view, service_account_fixture  # noqa: F401
from .conftest import fresh_localpart
from .identities import verify
from .matrix import Matrix

#: The desk polls this rarely in the first test: after its look at start, only a nudge announces.
NEVER_S = 3600
#: A report button's ticket: the import (every 5 s tick) and the desk's next look (5 s by default),
#: with a wide margin for a loaded 2-core machine.
BUTTON_WAIT_S = 30.0


@dataclass
class Person:
    view: UserView
    api: Matrix

    @property
    def user_id(self) -> str:
        return self.view.user_id


@dataclass
class Desk:
    server: SynapseProcess
    bot: BotRunner
    room_id: str
    staff: Person
    session: aiohttp.ClientSession
    people: list[Person]

    async def person(self) -> Person:
        account = self.server.register(fresh_localpart("d"))
        await verify(self.session, self.server.base_url, account.access_token)
        person = Person(await new_view(self.server, account), Matrix(self.session, self.server.base_url, account))
        self.people.append(person)
        return person

    async def room_with(self, owner: Person, other: Person) -> str:
        room = await owner.view.create_room(name="二手交易")  # the bot is invited and has joined
        status, body = await owner.api.invite(room, other.user_id)
        assert status == 200, body
        status, body = await other.api.join(room)
        assert status == 200, body
        return room

    async def ticket_announced(self, event_id: str, wait_s: float) -> str:
        """The desk's announcement naming the reported event, as staff see it."""

        def found() -> str | None:
            bodies = (str(ev["content"].get("body")) for ev in self.staff.view.bot_messages(self.room_id))
            return next((body for body in bodies if "新工单" in body and event_id in body), None)

        return await self.staff.view.wait_until(found, f"the ticket on {event_id} at the desk", wait_s)


@pytest.fixture(name="desk", scope="module")
async def desk_fixture(
    synapse: SynapseProcess, service_account: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Desk]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        account = synapse.register(fresh_localpart("staff"), admin=True)
        staff = Person(await new_view(synapse, account), Matrix(session, synapse.base_url, account))
        # The module invites the service account into every new room: the bot joins at start.
        room_id = await staff.api.new_room(name="Qunzu moderation", preset="private_chat")
        directory: Path = tmp_path_factory.mktemp("desk-delivery")
        runner = BotRunner(synapse, service_account, directory, extra_config={"moderation_room": room_id})
        desk = Desk(synapse, runner, room_id, staff, session, [])
        try:
            yield desk
        finally:
            await runner.stop()
            for person in [staff, *desk.people]:
                await person.view.client.close()


async def test_a_report_command_reaches_the_moderation_room_before_any_poll_could(desk: Desk) -> None:
    desk.bot.extra_config["desk_poll_interval"] = NEVER_S
    await desk.bot.start()
    try:
        reporter, accused = await desk.person(), await desk.person()
        room = await desk.room_with(reporter, accused)
        message = await accused.view.send(room, "先转账五千元保证金，马上发货")
        content = {
            "msgtype": "m.text",
            "body": "!report fraud 骗钱",
            "m.relates_to": {"m.in_reply_to": {"event_id": message}},
        }
        sent = await reporter.view.client.room_send(room, "m.room.message", content)
        assert isinstance(sent, nio.RoomSendResponse), sent
        # The desk looked once at start, long before this report; its next poll is an hour away.
        announced = await desk.ticket_announced(message, wait_s=20.0)
        assert "诈骗" in announced and accused.user_id in announced and "来源：user_report" in announced
    finally:
        await desk.bot.stop()


async def test_a_client_report_button_reaches_the_moderation_room_within_seconds_by_default(desk: Desk) -> None:
    desk.bot.extra_config.pop("desk_poll_interval", None)  # the default interval, as operators get it
    await desk.bot.start()
    try:
        reporter, accused = await desk.person(), await desk.person()
        room = await desk.room_with(reporter, accused)
        message = await accused.view.send(room, "线上博彩，稳赚不赔")
        path = f"/_matrix/client/v3/rooms/{quote(room)}/report/{quote(message)}"
        reported = time.monotonic()
        status, body = await reporter.api.call("POST", path, {"reason": "赌博广告"})
        assert status == 200, body
        announced = await desk.ticket_announced(message, wait_s=BUTTON_WAIT_S)
        assert "来源：matrix_report" in announced and "赌博" in announced
        assert time.monotonic() - reported < BUTTON_WAIT_S
    finally:
        await desk.bot.stop()
