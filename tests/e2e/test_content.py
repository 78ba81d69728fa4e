"""Prohibited content rules (Art. 10) against a real Synapse with the module.

One server with term lists (tests/e2e/content_fixtures.py, shared with
test_content_texts.py): its policy points at term files in a temporary
directory, reloaded every second, so a test can also edit them.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

from devtools.homeserver import SynapseProcess

from .content_fixtures import (  # noqa: F401  (fixtures: the content server and its term files)
    BLOCKED,
    BLOCKED_LATIN,
    BLOCKED_MEDIA,
    FLAGGED,
    HELD,
    RELOADED,
    content_server_fixture,
    person_fixture,
    poster_fixture,
    session_fixture,
    staff_fixture,
    terms_dir_fixture,
)
from .matrix import Matrix
from .sanction_helpers import eventually, notices


def assert_prohibited(status: int, reply: dict[str, Any], category: str, term: str) -> None:
    assert status == 403, reply
    assert reply["errcode"] == "M_FORBIDDEN"
    assert reply["cn.qunzu.reason"] == "prohibited_content"
    assert reply["cn.qunzu.detail"]["category"] == category
    # The person is told the category, never which words matched.
    assert term not in str(reply)
    assert "禁止" in reply["error"]


async def send(member: Matrix, room_id: str, event_type: str, content: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    path = f"/_matrix/client/v3/rooms/{quote(room_id)}/send/{event_type}/{secrets.token_hex(8)}"
    return await member.call("PUT", path, content)


async def test_a_blocked_term_is_refused_naming_the_category(poster: Matrix, staff: Matrix) -> None:
    room = await poster.new_room(name="读书会")
    status, reply = await poster.send_text(room, "大家来看 法 . 輪\u200b功 的资料")
    assert_prohibited(status, reply, "cults", BLOCKED)
    assert "邪教" in reply["error"]

    status, audit = await staff.qunzu("GET", f"/admin/audit?subject={quote(poster.user_id)}")
    assert status == 200, audit
    blocks = [entry for entry in audit["entries"] if entry["action"] == "content.block"]
    assert len(blocks) == 1
    details = blocks[0]["details"]
    assert details["rule"] == "cults"
    assert details["room_id"] == room
    assert len(details["digest"]) == 64
    assert BLOCKED not in str(audit)

    status, reply = await poster.send_text(room, "今天读第三章")
    assert status == 200, reply


async def test_a_refused_message_names_what_to_appeal_and_an_appeal_without_it_takes_it(
    poster: Matrix, staff: Matrix
) -> None:
    room = await poster.new_room(name="读书会")
    status, reply = await poster.send_text(room, "大家来看 法 . 輪\u200b功 的资料")
    assert_prohibited(status, reply, "cults", BLOCKED)
    ref = reply["cn.qunzu.detail"]["ref"]
    assert ref.startswith("cb_"), reply
    # The refusal says exactly what to send (DESIGN §6.3): the reference is in the text.
    assert f"请私信机器人发送 !appeal {ref} <理由> 申诉。" in reply["error"], reply["error"]

    # Without a reference the person's latest decision is appealed: this refused message.
    status, appealed = await poster.qunzu("POST", "/appeals", {"text": "这是在讨论新闻报道，请复核"})
    assert status == 200, appealed
    assert appealed["sanction"] == ref and appealed["status"] == "open"
    assert appealed["message"].startswith(f"已收到你对处理 {ref} 的申诉（申诉编号 {appealed['id']}）")
    # A second appeal of the same message waits for the first, in words.
    status, again = await poster.qunzu("POST", "/appeals", {"text": "再次申诉", "ref": ref})
    assert status == 409 and again["error"] == f"你对 {ref} 的申诉正在复核中，请等待结果，不必重复提交。", again
    # Nobody else's reference, and nothing to appeal for a newcomer: 404 in words.
    stranger = staff  # an admin without refused messages of their own
    status, refused = await stranger.qunzu("POST", "/appeals", {"text": "我也申诉", "ref": ref})
    assert status == 404 and refused["error"].startswith(f"没有编号为 {ref} 的、针对你的处置或被拦截的消息。")
    status, nothing = await stranger.qunzu("POST", "/appeals", {"text": "我也申诉"})
    assert status == 404 and nothing["error"] == "你目前没有可以申诉的处置或被拦截的消息。", nothing

    status, listed = await staff.qunzu("GET", "/admin/appeals?status=open")
    assert status == 200 and [a["text"] for a in listed["appeals"] if a["sanction"] == ref] == [
        "这是在讨论新闻报道，请复核"
    ]


async def test_an_edit_cannot_carry_a_blocked_term(poster: Matrix) -> None:
    room = await poster.new_room(name="读书会")
    status, reply = await poster.send_text(room, "今天读第三章")
    assert status == 200, reply
    edit = {
        "msgtype": "m.text",
        "body": "* 改一下",
        "m.new_content": {"msgtype": "m.text", "body": f"改成 {BLOCKED}"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": reply["event_id"]},
    }
    status, reply = await send(poster, room, "m.room.message", edit)
    assert_prohibited(status, reply, "cults", BLOCKED)


async def test_a_room_topic_and_name_with_a_blocked_term_are_refused(poster: Matrix) -> None:
    room = await poster.new_room(name="读书会")
    status, reply = await poster.send_state(room, "m.room.topic", {"topic": f"本群讨论{BLOCKED}"})
    assert_prohibited(status, reply, "cults", BLOCKED)
    status, reply = await poster.send_state(room, "m.room.name", {"name": f"ＦＡＬＵＮ {BLOCKED}"})
    assert_prohibited(status, reply, "cults", BLOCKED)
    status, reply = await poster.send_state(room, "m.room.topic", {"topic": "读书分享"})
    assert status == 200, reply


async def test_a_formatted_body_is_checked_without_its_tags(poster: Matrix) -> None:
    room = await poster.new_room(name="读书会")
    content = {
        "msgtype": "m.text",
        "body": "看这里",
        "format": "org.matrix.custom.html",
        "formatted_body": "<p>法<b>轮</b><i>功</i></p>",
    }
    status, reply = await send(poster, room, "m.room.message", content)
    assert_prohibited(status, reply, "cults", BLOCKED)


def _html(formatted: str) -> dict[str, Any]:
    return {"msgtype": "m.text", "body": "看这里", "format": "org.matrix.custom.html", "formatted_body": formatted}


# What a person sees is a blocked term; what is stored is not (Art. 10: the matcher
# checks what is shown, in every reading).
EVASIONS: dict[str, dict[str, Any]] = {
    "right-to-left override": {"msgtype": "m.text", "body": "看看\u202e功轮法\u202c吧"},
    "Hangul fillers": {"msgtype": "m.text", "body": "法\u3164轮\uffa0功"},
    "tag characters and soft hyphen": {"msgtype": "m.text", "body": "fa\u00adlun\U000e0020gong"},
    "a letter inside a CJK term": {"msgtype": "m.text", "body": "来练法a轮功"},
    "a digit inside a CJK term": {"msgtype": "m.text", "body": "来练法1轮功"},
    "a kana inside a CJK term": {"msgtype": "m.text", "body": "来练法の轮功"},
    "small capitals": {"msgtype": "m.text", "body": "ꜰᴀʟᴜɴɢᴏɴɢ"},
    "hyphens inside a latin term": {"msgtype": "m.text", "body": "fa-lun-gong"},
    "white fillers inside a term": _html('法<font color="#ffffff">\u3164\u3164</font>轮功'),
    "hidden letters inside a term": _html('法<span data-mx-color="#fff">xyz</span>轮功'),
    "empty inline tags": _html("fa<b></b>lun<i></i>gong"),
    "a term in hidden text": _html('<span style="display:none">法轮功</span>你好'),
}


async def test_evasions_are_refused_and_never_reach_the_room(poster: Matrix) -> None:
    room = await poster.new_room(name="读书会")
    for name, content in EVASIONS.items():
        status, reply = await send(poster, room, "m.room.message", content)
        assert status == 403, (name, reply)
        assert reply["cn.qunzu.reason"] == "prohibited_content", name
        assert reply["cn.qunzu.detail"]["category"] == "cults", name
    # Ordinary text with the same shapes (a digit between characters, hyphens, colour) passes.
    ordinary = [
        {"msgtype": "m.text", "body": "今天下午3点开会，第2个议题是5G网络。"},
        {"msgtype": "m.text", "body": "A well-known fa-ther of e-mail."},
        _html('<font color="#ff0000">重要</font>：明天放假'),
    ]
    for content in ordinary:
        status, reply = await send(poster, room, "m.room.message", content)
        assert status == 200, (content, reply)
    status, page = await poster.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/messages?dir=b&limit=100")
    assert status == 200, page
    sent = [event["content"] for event in page["chunk"] if event["type"] == "m.room.message"]
    assert len(sent) == len(ordinary)
    assert all(content not in sent for content in EVASIONS.values())


async def test_names_and_topics_are_checked_in_every_reading(poster: Matrix) -> None:
    room = await poster.new_room(name="读书会")
    status, reply = await poster.send_state(room, "m.room.name", {"name": "\u202egnognulaf"})
    assert_prohibited(status, reply, "cults", BLOCKED_LATIN)
    status, reply = await poster.send_state(room, "m.room.topic", {"topic": "本群练法の轮功"})
    assert_prohibited(status, reply, "cults", BLOCKED)
    status, state = await poster.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.name")
    assert status == 200 and state["name"] == "读书会", state


async def test_a_flagged_message_is_delivered_and_a_ticket_opens(poster: Matrix, staff: Matrix) -> None:
    room = await poster.new_room(name="读书会")
    status, reply = await poster.send_text(room, f"{FLAGGED}！")
    assert status == 200, reply
    event_id = reply["event_id"]
    status, event = await poster.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/event/{quote(event_id)}")
    assert status == 200 and event["content"]["body"] == f"{FLAGGED}！"

    status, queue = await staff.qunzu("GET", "/admin/reports?status=open")
    assert status == 200, queue
    tickets = [ticket for ticket in queue["tickets"] if ticket["event_id"] == event_id]
    assert len(tickets) == 1
    ticket = tickets[0]
    assert ticket["source"] == "content_flag"
    assert ticket["rule"] == "spam"
    assert ticket["room_id"] == room
    assert ticket["accused"] == poster.user_id
    assert ticket["status"] == "open"
    assert ticket["overdue"] is False
    # Report category "other": 72 h to handle it.
    assert ticket["deadline_ts"] - ticket["created_ts"] == 72 * 3600 * 1000
    assert FLAGGED not in str(queue)

    status, one = await staff.qunzu("GET", f"/admin/reports/{ticket['id']}")
    assert status == 200 and one["id"] == ticket["id"]
    status, refusal = await poster.qunzu("GET", "/admin/reports")
    assert status == 403, refusal


async def test_held_content_is_refused_and_put_before_staff(poster: Matrix, staff: Matrix) -> None:
    room = await poster.new_room(name="读书会")
    status, reply = await poster.send_text(room, f"转发：{HELD}")
    assert_prohibited(status, reply, "rumor", HELD)
    ticket_id = reply["cn.qunzu.detail"]["ticket"]
    assert reply["cn.qunzu.detail"]["held"] is True
    assert ticket_id in reply["error"]
    status, ticket = await staff.qunzu("GET", f"/admin/reports/{ticket_id}")
    assert status == 200, ticket
    assert ticket["source"] == "content_hold"
    assert ticket["category"] == "rumor"
    # Rumours are "illegal" severity: 24 h.
    assert ticket["deadline_ts"] - ticket["created_ts"] == 24 * 3600 * 1000


async def test_enabling_encryption_in_a_group_is_refused_with_the_reason(poster: Matrix) -> None:
    room = await poster.new_room(name="读书会")
    status, reply = await poster.send_state(room, "m.room.encryption", {"algorithm": "m.megolm.v1.aes-sha2"})
    assert status == 403, reply
    assert reply["cn.qunzu.reason"] == "protected_state"
    assert reply["cn.qunzu.detail"]["setting"] == "m.room.encryption"
    assert "加密" in reply["error"]


async def test_a_blocked_media_hash_upload_is_refused(poster: Matrix, server: SynapseProcess) -> None:
    async def upload(data: bytes) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {poster.account.access_token}", "Content-Type": "application/octet-stream"}
        url = f"{server.base_url}/_matrix/media/v3/upload?filename=x.bin"
        async with aiohttp.ClientSession() as http, http.post(url, data=data, headers=headers) as response:
            return response.status, await response.json(content_type=None)

    status, reply = await upload(BLOCKED_MEDIA)
    assert status == 403, reply
    assert reply["cn.qunzu.reason"] == "prohibited_content"
    assert reply["cn.qunzu.detail"]["category"] == "other_illegal"
    status, reply = await upload(b"an ordinary file")
    assert status == 200, reply
    assert reply["content_uri"].startswith("mxc://")


async def test_an_edited_term_file_takes_effect_within_seconds(poster: Matrix, staff: Matrix, terms_dir: Path) -> None:
    room = await poster.new_room(name="读书会")
    status, reply = await poster.send_text(room, f"这是{RELOADED}")
    assert status == 200, reply

    reload_file = terms_dir / "reload.txt"
    reload_file.write_text(reload_file.read_text(encoding="utf-8") + f"{RELOADED}\n", encoding="utf-8")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while True:
        status, reply = await poster.send_text(room, f"这是{RELOADED}")
        if status == 403 or loop.time() > deadline:
            break
        await asyncio.sleep(0.5)
    assert_prohibited(status, reply, "other_illegal", RELOADED)

    status, audit = await staff.qunzu("GET", "/admin/audit?subject=content")
    assert status == 200, audit
    reloads = [entry for entry in audit["entries"] if entry["action"] == "content.reload"]
    assert reloads, audit
    assert set(reloads[0]["details"]["digests"]) >= {"cults", "other_illegal", "allow", "media"}
    assert RELOADED not in str(audit)

    # Staff can also reload at once through the API.
    status, reply = await staff.qunzu("POST", "/admin/content/reload", {})
    assert status == 200, reply
    assert reply["reloaded"] is True


async def test_custom_profile_fields_that_break_a_rule_are_gone_before_the_answer_and_the_person_is_told(
    poster: Matrix, staff: Matrix, person: Callable[..., Matrix]
) -> None:
    profile = f"/_matrix/client/v3/profile/{quote(poster.user_id)}"
    reader = person()

    status, reply = await poster.call("PUT", f"{profile}/m.tz", {"m.tz": "Asia/Shanghai"})
    assert status == 200, reply
    # Synapse stores a field before any module is asked: the answer is 200, the field is gone.
    motto = {"zh": f"我是{BLOCKED}", "en": "hello"}
    status, reply = await poster.call("PUT", f"{profile}/org.example.motto", {"org.example.motto": motto})
    assert status == 200, reply
    status, reply = await reader.call("GET", f"{profile}/org.example.motto")
    assert status == 404, reply
    # However deep a value hides its text.
    deep: object = {"zh": f"我是{BLOCKED}"}
    for _ in range(30):
        deep = [deep]
    status, reply = await poster.call("PUT", f"{profile}/org.example.deep", {"org.example.deep": deep})
    assert status == 200, reply
    status, reply = await reader.call("GET", f"{profile}/org.example.deep")
    assert status == 404, reply
    # The field's name is text on a profile card too.
    badge = f"org.{BLOCKED_LATIN}.badge"
    status, reply = await poster.call("PUT", f"{profile}/{badge}", {badge: "1"})
    assert status == 200, reply
    status, reply = await reader.call("GET", f"{profile}/{badge}")
    assert status == 404, reply
    # A flagged field stands with its ticket; the next change shows it again, and it is recorded once.
    status, reply = await poster.call("PUT", f"{profile}/org.example.ad", {"org.example.ad": FLAGGED})
    assert status == 200, reply
    # What breaks no rule stands, the field set before and one set after.
    status, reply = await poster.call("PUT", f"{profile}/org.example.hobby", {"org.example.hobby": "读书"})
    assert status == 200, reply
    status, whole = await reader.call("GET", profile)
    assert status == 200, whole
    assert whole.get("m.tz") == "Asia/Shanghai", whole
    assert whole.get("org.example.hobby") == "读书", whole
    assert whole.get("org.example.ad") == FLAGGED, whole
    assert BLOCKED not in str(whole) and BLOCKED_LATIN not in str(whole), whole

    status, audit = await staff.qunzu("GET", f"/admin/audit?subject={quote(poster.user_id)}")
    assert status == 200, audit
    blocks = [entry for entry in audit["entries"] if entry["action"] == "content.block"]
    assert [entry["details"]["event_type"] for entry in blocks] == ["profile.field"] * 3, blocks
    assert {entry["details"]["rule"] for entry in blocks} == {"cults"}
    flags = [entry for entry in audit["entries"] if entry["action"] == "content.flag"]
    flagged = [(entry["details"]["event_type"], entry["details"]["rule"]) for entry in flags]
    assert flagged == [("profile.field", "spam")], flags
    assert BLOCKED not in str(audit) and BLOCKED_LATIN not in str(audit)

    # The client showed the change as done: the bot chat says it was not, and why (once per 10 minutes).
    async def told() -> list[str] | None:
        found = [body for body in await notices(poster) if "个人资料" in body]
        return found or None

    bodies = await eventually(told, what="the notice of the refused profile field")
    assert len(bodies) == 1, bodies
    assert "【操作未成功】" in bodies[0] and "邪教" in bodies[0] and "!申诉" in bodies[0], bodies[0]
    assert BLOCKED not in bodies[0]


async def test_a_presence_status_message_reaches_nobody(poster: Matrix, person: Callable[..., Matrix]) -> None:
    # No module can screen a status message, so Qunzu's configs switch presence off.
    path = f"/_matrix/client/v3/presence/{quote(poster.user_id)}/status"
    status, reply = await poster.call("PUT", path, {"presence": "online", "status_msg": f"我是{BLOCKED}"})
    assert status == 200, reply
    reader = person()
    room = await poster.new_room(name="读书会", preset="public_chat")
    assert (await reader.join(room))[0] == 200
    status, reply = await reader.call("GET", path)
    assert status == 200, reply
    assert reply == {"presence": "offline"}
    status, sync = await reader.call("GET", "/_matrix/client/v3/sync?timeout=0")
    assert status == 200, sync
    assert BLOCKED not in str(sync)


async def test_a_display_name_with_a_blocked_term_never_reaches_a_room(poster: Matrix, staff: Matrix) -> None:
    room = await poster.new_room(name="读书会")
    localpart = poster.user_id[1:].split(":", 1)[0]
    profile = f"/_matrix/client/v3/profile/{quote(poster.user_id)}/displayname"

    status, reply = await poster.call("PUT", profile, {"displayname": f"我是{BLOCKED}"})
    assert status == 200, reply  # Synapse stores the name before any module can refuse it
    status, reply = await poster.call("GET", profile)
    assert status == 200, reply
    assert reply["displayname"] == localpart

    # The rooms are updated in the background: give them time, then read every member event.
    status, reply = await poster.call("PUT", profile, {"displayname": "读书人"})
    assert status == 200, reply
    member_path = f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.member/{quote(poster.user_id)}"
    for _ in range(50):
        status, member = await poster.call("GET", member_path)
        if member.get("displayname") == "读书人":
            break
        await asyncio.sleep(0.1)
    assert member["displayname"] == "读书人", member
    status, messages = await poster.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/messages?dir=b&limit=50")
    assert status == 200, messages
    assert BLOCKED not in str(messages["chunk"])

    status, audit = await staff.qunzu("GET", f"/admin/audit?subject={quote(poster.user_id)}")
    assert status == 200, audit
    blocks = [entry for entry in audit["entries"] if entry["action"] == "content.block"]
    assert [entry["details"]["event_type"] for entry in blocks] == ["profile.displayname"]

    # The client showed the new name as set: the bot chat says it was not, and why.
    async def told() -> list[str] | None:
        found = [body for body in await notices(poster) if "个人资料" in body]
        return found or None

    bodies = await eventually(told, what="the notice of the refused display name")
    assert len(bodies) == 1 and "邪教" in bodies[0] and BLOCKED not in bodies[0], bodies
