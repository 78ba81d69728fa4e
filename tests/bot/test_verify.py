"""``!verify`` / ``!实名``: a one-time link, its expiry in Beijing time, in a direct chat only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from bot.dispatcher import Dispatcher
from bot.messages import china_time
from bot.qunzu_api import QunzuApi

from .conftest import ALICE, DM, message

PREFIX = "/_synapse/client/qunzu/v1"
# 2023-11-14 22:13:20 UTC is 2023-11-15 06:13 in Beijing.
EXPIRES_MS = 1_700_000_000_000


@pytest.fixture
async def links() -> AsyncIterator[tuple[QunzuApi, list[Any], list[web.Response]]]:
    """A module stand-in; tests put the answer they want into the third list."""
    seen: list[Any] = []
    answers: list[web.Response] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(await request.json())
        return answers.pop(0)

    app = web.Application()
    app.router.add_post(PREFIX + "/admin/realname/links", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    api = QunzuApi(f"http://127.0.0.1:{runner.addresses[0][1]}{PREFIX}", lambda: "bot-token")
    yield api, seen, answers
    await api.close()
    await runner.cleanup()


def _dispatcher(client, state, registry, clock, api, language) -> Dispatcher:
    return Dispatcher(client=client, state=state, api=api, registry=registry, language=language, clock=clock)


def test_china_time_reads_as_beijing_time_in_both_languages():
    assert china_time(EXPIRES_MS, "zh-CN") == "2023-11-15 06:13（北京时间）"
    assert china_time(EXPIRES_MS, "en") == "2023-11-15 06:13 (Beijing time)"


async def test_verify_in_a_direct_chat_sends_the_link_with_expiry_and_purpose(client, state, registry, clock, links):
    api, seen, answers = links
    answers.append(web.json_response({"url": "https://hs.example/form?t=one", "expires_at": EXPIRES_MS}))
    dispatcher = _dispatcher(client, state, registry, clock, api, "zh-CN")
    await dispatcher.on_message(message("!实名", room_id=DM, is_direct=True))
    assert seen == [{"user_id": ALICE}]
    [reply] = client.sent
    assert reply.room_id == DM
    assert reply.text.splitlines() == [
        "你的一次性实名认证链接（只能由你本人使用一次，请勿转发）：",
        "https://hs.example/form?t=one",
        "有效期至 2023-11-15 06:13（北京时间）。过期后请重新发送 !实名。",
        "本平台实行“后台实名、前台自愿”：你提交的姓名和证件号码只用于法律要求的核验，"
        "加密保存，不会向其他用户显示；你的昵称不受影响。",
    ]


async def test_verify_in_english_without_a_known_expiry(client, state, registry, clock, links):
    api, _, answers = links
    answers.append(web.json_response({"url": "https://hs.example/form?t=two"}))
    await _dispatcher(client, state, registry, clock, api, "en").on_message(
        message("!verify", room_id=DM, is_direct=True)
    )
    lines = client.sent[0].text.splitlines()
    assert lines[:2] == [
        "Your one-time real-name verification link (it works once, for you only; do not share it):",
        "https://hs.example/form?t=two",
    ]
    assert lines[2].startswith("Real names are checked in the background only")
    assert len(lines) == 3


async def test_verify_when_already_verified_shows_the_servers_message(client, state, registry, clock, links):
    api, _, answers = links
    answers.append(
        web.json_response(
            {"errcode": "M_FORBIDDEN", "error": "你已完成实名认证，无需再次认证。", "cn.qunzu.reason": "already"},
            status=409,
        )
    )
    await _dispatcher(client, state, registry, clock, api, "zh-CN").on_message(
        message("!verify", room_id=DM, is_direct=True)
    )
    assert client.texts == ["你已完成实名认证，无需再次认证。"]


async def test_verify_in_a_group_room_points_to_the_direct_chat_and_asks_nothing(client, state, registry, clock, links):
    api, seen, _ = links
    await _dispatcher(client, state, registry, clock, api, "zh-CN").on_message(message("!实名"))
    assert client.texts == ["!实名 只能在与我的私聊中使用。"]
    assert seen == []


async def test_help_in_a_direct_chat_lists_verify(dispatcher, client):
    await dispatcher.on_message(message("!help", room_id=DM, is_direct=True))
    assert "!verify · !实名 — get a one-time link to verify your real name (direct chat)" in client.sent[0].text
