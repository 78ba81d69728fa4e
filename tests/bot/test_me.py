"""``!me``: shows what the module's GET /me returns, in a direct chat only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from bot.dispatcher import Dispatcher
from bot.handlers.me import render_status
from bot.qunzu_api import QunzuApi

from .conftest import ALICE, DM, message

PREFIX = "/_synapse/client/qunzu/v1"


def test_render_known_and_unknown_fields_gracefully():
    data: dict[str, Any] = {
        "user_id": "@alice:localhost",
        "realname": {"verified": True, "name": "张*", "id_number": "1101**********1234"},
        "credit": {"score": 100, "level": "B"},
        "rooms_joined": {"count": 3, "cap": 500},
        "sanctions": [],
        "new_field": None,
    }
    assert render_status(data, "zh-CN") == [
        "账号：@alice:localhost",
        "实名认证：",
        "  已认证：是",
        "  姓名：张*",
        "  证件号：1101**********1234",
        "信用：",
        "  分数：100",
        "  等级：B",
        "已加入的群：3 / 500",
        "生效中的处置：无",
        "new_field：—",
    ]


def test_render_list_of_sanctions_in_english():
    data = {"sanctions": [{"id": 7, "measure": "mute", "until": "2025-01-01", "extra": {"x": 1}}]}
    assert render_status(data, "en") == [
        "Active measures: ",
        "  - Id: 7; Measure: mute; Until: 2025-01-01",
    ]


@pytest.fixture
async def module_api() -> AsyncIterator[QunzuApi]:
    seen: list[str | None] = []

    async def me(request: web.Request) -> web.Response:
        seen.append(request.query.get("user_id"))
        return web.json_response({"user_id": request.query["user_id"], "credit": {"score": 100}})

    app = web.Application()
    app.router.add_get(PREFIX + "/me", me)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    api = QunzuApi(f"http://127.0.0.1:{runner.addresses[0][1]}{PREFIX}", lambda: "t")
    api.seen = seen  # type: ignore[attr-defined]
    yield api
    await api.close()
    await runner.cleanup()


async def test_me_in_a_direct_chat_asks_for_the_sender(client, state, registry, clock, module_api):
    dispatcher = Dispatcher(client=client, state=state, api=module_api, registry=registry, language="en", clock=clock)
    await dispatcher.on_message(message("!me", room_id=DM, is_direct=True))
    assert module_api.seen == [ALICE]
    assert client.texts == ["Your status:\nAccount: @alice:localhost\nCredit: \n  Score: 100"]


async def test_me_when_the_module_is_unreachable(dispatcher, client):
    # The conftest API points at a port where nothing listens.
    await dispatcher.on_message(message("!我的", room_id=DM, is_direct=True))
    assert client.texts == ["The group governance service cannot be reached right now. Please try again later."]
