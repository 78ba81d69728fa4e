"""What a person is told in their bot chat (DESIGN.md §6.3), read as that person from a real Synapse.

Standard clients may show only "Failed" for a refused send, so the refusal is
also told in the person's bot chat, once per reason and room per 10 minutes
(tests/module/test_bot_chat_notices.py moves the clock past the window); a
client's retries of one transaction are one attempt, in the notice and in the
audit log. A group's creator learns the code there; a chat the operator deleted
is replaced by one new chat, however many notices find it gone at once. (The
greeting of a new account: tests/e2e/test_convention_update.py, on a server
that greets as production does.)

The retry tests run on the content server (tests/e2e/content_fixtures.py, shared
with the content tests); the rest on the shared `synapse`.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from devtools.homeserver import SERVER_NAME, SynapseProcess

from .conftest import fresh_localpart
from .content_fixtures import (  # noqa: F401  (fixtures: the content server and its term files)
    BLOCKED,
    HELD,
    content_server_fixture,
    person_fixture,
    poster_fixture,
    session_fixture,
    staff_fixture,
    terms_dir_fixture,
)
from .matrix import Matrix
from .sanction_helpers import eventually, notices, sanction, verified

REFUSED = "【操作未成功】"
# Long enough for a notice that is wrongly sent twice to have arrived.
SETTLE_S = 2.0


async def told(account: Matrix, needle: str, count: int = 1) -> list[str]:
    """The notices in the account's bot chat that contain `needle`, once `count` have arrived."""

    async def probe() -> list[str] | None:
        found = [body for body in await notices(account) if needle in body]
        return found if len(found) >= count else None

    return await eventually(probe, what=f"{count} notice(s) with {needle!r} for {account.user_id}")


async def code_of(account: Matrix, room: str) -> str:
    status, group = await account.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/state/cn.qunzu.group/")
    assert status == 200, group
    return str(group["code"])


async def test_an_unverified_persons_refused_messages_are_told_once_with_the_way_to_verify(
    member: Matrix, synapse: SynapseProcess, as_user: Callable[..., Matrix]
) -> None:
    host = await verified(as_user, synapse, "host")
    room = await host.new_room(name="读书会", preset="public_chat")
    code = await code_of(host, room)
    assert (await member.join(room))[0] == 200
    # Parallel refusals, then more: the person is told once (per reason and room, 10 minutes).
    replies = await asyncio.gather(*(member.send_text(room, f"大家好 {n}") for n in range(6)))
    assert {(status, reply.get("cn.qunzu.reason")) for status, reply in replies} == {(403, "realname_required")}
    assert (await member.send_text(room, "还是不行？"))[0] == 403
    (notice,) = await told(member, REFUSED)
    assert notice.startswith(
        f"{REFUSED}你发送的消息（群组“读书会”，群号 {code}）没有成功，原因如下：\n这项操作需要先完成实名认证"
    )
    assert "请私信机器人发送 !verify，或打开 " in notice
    assert "\n下一步：打开你的专属认证链接完成实名认证（仅限一次，" in notice
    assert f"{synapse.base_url}/_synapse/client/qunzu/v1/realname/form?client_secret=" in notice
    assert notice.endswith("（同一原因在同一处 10 分钟内只提醒一次。）")
    await asyncio.sleep(SETTLE_S)
    assert len([body for body in await notices(member) if REFUSED in body]) == 1

    # Another kind of refusal, elsewhere: a room creation (no room yet), told on its own.
    status, reply = await member.create_room(name="我的群")
    assert status == 403 and reply["cn.qunzu.reason"] == "realname_required"
    (created,) = await told(member, f"{REFUSED}你创建群组没有成功")
    assert "这项操作需要先完成实名认证" in created


async def test_a_groups_creator_is_told_its_code_and_address(
    synapse: SynapseProcess, as_user: Callable[..., Matrix]
) -> None:
    owner = await verified(as_user, synapse, "owner")
    room = await owner.new_room(name="周末徒步")
    code = await code_of(owner, room)
    (notice,) = await told(owner, f"群号：{code}")
    assert notice == (
        f"你创建的群组“周末徒步”已就绪。\n群号：{code}\n群地址：#{code}:{SERVER_NAME}\n"
        "把群号或群地址告诉想加入的人，他们在客户端中加入这个地址即可找到本群。"
    )  # one member: below the size of an info page, so none is named


async def _notice_chats(account: Matrix) -> list[str]:
    """The rooms the account is in that the service account opened as its notice chat."""
    status, joined = await account.call("GET", "/_matrix/client/v3/joined_rooms")
    assert status == 200, joined
    chats = []
    for room in joined["joined_rooms"]:
        status, create = await account.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.create/")
        if status == 200 and create.get("cn.qunzu.notices"):
            chats.append(str(room))
    return chats


async def test_a_notice_chat_the_operator_deleted_is_replaced_by_one_new_chat_that_takes_every_notice(
    synapse: SynapseProcess, as_user: Callable[..., Matrix]
) -> None:
    operator = as_user(synapse.register(fresh_localpart("op"), admin=True))
    person = await verified(as_user, synapse, "gone")
    opening = await sanction(operator, "user", person.user_id, "warning")  # the first notice opens the chat
    await told(person, opening["id"])
    (chat,) = await _notice_chats(person)
    status, deleting = await operator.call("DELETE", f"/_synapse/admin/v2/rooms/{quote(chat)}", {"purge": True})
    assert status == 200, deleting

    async def deleted() -> bool:
        status, reply = await operator.call("GET", f"/_synapse/admin/v2/rooms/delete_status/{deleting['delete_id']}")
        return status == 200 and reply["status"] == "complete"

    await eventually(deleted, what="the deletion of the notice chat")
    # Two measures at once: each one's notice finds the chat gone, one new chat takes both.
    first, second = await asyncio.gather(
        sanction(operator, "user", person.user_id, "warning"), sanction(operator, "user", person.user_id, "warning")
    )
    await told(person, first["id"])
    await told(person, second["id"])
    await asyncio.sleep(SETTLE_S)
    (new_chat,) = await _notice_chats(person)
    assert new_chat != chat
    status, page = await person.call("GET", f"/_matrix/client/v3/rooms/{quote(new_chat)}/messages?dir=b&limit=50")
    assert status == 200, page
    bodies = [str(event["content"].get("body")) for event in page["chunk"] if event["type"] == "m.room.message"]
    assert [body for body in bodies if first["id"] in body] and [body for body in bodies if second["id"] in body]


async def _send_with_txn(
    account: Matrix, room: str, txn: str, text: str, *, mentions: bool = False
) -> tuple[int, dict[str, Any]]:
    """A message as clients send it (`mentions`: with nested content, as Element's and nheko's carry)."""
    path = f"/_matrix/client/v3/rooms/{quote(room)}/send/m.room.message/{txn}"
    content: dict[str, Any] = {"msgtype": "m.text", "body": text}
    if mentions:
        content["m.mentions"] = {"user_ids": [account.user_id]}
    return await account.call("PUT", path, content)


async def _audit(staff: Matrix, subject: str, action: str) -> list[dict[str, Any]]:
    status, audit = await staff.qunzu("GET", f"/admin/audit?subject={quote(subject)}")
    assert status == 200, audit
    return [entry for entry in audit["entries"] if entry["action"] == action]


async def test_a_client_retrying_one_refused_message_counts_once_in_the_audit_log_and_the_notice(
    poster: Matrix, staff: Matrix, capsys: pytest.CaptureFixture[str]
) -> None:
    room = await poster.new_room(name="读书会")
    txn = secrets.token_hex(8)
    started = time.monotonic()
    answered: list[float] = []
    # nheko retries a refused send eleven times with the same transaction id.
    for _ in range(11):
        sent = time.monotonic()
        status, reply = await _send_with_txn(poster, room, txn, f"大家来看 {BLOCKED} 的资料", mentions=True)
        answered.append(time.monotonic() - sent)
        assert status == 403 and reply.get("cn.qunzu.reason") == "prohibited_content", (status, reply)
    assert len(await _audit(staff, poster.user_id, "content.block")) == 1
    (notice,) = await told(poster, f"{REFUSED}你发送的消息")
    with capsys.disabled():
        print(
            f"\n  refused send answered in {statistics.median(answered) * 1000:.0f} ms (median of 11);"
            f" notice in the bot chat {time.monotonic() - started:.2f} s after the first send"
        )
    assert "消息包含法律法规禁止发布的内容（宣扬邪教和封建迷信），未能发送。" in notice
    assert "\n如认为处理有误，直接在这里发送 !申诉（或 !appeal）和你的理由，工作人员会复核。" in notice
    assert BLOCKED not in notice  # never the words that matched

    # A new transaction is a new attempt: recorded, but told within the window already.
    status, _reply = await _send_with_txn(poster, room, secrets.token_hex(8), f"再发一次 {BLOCKED}")
    assert status == 403
    assert len(await _audit(staff, poster.user_id, "content.block")) == 2
    await asyncio.sleep(SETTLE_S)
    assert len([body for body in await notices(poster) if REFUSED in body]) == 1


async def test_a_client_retrying_one_held_message_opens_one_ticket(poster: Matrix, staff: Matrix) -> None:
    room = await poster.new_room(name="消息站")
    txn = secrets.token_hex(8)
    tickets = set()
    for _ in range(5):
        status, reply = await _send_with_txn(poster, room, txn, f"转发：{HELD}")
        assert status == 403, reply
        tickets.add(reply["cn.qunzu.detail"].get("ticket"))
    (ticket,) = tickets
    assert isinstance(ticket, str)
    holds = await _audit(staff, poster.user_id, "content.hold")
    assert [entry["details"]["ticket"] for entry in holds] == [ticket]
