"""How soon staff see a report at the moderation desk: real Synapse, module and bot.

What staff notice: a `!report` and a client's report button (a terrorism
report here) are in the moderation room before the desk's poll could have
looked (the poll interval is an hour here, so only the module's nudge can
bring them), and a report button shows up there within seconds at the
default settings.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest

from devtools.homeserver import SynapseProcess

from .bot_fixtures import service_account_fixture  # noqa: F401
from .desk_fixtures import Desk, close_desk, open_desk, room_with

#: The desk polls this rarely in the first test: after its look at start, only a nudge announces.
NEVER_S = 3600
#: A report button's ticket at the default settings: the import's short cycle and the nudged desk,
#: with a wide margin for a loaded 2-core machine (the poll alone would also make it).
BUTTON_WAIT_S = 30.0


async def ticket_announced(desk: Desk, event_id: str, wait_s: float) -> str:
    """The desk's announcement naming the reported event, as staff see it."""
    return await desk.wait_desk("新工单", f"the ticket on {event_id} at the desk", wait_s, also=event_id)


@pytest.fixture(name="desk", scope="module")
async def desk_fixture(
    synapse: SynapseProcess, service_account: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Desk]:
    """The desk's bot is configured but not started: each test starts it with the settings it needs."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        directory: Path = tmp_path_factory.mktemp("desk-delivery")
        desk = await open_desk(synapse, service_account, directory, session, start=False)
        try:
            yield desk
        finally:
            await close_desk(desk)


async def test_a_report_command_reaches_the_moderation_room_before_any_poll_could(desk: Desk) -> None:
    desk.bot.extra_config["desk_poll_interval"] = NEVER_S
    await desk.bot.start()
    try:
        reporter, accused = await desk.person(), await desk.person()
        room = await room_with(reporter, accused, name="二手交易")
        message = await accused.view.send(room, "先转账五千元保证金，马上发货")
        content = {
            "msgtype": "m.text",
            "body": "!report fraud 骗钱",
            "m.relates_to": {"m.in_reply_to": {"event_id": message}},
        }
        path = f"/_matrix/client/v3/rooms/{quote(room)}/send/m.room.message/{secrets.token_hex(8)}"
        status, refused = await reporter.api.call("PUT", path, content)
        # The module files it and keeps it out of the room (docs/reports.md); its account data nudges the desk.
        assert status == 403 and refused["cn.qunzu.reason"] == "report_received", refused
        # The desk looked once at start, long before this report; its next poll is an hour away.
        announced = await ticket_announced(desk, message, wait_s=20.0)
        assert "诈骗" in announced and accused.user_id in announced and "来源：成员举报" in announced
    finally:
        await desk.bot.stop()


async def test_a_severe_report_button_reaches_the_moderation_room_by_the_modules_nudge_not_a_poll(
    desk: Desk,
) -> None:
    desk.bot.extra_config["desk_poll_interval"] = NEVER_S
    await desk.bot.start()
    try:
        reporter, accused = await desk.person(), await desk.person()
        room = await room_with(reporter, accused, name="读书会")
        message = await accused.view.send(room, "周六晚上广场见，带上东西")
        path = f"/_matrix/client/v3/rooms/{quote(room)}/report/{quote(message)}"
        status, body = await reporter.api.call("POST", path, {"reason": "宣扬恐怖主义"})
        assert status == 200, body
        # No callback fires on a report button: the module's import finds it and nudges the desk,
        # whose poll is an hour away.
        announced = await ticket_announced(desk, message, wait_s=20.0)
        assert "来源：客户端举报按钮" in announced and "暴恐" in announced and accused.user_id in announced
    finally:
        await desk.bot.stop()


async def test_a_client_report_button_reaches_the_moderation_room_within_seconds_by_default(desk: Desk) -> None:
    desk.bot.extra_config.pop("desk_poll_interval", None)  # the default interval, as operators get it
    await desk.bot.start()
    try:
        reporter, accused = await desk.person(), await desk.person()
        room = await room_with(reporter, accused, name="二手交易")
        message = await accused.view.send(room, "线上博彩，稳赚不赔")
        path = f"/_matrix/client/v3/rooms/{quote(room)}/report/{quote(message)}"
        reported = time.monotonic()
        status, body = await reporter.api.call("POST", path, {"reason": "赌博广告"})
        assert status == 200, body
        announced = await ticket_announced(desk, message, wait_s=BUTTON_WAIT_S)
        assert "来源：客户端举报按钮" in announced and "赌博" in announced
        assert time.monotonic() - reported < BUTTON_WAIT_S
    finally:
        await desk.bot.stop()
