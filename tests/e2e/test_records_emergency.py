"""Emergency handling (Art. 5 应急处置): freezes by room, category and server, and lifting them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp

from devtools.homeserver import SERVER_NAME, SERVICE_LOCALPART, SynapseProcess

from .conftest import SERVICE_PASSWORD, fresh_localpart
from .matrix import Matrix
from .test_records import eventually


async def freeze(staff: Matrix, scope: str, reason: str = "应急演练") -> dict[str, Any]:
    status, reply = await staff.qunzu("POST", "/admin/emergency", {"scope": scope, "reason": reason})
    assert status == 200, reply
    return reply


async def lift(staff: Matrix, freeze_id: str) -> None:
    status, reply = await staff.qunzu("DELETE", f"/admin/emergency/{freeze_id}", {"reason": "处置结束"})
    assert status == 200, reply
    assert reply["active"] is False


def refused_for_emergency(reply: tuple[int, dict[str, Any]]) -> bool:
    status, body = reply
    return status == 403 and body.get("cn.qunzu.reason") == "emergency_freeze"


async def test_a_room_freeze_refuses_posts_only_in_that_room_until_lifted(
    synapse: SynapseProcess, staff: Matrix, as_user: Callable[..., Matrix]
) -> None:
    host = as_user(synapse.register(fresh_localpart("host")))
    assert (await host.verify())[0] == 200
    frozen_room = await host.new_room(name="冻结的群")
    other_room = await host.new_room(name="正常的群")

    record = await freeze(staff, f"room:{frozen_room}")
    assert record["active"] is True and record["scope"] == f"room:{frozen_room}"
    status, refused = await host.send_text(frozen_room, "还能发吗")
    assert refused_for_emergency((status, refused)), refused
    assert "应急处置" in refused["error"]
    assert (await host.send_text(other_room, "这里照常"))[0] == 200
    # Staff are not frozen: they must be able to speak during an emergency.
    assert (await staff.join(frozen_room))[0] in (200, 403)

    status, listing = await staff.qunzu("GET", "/admin/emergency")
    assert status == 200 and record["id"] in {f["id"] for f in listing["active"]}

    await lift(staff, record["id"])
    assert (await host.send_text(frozen_room, "恢复了"))[0] == 200
    status, again = await staff.qunzu("DELETE", f"/admin/emergency/{record['id']}", {})
    assert status == 404 and again["errcode"] == "M_NOT_FOUND"

    status, audit = await staff.qunzu("GET", f"/admin/audit?subject={quote('room:' + frozen_room)}")
    actions = [entry["action"] for entry in audit["entries"]]
    assert "emergency.freeze" in actions and "emergency.lift" in actions


async def test_bad_freeze_requests_are_400s(staff: Matrix, member: Matrix) -> None:
    for body in ({"scope": "everything", "reason": "x"}, {"scope": "category:nope", "reason": "x"}, {"scope": "all"}):
        status, reply = await staff.qunzu("POST", "/admin/emergency", body)
        assert status == 400, (body, reply)
    status, reply = await member.qunzu("POST", "/admin/emergency", {"scope": "all", "reason": "x"})
    assert status == 403


async def room_messages(user: Matrix, room_id: str) -> list[dict[str, Any]]:
    status, reply = await user.call("GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/messages?dir=b&limit=50")
    assert status == 200, reply
    return list(reply["chunk"])


async def test_category_and_server_freezes_with_notices_in_the_rooms(
    restartable: SynapseProcess, http_session: aiohttp.ClientSession
) -> None:
    # Freezes of a category and of everything: a server other than the shared `synapse`.
    server = restartable
    server.ensure_account(SERVICE_LOCALPART, SERVICE_PASSWORD)  # the bot's account: it posts the notices
    staff = Matrix(http_session, server.base_url, server.register(fresh_localpart("staff"), admin=True))
    host = Matrix(http_session, server.base_url, server.register(fresh_localpart("host")))
    assert (await host.verify())[0] == 200
    study = await host.new_room(name="学习群", creation_content={"cn.qunzu.category": "study"})
    work = await host.new_room(name="工作群", creation_content={"cn.qunzu.category": "work"})

    by_category = await freeze(staff, "category:study")
    started = time.monotonic()
    assert refused_for_emergency(await host.send_text(study, "学习"))
    assert time.monotonic() - started < 1.0  # effective at once (Art. 5)
    assert (await host.send_text(work, "工作照常"))[0] == 200

    service = f"@{SERVICE_LOCALPART}:{SERVER_NAME}"

    async def notice_in(room_id: str, text: str) -> dict[str, Any] | None:
        for event in await room_messages(host, room_id):
            content = event.get("content", {})
            if event["sender"] == service and content.get("cn.qunzu.emergency") and text in content.get("body", ""):
                return event
        return None

    async def study_notice() -> dict[str, Any] | None:
        return await notice_in(study, "暂停发言")

    notice = await eventually(study_notice, "the freeze notice in the study room")
    assert notice["content"]["msgtype"] == "m.notice"
    assert await notice_in(work, "暂停发言") is None

    await lift(staff, by_category["id"])
    assert (await host.send_text(study, "恢复学习"))[0] == 200

    async def lift_notice() -> dict[str, Any] | None:
        return await notice_in(study, "已恢复正常")

    await eventually(lift_notice, "the lift notice")

    everything = await freeze(staff, "all")
    assert refused_for_emergency(await host.send_text(study, "全平台"))
    assert refused_for_emergency(await host.send_text(work, "全平台"))
    # A room created during the freeze is frozen too (creation itself is a decision of the groups policy).
    fresh = await host.new_room(name="新群")
    assert refused_for_emergency(await host.send_text(fresh, "新群发言"))
    assert (await staff.send_text(work, "工作人员通知"))[0] in (200, 403)
    await lift(staff, everything["id"])
    assert (await host.send_text(work, "全部恢复"))[0] == 200
