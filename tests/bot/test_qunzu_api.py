"""QunzuApi against a real local HTTP server speaking the §3.3 error form."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bot.errors import QunzuApiError
from bot.qunzu_api import BAD_RESPONSE_ERRCODE, NETWORK_ERRCODE, QunzuApi, RealnameLink, path_segment
from policies.api import ResolutionSanction, SubjectRef

PREFIX = "/_synapse/client/qunzu/v1"


async def _me(request: web.Request) -> web.Response:
    if request.headers.get("Authorization") != "Bearer bot-token":
        return web.json_response({"errcode": "M_UNKNOWN_TOKEN", "error": "bad token"}, status=401)
    user = request.query.get("user_id", "@qunzu:localhost")
    return web.json_response({"user_id": user, "credit": {"score": 100, "level": "B"}})


async def _refuse(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "errcode": "M_FORBIDDEN",
            "error": "你已加入 500 个群，达到上限。",
            "cn.qunzu.reason": "join_limit",
            "cn.qunzu.detail": {"cap": 500, "count": 500},
        },
        status=403,
    )


async def _html_500(request: web.Request) -> web.Response:
    return web.Response(text="<html>Internal Server Error</html>", status=500, content_type="text/html")


async def _list(request: web.Request) -> web.Response:
    return web.json_response([1, 2, 3])


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(1)
    return web.json_response({})


async def _echo(request: web.Request) -> web.Response:
    return web.json_response({"path": request.match_info["target"], "body": await request.json()})


@pytest.fixture
async def server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get(PREFIX + "/me", _me)
    app.router.add_get(PREFIX + "/refuse", _refuse)
    app.router.add_get(PREFIX + "/html", _html_500)
    app.router.add_get(PREFIX + "/list", _list)
    app.router.add_get(PREFIX + "/slow", _slow)
    app.router.add_post(PREFIX + "/echo/{target}", _echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}{PREFIX}"
    await runner.cleanup()


@pytest.fixture
async def qapi(server) -> AsyncIterator[QunzuApi]:
    api = QunzuApi(server, lambda: "bot-token", language="en", timeout_s=1.0)
    yield api
    await api.close()


async def test_me_as_the_bot_and_on_behalf_of_a_user(qapi):
    assert (await qapi.me()).user_id == "@qunzu:localhost"
    assert (await qapi.me(as_user="@alice:localhost")).user_id == "@alice:localhost"


async def test_refusal_maps_every_field(qapi):
    with pytest.raises(QunzuApiError) as info:
        await qapi._request("GET", "/refuse")
    err = info.value
    assert (err.status, err.errcode, err.reason) == (403, "M_FORBIDDEN", "join_limit")
    assert err.message == "你已加入 500 个群，达到上限。"
    assert err.detail == {"cap": 500, "count": 500}


async def test_error_without_reason(server):
    api = QunzuApi(server, lambda: "wrong", language="en")
    try:
        with pytest.raises(QunzuApiError) as info:
            await api.me()
    finally:
        await api.close()
    assert (info.value.status, info.value.errcode, info.value.reason) == (401, "M_UNKNOWN_TOKEN", None)
    assert info.value.message == "bad token"
    assert info.value.detail == {}


async def test_non_json_error_gets_a_friendly_message(qapi):
    with pytest.raises(QunzuApiError) as info:
        await qapi._request("GET", "/html")
    assert info.value.status == 500
    assert info.value.errcode == BAD_RESPONSE_ERRCODE
    assert info.value.message == "The group governance service failed (500). Please try again later."


async def test_unknown_path_404_is_an_error(qapi):
    with pytest.raises(QunzuApiError) as info:
        await qapi._request("GET", "/nothing-here")
    assert info.value.status == 404


async def test_success_that_is_not_an_object_is_an_error(qapi):
    with pytest.raises(QunzuApiError) as info:
        await qapi._request("GET", "/list")
    assert info.value.errcode == BAD_RESPONSE_ERRCODE


async def test_json_body_and_quoted_path(qapi):
    answer = await qapi._request("POST", "/echo/" + path_segment("!room:localhost"), json={"a": "群"})
    assert answer == {"path": "!room:localhost", "body": {"a": "群"}}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_network_error_is_status_0_with_a_friendly_message():
    api = QunzuApi(f"http://127.0.0.1:{_closed_port()}{PREFIX}", lambda: "t", language="zh-CN")
    try:
        with pytest.raises(QunzuApiError) as info:
            await api.me()
    finally:
        await api.close()
    assert (info.value.status, info.value.errcode) == (0, NETWORK_ERRCODE)
    assert info.value.message == "暂时无法连接群组管理服务，请稍后再试。"


async def test_timeout_is_status_0(server):
    api = QunzuApi(server, lambda: "bot-token", language="en", timeout_s=0.2)
    try:
        with pytest.raises(QunzuApiError) as info:
            await api._request("GET", "/slow")
    finally:
        await api.close()
    assert info.value.status == 0


@pytest.fixture
async def links_server() -> AsyncIterator[tuple[str, list[object]]]:
    """``POST /admin/realname/links``: a link for one user, 409 for a verified one, junk for another."""
    seen: list[object] = []

    async def links(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append((request.headers.get("Authorization"), body))
        if body["user_id"] == "@verified:localhost":
            return web.json_response(
                {"errcode": "M_FORBIDDEN", "error": "你已完成实名认证。", "cn.qunzu.reason": "already_verified"},
                status=409,
            )
        if body["user_id"] == "@junk:localhost":
            return web.json_response({"url": 42, "expires_at": "soon"})
        return web.json_response({"url": "https://hs.example/form?t=abc", "expires_at": 1_700_001_800_000})

    app = web.Application()
    app.router.add_post(PREFIX + "/admin/realname/links", links)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}{PREFIX}", seen
    await runner.cleanup()


async def test_realname_link_asks_for_the_user_with_the_bots_token(links_server):
    url, seen = links_server
    api = QunzuApi(url, lambda: "bot-token", language="en")
    try:
        link = await api.realname_link("@alice:localhost")
    finally:
        await api.close()
    assert link == RealnameLink(url="https://hs.example/form?t=abc", expires_at_ms=1_700_001_800_000)
    assert seen == [("Bearer bot-token", {"user_id": "@alice:localhost"})]


async def test_realname_link_refused_for_a_verified_user_carries_the_servers_text(links_server):
    url, _ = links_server
    api = QunzuApi(url, lambda: "bot-token", language="en")
    try:
        with pytest.raises(QunzuApiError) as info:
            await api.realname_link("@verified:localhost")
    finally:
        await api.close()
    assert (info.value.status, info.value.reason, info.value.message) == (409, "already_verified", "你已完成实名认证。")


async def test_realname_link_without_a_usable_url_is_a_bad_response(links_server):
    url, _ = links_server
    api = QunzuApi(url, lambda: "bot-token", language="en")
    try:
        with pytest.raises(QunzuApiError) as info:
            await api.realname_link("@junk:localhost")
    finally:
        await api.close()
    assert info.value.errcode == BAD_RESPONSE_ERRCODE
    assert info.value.message == "The group governance service failed (200). Please try again later."


@pytest.fixture
async def tickets_server() -> AsyncIterator[tuple[str, list[object]]]:
    """``GET /admin/reports`` and ``POST /admin/reports/{id}/resolve`` answering as a newer module might."""
    seen: list[object] = []
    ticket = {
        "id": "TK1",
        "status": "open",
        "category": "spam",
        "category_label": "垃圾广告",
        "created_ts": 1_700_000_000_000,
        "deadline_ts": 1_700_003_600_000,
        "evidence": {"event_id": "$e", "content_digest": "ab" * 32, "permalink": "https://matrix.to/#/!r/$e"},
        "reporter_count": 2,
        # Fields this bot does not know: a newer module's additions are ignored.
        "escalation": {"level": 2},
        "labels": ["x"],
    }

    async def listing(request: web.Request) -> web.Response:
        if request.query.get("status") == "junk":
            return web.json_response({"tickets": [{"id": "TK2", "status": "open"}]})  # no deadline_ts
        return web.json_response({"tickets": [ticket]})

    async def resolve(request: web.Request) -> web.Response:
        seen.append(await request.json())
        return web.json_response({**ticket, "status": "resolved", "sanction": {"id": "sn_1", "measure": "warning"}})

    app = web.Application()
    app.router.add_get(PREFIX + "/admin/reports", listing)
    app.router.add_post(PREFIX + "/admin/reports/{ticket}/resolve", resolve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}{PREFIX}", seen
    await runner.cleanup()


async def test_tickets_are_typed_records_and_unknown_fields_of_a_newer_module_are_ignored(tickets_server):
    url, _ = tickets_server
    api = QunzuApi(url, lambda: "bot-token", language="en")
    try:
        (ticket,) = await api.tickets(open="true")
    finally:
        await api.close()
    assert (ticket.id, ticket.deadline_ts, ticket.reporter_count, ticket.is_open) == ("TK1", 1_700_003_600_000, 2, True)
    assert ticket.evidence.permalink == "https://matrix.to/#/!r/$e"
    assert ticket.accused is None and ticket.overdue is False


async def test_an_answer_that_does_not_fit_its_record_is_a_bad_response(tickets_server):
    url, _ = tickets_server
    api = QunzuApi(url, lambda: "bot-token", language="en")
    try:
        with pytest.raises(QunzuApiError) as info:
            await api.tickets(status="junk")
    finally:
        await api.close()
    assert info.value.errcode == BAD_RESPONSE_ERRCODE
    assert info.value.message == "The group governance service failed (200). Please try again later."


async def test_resolve_sends_the_shared_request_model_and_reads_the_measure(tickets_server):
    url, seen = tickets_server
    api = QunzuApi(url, lambda: "bot-token", language="en")
    sanction = ResolutionSanction(measure="mute", duration="7d", subject=SubjectRef(type="user", id="@bob:localhost"))
    try:
        answer = await api.resolve("TK1", "@staff:localhost", "resolved", "刷屏", sanction)
    finally:
        await api.close()
    # Absent optional fields are left out, as the module's strict model expects.
    assert seen == [
        {
            "outcome": "resolved",
            "actor": "@staff:localhost",
            "reason": "刷屏",
            "takedown": False,
            "sanction": {"measure": "mute", "duration": "7d", "subject": {"type": "user", "id": "@bob:localhost"}},
        }
    ]
    assert answer.sanction is not None and (answer.sanction.id, answer.sanction.measure) == ("sn_1", "warning")
