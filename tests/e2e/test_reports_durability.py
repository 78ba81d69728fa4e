"""The moderation desk through crashes: no ticket lost, no command answered twice (Art. 12).

The crash is the one shared by the tests of what survives one (`after_the_crash`):
before it a member files a report and has a command answered, and the bot stops
(mid-sync, with its state saved); Synapse is then killed with SIGKILL and started
again, and the bot comes back. (The bot reconnecting by itself to a Synapse killed
under it: tests/e2e/test_convention_update.py.)

The bot runs only before the crash and during this test: the other scenarios' rows
must be the newest the module wrote when the server dies (tests/e2e/test_records.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from devtools.homeserver import SynapseProcess

from .bot_fixtures import SERVICE_PASSWORD
from .conftest import Crash
from .desk_fixtures import Desk, Person, close_desk, open_desk, send_as, ticket_where
from .matrix import Matrix

DESK_CONFIG = {"desk_poll_interval": 1}


@dataclass
class BeforeTheCrash:
    """The desk (its bot stopped), the member, their room, their ticket and the command answered."""

    desk: Desk
    member: Person
    room: str
    ticket: dict[str, Any]
    asked: str


@Crash.before("desk")
async def _before_the_desk_crash(server: SynapseProcess, as_user: Callable[..., Matrix]) -> BeforeTheCrash:
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
    directory = server.config_path.parent / "desk-bot"
    directory.mkdir(exist_ok=True)
    desk = await open_desk(server, {"password": SERVICE_PASSWORD}, directory, session, DESK_CONFIG)
    try:
        member = await desk.person()
        room = await member.view.create_room(name="恢复演练")
        status, refused = await send_as(member, room, {"msgtype": "m.text", "body": "!report other 房间里有广告"})
        assert status == 403 and refused["cn.qunzu.reason"] == "report_received", refused
        ticket = await ticket_where(desk, lambda t: t["room_id"] == room and t["event_id"] is None)
        await desk.wait_desk(ticket["id"], "the ticket at the desk")
        asked = await member.view.send(room, "!help")
        await member.view.reply_to(room, asked)
        await desk.bot.stop()
    except BaseException:
        await close_desk(desk)
        await session.close()
        raise
    return BeforeTheCrash(desk, member, room, ticket, asked)


async def test_killing_bot_and_synapse_loses_no_ticket_and_answers_no_command_twice(after_the_crash: Crash) -> None:
    before = after_the_crash.state("desk")
    desk, member, room = before.desk, before.member, before.room
    try:
        # Both were down: the bot comes back to the restarted Synapse.
        await desk.bot.start()
        assert before.ticket["id"] in [t["id"] for t in await desk.tickets(open="true", limit="500")]

        again = await member.view.send(room, "!帮助")
        assert (await member.view.reply_to(room, again, 60)).startswith("你在这里可以使用的命令")

        # Nothing was answered twice, nothing announced twice, and the report is still one ticket.
        await member.view.sync()
        assert len(member.view.replies_to(room, before.asked)) == 1
        assert len(member.view.replies_to(room, again)) == 1
        await desk.wait_desk(before.ticket["id"], "the ticket at the desk")
        assert sum(before.ticket["id"] in body and "新工单" in body for body in desk.desk_messages()) == 1
        assert len([t for t in await desk.tickets(limit="500") if t["room_id"] == room]) == 1
    finally:
        await close_desk(desk)
        await desk.session.close()
