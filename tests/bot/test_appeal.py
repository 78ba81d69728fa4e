"""``!appeal`` / ``!申诉`` (direct chat): with a reference, or the caller's latest decision without one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from bot.dispatcher import Dispatcher
from bot.qunzu_api import QunzuApi

from .conftest import ALICE, DM, message

PREFIX = "/_synapse/client/qunzu/v1"
RECEIVED = "已收到你对处理 sn_1 的申诉（申诉编号 ap_1），工作人员会尽快复核并告知结果。"


@pytest.fixture
async def appeals() -> AsyncIterator[tuple[QunzuApi, list[Any]]]:
    """A module stand-in answering `POST /appeals` and recording each body."""
    seen: list[Any] = []

    async def handler(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append(body)
        if body.get("ref") == "sn_unknown":
            error = "没有编号为 sn_unknown 的、针对你的处置或被拦截的消息。"
            return web.json_response({"errcode": "M_NOT_FOUND", "error": error}, status=404)
        return web.json_response({"id": "ap_1", "message": RECEIVED})

    app = web.Application()
    app.router.add_post(PREFIX + "/appeals", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    api = QunzuApi(f"http://127.0.0.1:{runner.addresses[0][1]}{PREFIX}", lambda: "bot-token")
    yield api, seen
    await api.close()
    await runner.cleanup()


def _dispatcher(client, state, registry, clock, api, language) -> Dispatcher:
    return Dispatcher(client=client, state=state, api=api, registry=registry, language=language, clock=clock)


async def test_appeal_without_a_reference_appeals_the_latest_decision(client, state, registry, clock, appeals):
    api, seen = appeals
    dispatcher = _dispatcher(client, state, registry, clock, api, "zh-CN")
    await dispatcher.on_message(message("!申诉 我没有发广告，请复核", room_id=DM, is_direct=True))
    assert seen == [{"text": "我没有发广告，请复核", "appellant": ALICE}]
    assert client.texts == [RECEIVED]


@pytest.mark.parametrize("ref", ["sn_1a2b", "cb_0011aa"])
async def test_appeal_with_a_reference_names_it(client, state, registry, clock, appeals, ref):
    api, seen = appeals
    dispatcher = _dispatcher(client, state, registry, clock, api, "en")
    await dispatcher.on_message(message(f"!appeal {ref} it was a quote, please review", room_id=DM, is_direct=True))
    assert seen == [{"text": "it was a quote, please review", "appellant": ALICE, "ref": ref}]


async def test_the_modules_refusal_is_shown_as_it_is(client, state, registry, clock, appeals):
    api, _ = appeals
    dispatcher = _dispatcher(client, state, registry, clock, api, "zh-CN")
    await dispatcher.on_message(message("!appeal sn_unknown 请复核", room_id=DM, is_direct=True))
    assert client.texts == ["没有编号为 sn_unknown 的、针对你的处置或被拦截的消息。"]


@pytest.mark.parametrize(
    ("language", "body", "expected"),
    [
        (
            "zh-CN",
            "!申诉",
            "用法：!申诉 [编号] <理由>\n不写编号则申诉你最近的一项处置或被拦截的消息；"
            "编号见处置通知或拒绝提示（以 sn_、rm_ 或 cb_ 开头）。例如：!申诉 我没有发广告，请复核",
        ),
        (
            "zh-CN",
            "!申诉 sn_1",
            "用法：!申诉 [编号] <理由>\n不写编号则申诉你最近的一项处置或被拦截的消息；"
            "编号见处置通知或拒绝提示（以 sn_、rm_ 或 cb_ 开头）。例如：!申诉 我没有发广告，请复核",
        ),
        (
            "en",
            "!appeal cb_1",
            "Usage: !appeal [reference] <reasons>\nWithout a reference your latest measure or refused message is "
            "appealed; the reference is in the notice or the refusal (it starts with sn_, rm_ or cb_). "
            "Example: !appeal I did not advertise, please review",
        ),
    ],
)
async def test_bad_input_gets_the_usage_in_both_languages(
    client, state, registry, clock, appeals, language, body, expected
):
    api, seen = appeals
    dispatcher = _dispatcher(client, state, registry, clock, api, language)
    await dispatcher.on_message(message(body, room_id=DM, is_direct=True))
    assert seen == []
    assert client.texts == [expected]
