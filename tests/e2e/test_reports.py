"""Reports, the moderation desk and room admins' tools (Art. 9, 12): real Synapse, module and bot.

What a user sees: the bot's answers in rooms, the module's notices in direct
chats, the moderation room's feed, and what the module refuses. Every wait
polls with a deadline.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import secrets
import sqlite3
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from devtools.homeserver import SynapseProcess
from synapse_module.store.synapse_tables import REPORT_TABLES, reports_after_txn

from .bot_fixtures import SERVICE_PASSWORD, service_account_fixture  # noqa: F401
from .conftest import SharedServers, fresh_localpart
from .desk_fixtures import Desk, Person, close_desk, open_desk, report_a_message, room_with, send_as, ticket_where
from .matrix import Matrix
from .sanction_helpers import eventually, notices, set_power, verified

IMPORT_WAIT_S = 30.0  # the import job runs at every 5 s tick of the scheduler; margin for a loaded machine
DESK_CONFIG = {"desk_poll_interval": 1, "reminder_before": 10}


@pytest.fixture(name="desk", scope="module")
async def desk_fixture(
    synapse: SynapseProcess, service_account: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Desk]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        desk = await open_desk(synapse, service_account, tmp_path_factory.mktemp("desk-bot"), session, DESK_CONFIG)
        try:
            yield desk
        finally:
            await close_desk(desk)


async def _notice_with(person: Person, needle: str, what: str, wait_s: float = 30.0) -> str:
    async def probe() -> str | None:
        return next((body for body in await notices(person.api) if needle in body), None)

    return await eventually(probe, wait_s, what)


# --- members report, staff handle, reporters hear ------------------------------------------------


def _reply_content(event_id: str, body: str) -> dict[str, Any]:
    return {"msgtype": "m.text", "body": body, "m.relates_to": {"m.in_reply_to": {"event_id": event_id}}}


async def _room_as_seen_by(person: Person, room: str) -> list[dict[str, Any]]:
    """Every event of `room` a member can fetch: a fresh sync's timeline and state, and the history."""
    fresh = quote(json.dumps({"room": {"timeline": {"limit": 100}}, "presence": {"not_types": [secrets.token_hex(4)]}}))
    status, sync = await person.api.call("GET", f"/_matrix/client/v3/sync?timeout=0&filter={fresh}")
    assert status == 200, sync
    joined = sync["rooms"]["join"][room]
    events = [*joined["timeline"]["events"], *joined.get("state", {}).get("events", [])]
    status, page = await person.api.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/messages?dir=b&limit=100")
    assert status == 200, page
    return [*events, *page["chunk"]]


def _assert_reporter_invisible(events: list[dict[str, Any]], reporter: str) -> None:
    """Nothing but the reporter's joining names them: no message, no redaction placeholder."""
    assert events, "the member saw no events at all"
    for event in events:
        if event.get("type") == "m.room.member" and event.get("state_key") == reporter:
            continue
        if str(event.get("content", {}).get("body", "")).startswith(f"欢迎 {reporter} 加入"):
            continue  # the bot's welcome when they joined
        assert reporter not in json.dumps(event), event
        assert event.get("type") != "m.room.redaction", event
        assert "redacted_because" not in json.dumps(event.get("unsigned", {})), event


async def test_report_as_reply_opens_a_ticket_with_evidence_and_handle_warns_and_tells_the_reporter(
    desk: Desk,
) -> None:
    reporter, accused, bystander = await desk.person(), await desk.person(), await desk.person()
    # The room is the bystander's: everything else the reporter did there is their membership.
    room = await room_with(bystander, accused, reporter, name="二手交易")
    message = await accused.view.send(room, "先转账五千元保证金，马上发货")
    txn = secrets.token_hex(8)
    status, refused = await send_as(reporter, room, _reply_content(message, "!report fraud 骗钱"), txn)

    ticket = await ticket_where(desk, lambda t: t["event_id"] == message)
    assert ticket["category"] == "fraud" and ticket["source"] == "user_report"
    assert ticket["accused"] == accused.user_id and ticket["room_id"] == room
    assert ticket["reporters"] == [reporter.user_id] and ticket["status"] == "open"
    evidence = ticket["evidence"]
    assert evidence["event_id"] == message and evidence["sender"] == accused.user_id
    assert len(evidence["content_digest"]) == 64 and message in evidence["permalink"]
    assert "五千" not in str(ticket)  # the ticket holds a digest, never the content
    # fraud is "illegal": 24 h to handle it.
    assert abs(ticket["deadline_ts"] - ticket["created_ts"] - 24 * 3600 * 1000) < 1000

    # The command never entered the room: the client's refusal says it was received, with the ticket.
    assert status == 403 and refused["cn.qunzu.reason"] == "report_received", refused
    assert refused["error"].startswith(f"你的举报已收到，工单号 {ticket['id']}。这条举报命令没有发到群里")
    # Its retry (same transaction) files nothing more and is told the same.
    status, again = await send_as(reporter, room, _reply_content(message, "!report fraud 骗钱"), txn)
    assert (status, again) == (403, refused)
    ack = await _notice_with(reporter, ticket["id"], "the acknowledgement in the bot chat")
    assert ack.startswith(f"你的举报已受理，工单号 {ticket['id']}（类别：诈骗）。平台将在 ")
    assert "（北京时间）前处理，处理结果会在这里告诉你。" in ack
    assert sum(ticket["id"] in body for body in await notices(reporter.api)) == 1
    # Neither the reported person nor anyone else in the room can tell who reported.
    await accused.view.send(room, "还有人要吗")  # a later event, so the room has moved on past the refusal
    for member in (bystander, accused):
        _assert_reporter_invisible(await _room_as_seen_by(member, room), reporter.user_id)

    # Staff see it at the desk with the evidence and the ladder's proposal.
    announced = await desk.wait_desk(ticket["id"], "the new ticket at the desk")
    assert "诈骗" in announced and accused.user_id in announced and message in announced
    assert "建议处置" in announced

    answer = await desk.staff.view.ask(desk.room_id, f"!handle {ticket['id']} warn 确认为诈骗信息")
    assert f"工单 {ticket['id']} 已关闭" in answer

    warned = await _notice_with(accused, "确认为诈骗信息", "the warning to the sender")
    assert "!appeal" in warned
    outcome = await _notice_with(reporter, "已处理完毕", "the outcome to the reporter")
    assert ticket["id"] in outcome and "警示" in outcome
    assert desk.staff.user_id not in outcome  # staff stay anonymous (生态治理规定 Art. 16)

    (closed,) = [t for t in await desk.tickets(status="resolved", limit="200") if t["id"] == ticket["id"]]
    assert closed["outcome"] == "warning" and closed["sanction_id"] and closed["resolved_by"] == desk.staff.user_id


async def test_duplicate_reports_join_the_open_ticket_and_bad_input_is_refused_plainly(desk: Desk) -> None:
    first, second, accused = await desk.person(), await desk.person(), await desk.person()
    room = await room_with(accused, first, second)
    message = await accused.view.send(room, "加群领红包")
    body = {"room_id": room, "event_id": message, "category": "other", "reason": "广告"}
    status, one = await first.api.qunzu("POST", "/reports", body)
    assert status == 200 and one["joined"] is False, one
    status, two = await second.api.qunzu("POST", "/reports", {**body, "category": "gambling"})
    assert status == 200 and two["ticket"] == one["ticket"] and two["joined"] is True, two
    # The more urgent category reported later makes the ticket more urgent.
    assert two["category"] == "gambling" and two["deadline_ts"] < one["deadline_ts"]
    assert sorted(two["reporters"]) == sorted([first.user_id, second.user_id])

    status, refused = await first.api.qunzu("POST", "/reports", {**body, "category": "nonsense"})
    assert status == 400 and "fraud" in refused["error"]
    outsider = await desk.person()
    status, refused = await outsider.api.qunzu("POST", "/reports", body)
    assert status == 403 and refused["errcode"] == "M_FORBIDDEN"
    status, refused = await first.api.qunzu("POST", "/reports", {**body, "event_id": "$nope"})
    assert status == 404

    # A mistyped report command is refused like a valid one: the room never sees it, the bot chat explains.
    status, mistyped = await send_as(first, room, _reply_content(message, "!举报 没有这个类别 骗人"))
    assert status == 403 and mistyped["cn.qunzu.reason"] == "report_not_filed", mistyped
    assert mistyped["cn.qunzu.detail"]["problem"] == "unknown_category"
    assert mistyped["error"].startswith("举报未能提交：没有“没有这个类别”这个举报类别。 用法：回复要举报的消息")
    explained = await _notice_with(first, "未能提交", "the explanation in the bot chat")
    assert explained.splitlines()[0] == "你在群里发送的举报命令未能提交：没有“没有这个类别”这个举报类别。"
    assert "!举报 <类别> [理由]" in explained and "诈骗（fraud）" in explained
    status, bare = await send_as(first, room, {"msgtype": "m.text", "body": "！举报"})
    assert status == 403 and bare["cn.qunzu.detail"]["problem"] == "missing_category", bare
    _assert_reporter_invisible(await _room_as_seen_by(second, room), first.user_id)

    # In the bot chat `!report` is answered there: how to report, and that it stays private.
    asker = await desk.person()
    bot_chat = await asker.view.create_room(direct=True)
    answer = await asker.ask(bot_chat, "!举报")
    assert answer.startswith("举报方法：在群里回复要举报的消息，发送 !举报 <类别> [理由]")
    assert "其他成员看不到是谁举报的" in answer and "诈骗 (fraud)" in answer


async def test_an_unverified_member_who_may_not_post_still_reports_privately(desk: Desk) -> None:
    owner, accused = await desk.person(), await desk.person()
    newcomer = await desk.person(verified=False)
    room = await room_with(owner, accused, newcomer)
    message = await accused.view.send(room, "加我微信，日赚三千")
    status, refused = await send_as(newcomer, room, {"msgtype": "m.text", "body": "大家好"})
    assert status == 403 and refused["cn.qunzu.reason"] == "realname_required", refused
    # Art. 12: reporting must be convenient for everyone in the room, verified or not.
    status, reported = await send_as(newcomer, room, _reply_content(message, "！举报诈骗 拉人刷单"))
    assert status == 403 and reported["cn.qunzu.reason"] == "report_received", reported
    ticket = await ticket_where(desk, lambda t: t["event_id"] == message)
    assert ticket["category"] == "fraud" and ticket["reporters"] == [newcomer.user_id]
    assert reported["cn.qunzu.detail"]["ticket"] == ticket["id"]
    await _notice_with(newcomer, f"工单号 {ticket['id']}", "the acknowledgement in the bot chat")
    _assert_reporter_invisible(await _room_as_seen_by(owner, room), newcomer.user_id)


async def test_the_bots_report_command_counts_against_the_same_hourly_cap_and_says_why(desk: Desk) -> None:
    reporter, accused = await desk.person(), await desk.person()
    room = await room_with(accused, reporter)
    body = {"room_id": room, "category": "other", "reason": "广告"}
    # Art. 12 reports are bounded per person (synapse_module.reports.REPORTS_PER_HOUR), whatever the way in.
    results = await asyncio.gather(*(reporter.api.qunzu("POST", "/reports", body) for _ in range(21)))
    assert sorted(status for status, _ in results) == [200] * 20 + [429]
    status, refused = await send_as(reporter, room, {"msgtype": "m.text", "body": "!举报 fraud 骗钱"})
    assert status == 403 and refused["cn.qunzu.detail"]["problem"] == "rate_limited", refused
    assert "一小时内的举报次数已达上限（20 次）" in refused["error"]
    told = await _notice_with(reporter, "未能提交", "the explanation in the bot chat")
    assert "一小时内的举报次数已达上限（20 次）" in told
    assert len([t for t in await desk.tickets(limit="500") if reporter.user_id in t["reporters"]]) == 1


async def test_a_client_report_enters_the_queue_once_also_across_bot_restarts(desk: Desk) -> None:
    reporter, accused = await desk.person(), await desk.person()
    room = await room_with(reporter, accused)
    message = await accused.view.send(room, "线上博彩，稳赚不赔")
    await desk.bot.stop()
    path = f"/_matrix/client/v3/rooms/{quote(room)}/report/{quote(message)}"
    status, body = await reporter.api.call("POST", path, {"reason": "赌博广告"})
    assert status == 200, body

    # Imported by the module's job while the bot is down (within a minute).
    ticket = await ticket_where(desk, lambda t: t["event_id"] == message, IMPORT_WAIT_S)
    assert ticket["source"] == "matrix_report" and ticket["category"] == "gambling"
    assert ticket["accused"] == accused.user_id and ticket["reporters"] == [reporter.user_id]
    await _notice_with(reporter, ticket["id"], "the acknowledgement of a client report")

    await desk.bot.start()
    await desk.wait_desk(ticket["id"], "the imported ticket at the desk")
    await desk.bot.stop()
    await desk.bot.start()
    # A command answered after the restart proves the desk has polled again (1 s interval).
    await desk.staff.view.ask(desk.room_id, "!reports")
    await desk.staff.view.ask(desk.room_id, "!reports")
    assert sum(ticket["id"] in body and "新工单" in body for body in desk.desk_messages()) == 1

    status, run = await desk.staff.api.qunzu("POST", "/admin/jobs/import_synapse_reports", {})
    assert status == 200, run
    assert len([t for t in await desk.tickets(limit="500") if t["event_id"] == message]) == 1


def test_synapse_report_tables_the_importer_reads_still_exist(synapse: SynapseProcess) -> None:
    class Txn:
        def __init__(self, cursor: sqlite3.Cursor) -> None:
            self.cursor = cursor

        def execute(self, sql: str, args: tuple[Any, ...]) -> None:
            self.cursor.execute(sql, args)

        def fetchall(self) -> list[Any]:
            return self.cursor.fetchall()

    with sqlite3.connect(synapse.config_path.parent / "homeserver.db") as connection:
        for table in REPORT_TABLES:
            # Fails with "no such column/table" when an upgrade changes Synapse's schema.
            reports_after_txn(Txn(connection.cursor()), table, 0, 1)  # type: ignore[arg-type]


# --- room admins ------------------------------------------------------------------------------------


async def test_room_admin_mute_is_room_scoped_unmute_restores_and_a_suspended_admin_is_refused(
    desk: Desk,
) -> None:
    owner, member, helper = await desk.person(), await desk.person(), await desk.person()
    room = await room_with(owner, member, helper, name="读书会")
    other = await room_with(owner, member, name="跑步群")

    assert "已在本群被禁言" in await owner.view.ask(room, f"!mute {member.user_id} 1h 刷屏")
    status, refused = await member.api.send_text(room, "还能说话吗")
    assert status == 403 and refused["cn.qunzu.reason"] == "posting_suspended_user", refused
    assert "禁言" in refused["error"]
    status, _ = await member.api.send_text(other, "这里可以说话")
    assert status == 200  # the mute holds in that room only

    assert "禁言已解除" in await owner.view.ask(room, f"!unmute {member.user_id}")
    status, sent = await member.api.send_text(room, "我回来了")
    assert status == 200, sent

    assert await owner.view.ask(room, f"!mute {member.user_id} 不久") == (
        "用法：!禁言 @用户 <时长，如 30m、12h、7d、perm> [理由]"
    )
    assert await member.view.ask(room, f"!kick {owner.user_id}") == "你无权在这里使用 !kick。"

    await set_power(owner.api, room, {helper.user_id: 50})
    status, body = await desk.staff.api.qunzu(
        "POST",
        "/admin/sanctions",
        {"subject": {"type": "user", "id": helper.user_id}, "measure": "admin_suspension", "reason": "滥用管理权限"},
    )
    assert status == 200, body
    answer = await helper.view.ask(room, f"!kick {member.user_id}")
    assert answer.startswith("你的群管理权限已被暂停")
    status, members = await desk.staff.api.call("GET", f"/_synapse/admin/v1/rooms/{quote(room)}/members")
    assert member.user_id in members["members"]

    assert "已将" in await owner.view.ask(room, f"!kick {member.user_id} 违反群规")
    status, members = await desk.staff.api.call("GET", f"/_synapse/admin/v1/rooms/{quote(room)}/members")
    assert member.user_id not in members["members"]
    # Every action is on the record with the acting admin.
    status, audit = await desk.staff.api.qunzu("GET", f"/admin/audit?subject={quote(room)}")
    assert status == 200, audit
    actions = {(row["actor"], row["action"]) for row in audit["entries"]}
    assert {(owner.user_id, "room.mute"), (owner.user_id, "room.unmute"), (owner.user_id, "room.kick")} <= actions


# --- deadlines: reminders (overdue: test_bot_commands.py; crashes: test_reports_durability.py) ---------


async def _file_report(desk: Desk) -> tuple[str, int]:
    """A member reports another's message; returns the ticket and its deadline as the module set it."""
    ticket = await report_a_message(await desk.person(), await desk.person())
    await desk.wait_desk(ticket, "the new ticket")
    (listed,) = [t for t in await desk.tickets(limit="500") if t["id"] == ticket]
    return ticket, int(listed["deadline_ts"])


async def test_a_ticket_gets_a_reminder_before_its_deadline_in_the_moderation_room(desk: Desk) -> None:
    """The desk arms the reminder by the module's deadline; the test brings its scheduler's time forward.

    When the desk arms reminders (reminder_before, at most a quarter of the window) and
    what it posts for closed or changed tickets: tests/bot/test_desk.py.
    """
    ticket, deadline = await _file_report(desk)
    bot = desk.bot.bot
    assert bot is not None and bot.desk is not None and bot.state is not None
    state = bot.state

    async def armed() -> dict[str, int] | None:
        # The desk arms the reminders right after it announces the ticket.
        found = {item.id: item.due_ms for item in await state.schedules() if f":{ticket}:" in item.id}
        return found if len(found) == 2 else None

    before = f"before:{ticket}:{deadline}"
    assert await eventually(armed, 10, "the reminders armed") == {
        before: deadline - DESK_CONFIG["reminder_before"] * 1000,
        f"breach:{ticket}:{deadline}": deadline,
    }
    scheduler = bot.desk._scheduler
    assert scheduler is not None
    scheduler.modify_job(before, next_run_time=datetime.datetime.now(datetime.UTC))
    reminder = await desk.wait_desk(f"提醒：工单 {ticket}", "the reminder before the deadline", 30)
    assert "到期" in reminder


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_staff_resolving_one_ticket_at_once_take_one_measure(
    database: str, shared_servers: SharedServers, as_user: Callable[..., Matrix], request: pytest.FixtureRequest
) -> None:
    # The shared servers: the test's own accounts, room and ticket.
    server = shared_servers.postgres() if database == "postgres" else request.getfixturevalue("synapse")
    staff = [as_user(server.register(fresh_localpart("staff"), admin=True), server) for _ in range(2)]
    reporter, accused = await verified(as_user, server, "rep"), await verified(as_user, server, "acc")
    room = await reporter.new_room(name="同时处理", preset="public_chat")
    assert (await accused.join(room))[0] == 200
    status, sent = await accused.send_text(room, "加群领红包")
    assert status == 200, sent
    body = {"room_id": room, "event_id": sent["event_id"], "category": "other", "reason": "广告"}
    status, filed = await reporter.qunzu("POST", "/reports", body)
    assert status == 200, filed
    path = f"/admin/reports/{filed['ticket']}/resolve"
    resolve = {"outcome": "resolved", "sanction": {"measure": "credit_lowered"}, "reason": "确认"}

    answers = await asyncio.gather(*(staff[i % 2].qunzu("POST", path, resolve) for i in range(8)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] + [409] * 7, answers
    status, taken = await staff[0].qunzu("GET", f"/admin/sanctions?subject={quote(accused.user_id)}")
    assert status == 200 and len(taken["sanctions"]) == 1, taken
    status, credit = await staff[0].qunzu("GET", f"/admin/users/{quote(accused.user_id)}/credit")
    assert status == 200 and len(credit["history"]) == 1, credit
    (winner,) = [answer for status, answer in answers if status == 200]
    assert winner["sanction_id"] == taken["sanctions"][0]["id"] == winner["sanction"]["id"]


# --- reports from people without an account (Art. 12) --------------------------------------------


async def test_the_public_form_files_a_ticket_without_an_account_and_a_flood_from_one_address_gets_429(
    desk: Desk,
) -> None:
    owner = await desk.person()
    room = await room_with(owner, name="二手交易")
    status, group = await owner.api.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/state/cn.qunzu.group/")
    assert status == 200, group
    code = str(group["code"])
    base = f"{desk.server.base_url}/_synapse/client/qunzu/v1/public/report"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as anonymous:
        # The form: no account, phone width, nothing loaded from elsewhere, the code filled in.
        async with anonymous.get(f"{base}?code={code}", headers={"Accept": "text/html"}) as response:
            assert response.status == 200 and response.content_type == "text/html"
            page = await response.text()
        assert "违法和不良信息举报" in page and 'name="viewport"' in page and f'value="{code}"' in page
        assert '<option value="fraud">诈骗</option>' in page
        assert "<script" not in page and "src=" not in page and "http" not in page.replace("http-equiv", "")
        async with anonymous.get(f"{base}?lang=en", headers={"Accept": "text/html"}) as response:
            assert "Report illegal or harmful content" in await response.text()

        # A refused post shows the form again, what was typed escaped.
        bad = {"code": code, "category": "nonsense", "reason": "<script>alert(1)</script>"}
        async with anonymous.post(base, data=bad, headers={"Accept": "text/html"}) as response:
            assert response.status == 400
            page = await response.text()
        assert "举报类别无效" in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page

        # The longest reason the form allows (1000 Chinese characters, 9 KB encoded) is accepted.
        reason = "群里有人冒充客服骗钱" + "。" * 990
        form = {"code": code, "category": "fraud", "reason": reason, "contact": "wang@example.com"}
        async with anonymous.post(base, data=form, headers={"Accept": "text/html"}) as response:
            assert response.status == 200
            page = await response.text()
        assert "举报已受理，工单号 " in page
        follow = page.split('<a href="')[1].split('"')[0].replace("&amp;", "&")
        assert follow.startswith("report/") and "token=" in follow
        ticket_id = follow.split("/")[1].split("?")[0]
        async with anonymous.get(f"{base}/{follow.removeprefix('report/')}", headers={"Accept": "text/html"}) as resp:
            assert resp.status == 200
            status_page = await resp.text()
        assert f"工单 {ticket_id}（诈骗）：已受理，等待处理" in status_page and "wang@" not in status_page
        async with anonymous.get(f"{base}/{ticket_id}?token=wrong", headers={"Accept": "application/json"}) as resp:
            assert resp.status == 404

        # In the staff queue, and announced at the desk.
        ticket = await ticket_where(desk, lambda t: t["id"] == ticket_id)
        assert ticket["source"] == "public_report" and ticket["room_id"] == room and ticket["category"] == "fraud"
        assert ticket["reason"] == reason and "wang@" not in str(ticket)
        await desk.wait_desk(ticket_id, "the public report at the desk")
        status, contacts = await desk.staff.api.qunzu(
            "POST", f"/admin/reports/{ticket_id}/public-contacts", {"reason": "回访举报人"}
        )
        assert status == 200 and [r["contact"] for r in contacts["reports"]] == ["wang@example.com"], contacts
        status, refused = await owner.api.qunzu("POST", f"/admin/reports/{ticket_id}/public-contacts", {"reason": "x"})
        assert status == 403 and refused["cn.qunzu.reason"] == "staff_only"

        # JSON, by room id: joins the open ticket on the room; the follow-up shows its status only.
        body = {"room_id": room, "category": "gambling", "reason": "拉人赌博"}
        async with anonymous.post(base, json=body) as response:
            assert response.status == 200
            answer = await response.json()
        assert answer["ticket"] == ticket_id and answer["status"] == "open" and answer["token"]
        async with anonymous.get(
            f"{base}/{ticket_id}?token={answer['token']}", headers={"Accept": "application/json"}
        ) as resp:
            shown = await resp.json()
        assert resp.status == 200 and set(shown) == {
            "ticket",
            "status",
            "status_label",
            "category",
            "category_label",
            "created_ts",
            "deadline_ts",
            "deadline",
            "closed_ts",
        }
        async with anonymous.post(base, json={**body, "code": "123456789"}) as response:
            assert response.status == 400 and "群组编码" in (await response.json())["error"]
        async with anonymous.post(base, json={**body, "room_id": "!nosuchroom:localhost"}) as response:
            assert response.status == 404 and "找不到这个群组" in (await response.json())["error"]

        # Ten an hour from one address, exactly, however many arrive at once (two used above).
        async def one() -> tuple[int, dict[str, Any]]:
            async with anonymous.post(base, json=body) as response:
                return response.status, await response.json()

        results = await asyncio.gather(*(one() for _ in range(15)))
    assert sorted(status for status, _ in results) == [200] * 8 + [429] * 7, [s for s, _ in results]
    limited = next(reply for status, reply in results if status == 429)
    assert limited["errcode"] == "M_LIMIT_EXCEEDED" and limited["cn.qunzu.detail"]["cap"] == 10
    assert "一小时内最多提交 10 次举报" in limited["error"] and limited["retry_after_ms"] > 0
    # The follow-up token never reaches Synapse's log.
    log = (desk.server.config_path.parent / "homeserver.log").read_text(encoding="utf-8", errors="replace")
    assert answer["token"] not in log
