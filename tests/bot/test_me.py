"""``!me``: shows what the module's GET /me returns, in a direct chat only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from bot.dispatcher import Dispatcher
from bot.handlers.me import render_status
from bot.qunzu_api import QunzuApi
from policies.api import MeStatus

from .conftest import ALICE, DM, message

PREFIX = "/_synapse/client/qunzu/v1"


ME: dict[str, Any] = {
    "user_id": "@alice:localhost",
    "staff": False,
    "exempt": False,
    "verification": {
        "status": "verified",
        "level": 1,
        "provider": "checksum",
        "submitted_at": 1_796_412_539_717,
        "decided_at": 1_796_412_540_000,
        "deactivated_at": None,
        "name": "张*",
        "id_number": "1101**********1234",
    },
    "convention": {"current_version": "2", "accepted": True},
    "blacklisted": False,
    "language": "zh-CN",
    "credit": {"score": 100, "level": "B", "may_create": True, "rooms_owned_cap": 10, "rooms_joined_cap": 500},
    "sanctions": [
        {
            "id": "sn_1",
            "subject": {"type": "room_member", "id": "@alice:localhost"},
            "room_id": "!r:localhost",
            "measure": "mute",
            "reason": "刷屏",
            "end": 1_796_416_139_717,
            "permanent": False,
            "active": True,
        }
    ],
}


def test_me_reads_as_words_without_field_names_raw_values_or_epoch_ms():
    assert render_status(MeStatus.model_validate(ME), "zh-CN") == [
        "账号：@alice:localhost",
        "实名认证：已认证（1 级）",
        "  姓名 张*，证件号 1101**********1234",
        "  提交时间：2026-12-05 03:28（北京时间）",
        "  审核完成：2026-12-05 03:29（北京时间）",
        "平台公约：已同意当前版本（第 2 版）",
        "信用：100 分，等级 B；最多可创建 10 个群、加入 500 个群",
        "生效中的处置：",
        "  - 禁言（仅限群 !r:localhost），至 2026-12-05 04:28（北京时间），原因：刷屏（处置编号 sn_1）",
        "  如有异议，发送 !appeal <理由> 申诉最近的处置，或 !appeal <处置编号> <理由>。",
    ]
    shown = "\n".join(render_status(MeStatus.model_validate(ME), "zh-CN"))
    for raw in ("staff", "exempt", "submitted_at", "verified", "checksum", "1796412539717", "UTC", "mute", "True"):
        assert raw not in shown


def test_an_unverified_person_is_told_what_to_do_in_english():
    data = {
        "user_id": "@bob:localhost",
        "staff": True,
        "verification": {"status": "unverified", "level": 0},
        "convention": {"current_version": "2", "accepted": False},
        "blacklisted": True,
        "credit": {"score": None, "level": None},
        "sanctions": [],
    }
    assert render_status(MeStatus.model_validate(data), "en") == [
        "Account: @bob:localhost",
        "Real-name verification: not verified",
        "  Send !verify for a one-time verification link.",
        "Platform convention: current version (2) not yet accepted; send !rules to read it",
        "Credit: you get a credit score once verified",
        "Measures in force: none",
        "Blacklist: your account is on the blacklist. If you disagree, send !appeal <reasons>.",
        "You are platform staff.",
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
    assert client.texts == ["Your status:\nAccount: @alice:localhost\nCredit: 100 points, level —"]


async def test_me_when_the_module_is_unreachable(dispatcher, client):
    # The conftest API points at a port where nothing listens.
    await dispatcher.on_message(message("!我的", room_id=DM, is_direct=True))
    assert client.texts == ["The group governance service cannot be reached right now. Please try again later."]
