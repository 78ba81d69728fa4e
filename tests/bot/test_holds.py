"""``!holds`` ``!release`` ``!reject`` at the desk, against a real local HTTP server standing in for the module.

What staff read in the moderation room, in both languages; what the bot asks the
module (the staff member as `actor`); the module's refusals shown as it words them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from bot.commands import Context, Scope
from bot.dispatcher import Dispatcher
from bot.qunzu_api import QunzuApi

from .conftest import ALICE, NOW_MS, FakeClient, message

PREFIX = "/_synapse/client/qunzu/v1"
DESK_ROOM = "!desk:localhost"
HOLD = {
    "id": "e7k2m9q4xa",
    "ts": NOW_MS,
    "event_type": "m.room.message",
    "category": "rumor",
    "category_label": "谣言",
    "sender": "@poster:localhost",
    "room_id": "!r:localhost",
    "ticket": "K7Q2MZ4A",
    "status": "held",
}


class Module:
    """The stand-in module: what it answers and what it was asked."""

    def __init__(self) -> None:
        self.holds: list[dict[str, Any]] = [dict(HOLD)]
        self.calls: list[tuple[str, str, Any]] = []


@pytest.fixture
def module() -> Module:
    return Module()


@pytest.fixture
async def api(module: Module) -> AsyncIterator[QunzuApi]:
    async def holds(request: web.Request) -> web.Response:
        module.calls.append(("GET", request.path_qs, None))
        waiting = [h for h in module.holds if h["status"] == "held"]
        return web.json_response({"items": waiting, "next": None})

    async def decide(request: web.Request) -> web.Response:
        body = json.loads(await request.text() or "{}")
        module.calls.append(("POST", request.path, body))
        hold = next((h for h in module.holds if h["id"] == request.match_info["id"]), None)
        if hold is None:
            return web.json_response({"errcode": "M_NOT_FOUND", "error": "没有这条留存记录。"}, status=404)
        if hold["status"] != "held":
            return web.json_response(
                {
                    "errcode": "M_FORBIDDEN",
                    "error": "这条待审内容（e7k2m9q4xa）已经处理过了，不能再次放行或驳回。",
                    "cn.qunzu.reason": "hold_decided",
                },
                status=409,
            )
        released = request.match_info["decision"] == "release"
        hold["status"] = "released" if released else "rejected"
        return web.json_response({**hold, "sender_told": not released})

    app = web.Application()
    app.router.add_get(PREFIX + "/admin/holds", holds)
    app.router.add_post(PREFIX + "/admin/holds/{id}/{decision}", decide)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    client = QunzuApi(f"http://127.0.0.1:{runner.addresses[0][1]}{PREFIX}", lambda: "bot-token", timeout_s=5.0)
    yield client
    await client.close()
    await runner.cleanup()


@pytest.fixture
def desk(dispatcher: Dispatcher) -> Dispatcher:
    async def staff_at_desk(ctx: Context) -> Scope:
        return Scope.ANYONE | Scope.MODERATION_ROOM | Scope.STAFF

    dispatcher.moderation_room_id = DESK_ROOM
    dispatcher.language = "zh-CN"
    dispatcher.who_may = staff_at_desk  # type: ignore[method-assign]
    return dispatcher


async def test_holds_lists_the_waiting_ones_without_content_and_names_a_held_setting(
    desk: Dispatcher, client: FakeClient, module: Module
) -> None:
    module.holds.append({**HOLD, "id": "t0p1cq4xab", "event_type": "m.room.topic", "ticket": "K7Q2MZ4B"})
    await desk.on_message(message("!待审", room_id=DESK_ROOM))
    (text,) = client.texts
    assert text.startswith("待审内容（2）：")
    assert "e7k2m9q4xa｜谣言｜@poster:localhost｜!r:localhost｜" in text and "工单 K7Q2MZ4A" in text
    assert "t0p1cq4xab｜谣言（群设置 m.room.topic）｜@poster:localhost｜!r:localhost｜" in text
    desk.language = "en"
    await desk.on_message(message("!holds", room_id=DESK_ROOM))
    assert "t0p1cq4xab | 谣言 (room setting m.room.topic) | @poster:localhost" in client.texts[-1]


async def test_release_names_the_staff_member_and_a_second_release_shows_the_modules_refusal(
    desk: Dispatcher, client: FakeClient, module: Module
) -> None:
    await desk.on_message(message("!release e7k2m9q4xa", room_id=DESK_ROOM))
    await desk.on_message(message("!放行 e7k2m9q4xa", room_id=DESK_ROOM))
    assert client.texts == [
        "已放行 e7k2m9q4xa：已以 @poster:localhost 的名义发到 !r:localhost。",
        "这条待审内容（e7k2m9q4xa）已经处理过了，不能再次放行或驳回。",
    ]
    assert module.calls[0] == ("POST", PREFIX + "/admin/holds/e7k2m9q4xa/release", {"actor": ALICE})
    await desk.on_message(message("!holds", room_id=DESK_ROOM))
    assert client.texts[-1] == "没有等待审核的内容。"


async def test_reject_passes_the_reason_and_says_the_sender_was_told(
    desk: Dispatcher, client: FakeClient, module: Module
) -> None:
    desk.language = "en"
    await desk.on_message(message("!reject e7k2m9q4xa 经核实为不实信息 请勿转发", room_id=DESK_ROOM))
    assert client.texts == [
        "Rejected e7k2m9q4xa: the message will never be sent; @poster:localhost was told in a direct chat."
    ]
    assert module.calls[0][2] == {"reason": "经核实为不实信息 请勿转发", "actor": ALICE}


@pytest.mark.parametrize(
    ("body", "usage"),
    [
        ("!release", "用法：!放行 <编号>"),
        ("!release a b", "用法：!放行 <编号>"),
        ("!驳回", "用法：!驳回 <编号> [理由]"),
        ("!holds now", "用法：!待审"),
    ],
)
async def test_bad_arguments_get_the_usage_line(desk: Dispatcher, client: FakeClient, body: str, usage: str) -> None:
    await desk.on_message(message(body, room_id=DESK_ROOM))
    assert client.texts == [usage]


async def test_the_commands_are_for_staff_at_the_desk_only(dispatcher: Dispatcher, client: FakeClient) -> None:
    dispatcher.moderation_room_id = DESK_ROOM
    await dispatcher.on_message(message("!release e7k2m9q4xa"))
    assert client.texts == ["You may not use !release here."]
