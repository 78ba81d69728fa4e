"""The moderation desk (bot/desk.py) against a real local HTTP server standing in for the module.

What staff would read in the moderation room: each announcement once (also
across restarts), reminders only for tickets still open, one digest a day.
The state is a real aiosqlite file; the clock is moved by hand.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from bot.desk import Desk
from bot.errors import QunzuApiError
from bot.qunzu_api import QunzuApi
from bot.state import BotState, ScheduledItem
from policies.constants import HOUR_MS

from .conftest import NOW_MS, FakeClock

PREFIX = "/_synapse/client/qunzu/v1"
DESK_ROOM = "!desk:localhost"


def ticket(ticket_id: str = "tk_1", *, window_ms: int = 24 * HOUR_MS, **extra: Any) -> dict[str, Any]:
    """A ticket as `GET /admin/reports` answers it."""
    return {
        "id": ticket_id,
        "category": "fraud",
        "category_label": "诈骗",
        "severity": "illegal",
        "source": "user_report",
        "room_id": "!r:localhost",
        "accused": "@bad:localhost",
        "evidence": {
            "event_id": "$ev",
            "content_digest": "ab" * 32,
            "permalink": "https://matrix.to/#/!r:localhost/$ev",
        },
        "reporter_count": 2,
        "status": "open",
        "created_ts": NOW_MS,
        "deadline_ts": NOW_MS + window_ms,
        **extra,
    }


def live_ticket(ticket_id: str, offset_ms: int = 0) -> dict[str, Any]:
    """A ticket created now by the wall clock (APScheduler arms reminders by wall time)."""
    created = int(time.time() * 1000) + offset_ms
    return ticket(ticket_id, created_ts=created, deadline_ts=created + 24 * HOUR_MS)


@dataclass
class Module:
    """What the stand-in module answers; tests change it between polls."""

    tickets: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    appeals: list[dict[str, Any]] = field(default_factory=list)
    announcements: list[dict[str, Any]] = field(default_factory=list)
    sanctions: list[dict[str, Any]] = field(default_factory=list)  # newest first
    stats: dict[str, int] = field(default_factory=dict)
    #: Paths answering 502 (a module that is down) until removed.
    failing: set[str] = field(default_factory=set)
    stats_since: list[int] = field(default_factory=list)
    refused: int = 0
    #: The query of every `GET /admin/reports` (list) request, in order.
    ticket_reads: list[dict[str, str]] = field(default_factory=list)
    #: Seconds each list request takes (a slow module).
    delay_s: float = 0.0

    def listed(self, request: web.Request) -> dict[str, Any]:
        """`GET /admin/reports`: `since` filters by creation time, as the module does."""
        self.ticket_reads.append(dict(request.query))
        since = int(request.query.get("since", 0))
        return {"tickets": [t for t in self.tickets if int(t["created_ts"]) >= since]}


@pytest.fixture
def module() -> Module:
    return Module()


@pytest.fixture
async def api(module: Module) -> AsyncIterator[QunzuApi]:
    def answer(path: str, body: Callable[[web.Request], Any]) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            if path in module.failing:
                module.refused += 1
                return web.json_response({"errcode": "M_UNKNOWN", "error": "down"}, status=502)
            if path == "reports" and module.delay_s:
                await asyncio.sleep(module.delay_s)
            found = body(request)
            if found is None:
                return web.json_response({"errcode": "M_NOT_FOUND", "error": "No such ticket"}, status=404)
            return web.json_response(found)

        return handle

    def one_ticket(request: web.Request) -> Any:
        return next((t for t in module.tickets if t["id"] == request.match_info["id"]), None)

    def stats(request: web.Request) -> Any:
        module.stats_since.append(int(request.query["since"]))
        return module.stats

    app = web.Application()
    app.router.add_get(PREFIX + "/admin/reports", answer("reports", module.listed))
    app.router.add_get(PREFIX + "/admin/reports/stats", answer("stats", stats))
    app.router.add_get(PREFIX + "/admin/reports/{id}", answer("ticket", one_ticket))
    app.router.add_post(
        PREFIX + "/admin/sanctions/propose",
        answer("propose", lambda r: {"proposal": {"measure": "mute", "duration": 7 * 86400}, "prior_measures": 1}),
    )
    app.router.add_get(PREFIX + "/admin/realname/pending", answer("pending", lambda r: {"pending": module.pending}))
    app.router.add_get(PREFIX + "/admin/appeals", answer("appeals", lambda r: {"appeals": module.appeals}))
    app.router.add_get(
        PREFIX + "/admin/announcements", answer("announcements", lambda r: {"announcements": module.announcements})
    )
    app.router.add_get(PREFIX + "/admin/sanctions", answer("sanctions", lambda r: {"sanctions": module.sanctions}))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    client = QunzuApi(f"http://127.0.0.1:{port}{PREFIX}", lambda: "bot-token", timeout_s=5.0)
    yield client
    await client.close()
    await runner.cleanup()


@dataclass
class Room:
    """The moderation room: what the desk posted, in order."""

    texts: list[str] = field(default_factory=list)

    async def send(self, room_id: str, text: str) -> None:
        assert room_id == DESK_ROOM
        self.texts.append(text)

    def with_(self, needle: str) -> list[str]:
        return [text for text in self.texts if needle in text]


@pytest.fixture
def room() -> Room:
    return Room()


@pytest.fixture
def make_desk(api: QunzuApi, state: BotState, room: Room, clock: FakeClock) -> Callable[..., Desk]:
    def make(*, on: BotState = state, digest_time: str = "09:00", poll_interval_s: float = 3600) -> Desk:
        return Desk(
            api=api,
            state=on,
            send=room.send,
            room_id=DESK_ROOM,
            language="zh-CN",
            poll_interval_s=poll_interval_s,
            reminder_before_s=1800,
            digest_time=digest_time,
            clock=clock,
        )

    return make


async def until(found: Callable[[], bool], what: str, wait_s: float = 5.0) -> None:
    deadline = time.monotonic() + wait_s
    while not found():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {wait_s}s")
        await asyncio.sleep(0.01)


# --- announcements -------------------------------------------------------------------------------


async def test_each_open_ticket_is_announced_once_with_evidence_and_proposal_also_after_a_restart(
    make_desk: Callable[..., Desk], module: Module, room: Room
) -> None:
    module.tickets = [ticket("tk_1")]
    desk = make_desk()
    await desk.poll()
    await desk.poll()
    (text,) = room.texts
    assert text.startswith("🆕 新工单 tk_1｜诈骗（违法）｜来源：成员举报\n群：!r:localhost\n被举报人：@bad:localhost")
    assert "证据：事件 $ev｜内容摘要 " + "ab" * 8 + "\n" in text
    assert "https://matrix.to/#/!r:localhost/$ev" in text and "举报人数：2" in text
    assert "建议处置：禁言（7天），第 1 次前科后的下一步" in text
    assert "!handle tk_1 dismiss|warn|suspend <时长>|close [理由]" in text

    # A restart reads the same state: nothing is repeated, a new ticket is announced.
    module.tickets.append(ticket("tk_2", room_id=None, accused=None))
    await make_desk().poll()
    assert len(room.with_("新工单 tk_1")) == 1
    (second,) = room.with_("新工单 tk_2")
    assert "被举报人：—" in second and "建议处置：—" in second


async def test_measures_from_before_the_first_start_are_history_and_later_ones_are_announced_once(
    make_desk: Callable[..., Desk], module: Module, room: Room
) -> None:
    module.sanctions = [{"id": "sn_old", "measure": "warning", "subject": {"type": "user", "id": "@a:localhost"}}]
    desk = make_desk()
    await desk.poll()
    assert room.texts == []
    module.sanctions = [
        {
            "id": "sn_new",
            "measure": "mute",
            "subject": {"type": "user", "id": "@b:localhost"},
            "end": NOW_MS + HOUR_MS,
            "reason": "刷屏",
        },
        {"id": "sn_perm", "measure": "blacklist", "subject": {"type": "room", "id": "!r:localhost"}, "reason": "诈骗"},
        *module.sanctions,
    ]
    await desk.poll()
    await desk.poll()
    # Oldest first, each once; the old one never.
    assert room.texts == [
        "⚖️ 处置 sn_perm：纳入黑名单 → 群 !r:localhost，至 永久。原因：诈骗",
        "⚖️ 处置 sn_new：禁言 → 用户 @b:localhost，至 2023-11-15 07:13（北京时间）。原因：刷屏",
    ]


async def test_pending_reviews_and_open_appeals_are_announced_once_each(
    make_desk: Callable[..., Desk], module: Module, room: Room
) -> None:
    module.pending = [{"user_id": "@new:localhost", "submitted_at": 1, "name": "张*"}]
    module.appeals = [{"id": "ap_1", "sanction": "sn_1", "text": "我没有违规" + "。" * 400}]
    desk = make_desk()
    await desk.poll()
    await desk.poll()
    assert room.texts[0] == (
        "🪪 待人工审核的实名申请：@new:localhost。批准：POST /admin/realname/@new:localhost/approve"
    )
    assert "张" not in room.texts[0]  # never identity data, not even masked
    assert room.texts[1].startswith("📝 新申诉 ap_1，针对处置 sn_1：我没有违规")
    assert len(room.texts[1]) < 340  # long appeal texts are cut
    assert len(room.texts) == 2
    # Submitting again after a rejection is a new review.
    module.pending = [{"user_id": "@new:localhost", "submitted_at": 2}]
    await desk.poll()
    assert len(room.with_("待人工审核的实名申请：@new:localhost")) == 2


async def test_announcements_waiting_for_review_are_announced_once_with_the_commands(
    make_desk: Callable[..., Desk], module: Module, room: Room
) -> None:
    module.announcements = [
        {"id": "an_1", "code": "123456789", "room_id": "!r:localhost", "actor": "@o:localhost", "text": "周五停课"}
    ]
    desk = make_desk()
    await desk.poll()
    await desk.poll()
    assert room.texts == [
        "📢 待审核的群公告 an_1（群 123456789，提交人 @o:localhost）：\n周五停课\n"
        "通过：!公告审核 an_1 通过 · 驳回：!公告审核 an_1 驳回 [理由]"
    ]


# --- how soon a ticket is announced --------------------------------------------------------------


async def test_a_nudge_announces_a_new_ticket_at_once_without_waiting_for_the_poll_interval(
    make_desk: Callable[..., Desk], module: Module, room: Room
) -> None:
    desk = make_desk(poll_interval_s=3600)  # after the poll at start, only a nudge can announce
    await desk.start()
    try:
        await until(lambda: len(module.ticket_reads) == 1, "the poll at start")
        module.tickets = [live_ticket("tk_filed")]
        desk.nudge()
        await until(lambda: bool(room.with_("新工单 tk_filed")), "the nudged announcement")
    finally:
        await desk.stop()
    assert len(room.texts) == 1


async def test_a_burst_of_nudges_while_a_look_runs_costs_one_more_look_that_sees_every_ticket(
    make_desk: Callable[..., Desk], module: Module, room: Room
) -> None:
    desk = make_desk(poll_interval_s=3600)
    await desk.start()
    try:
        await until(lambda: len(module.ticket_reads) == 1, "the poll at start")
        module.delay_s = 0.3  # a slow module: the burst arrives while the first look waits
        module.tickets = [live_ticket("tk_0")]
        desk.nudge()
        await until(lambda: len(module.ticket_reads) == 2, "the first nudged look")
        for index in range(1, 50):
            module.tickets.append(live_ticket(f"tk_{index}", index))
            desk.nudge()
        await until(lambda: len(room.with_("新工单")) == 50, "every ticket of the burst")
        await asyncio.sleep(0.5)  # a stray extra look would have read again by now
    finally:
        await desk.stop()
    assert len(module.ticket_reads) == 3  # the poll at start, the first look, one for the whole burst


async def test_a_failed_nudged_look_is_logged_and_the_next_nudge_announces(
    make_desk: Callable[..., Desk], module: Module, room: Room
) -> None:
    desk = make_desk(poll_interval_s=3600)
    await desk.start()
    try:
        await until(lambda: len(module.ticket_reads) == 1, "the poll at start")
        module.tickets = [live_ticket("tk_1")]
        module.failing.add("reports")
        desk.nudge()
        await until(lambda: module.refused == 1, "the failing look")
        module.failing.clear()
        desk.nudge()
        await until(lambda: bool(room.with_("新工单 tk_1")), "the announcement after the module is back")
    finally:
        await desk.stop()
    desk.nudge()  # after stop: nothing runs, nothing raises
    assert len(room.texts) == 1


async def test_polls_read_only_fresh_tickets_and_every_open_ticket_once_a_minute(
    make_desk: Callable[..., Desk], module: Module, room: Room, clock: FakeClock
) -> None:
    module.tickets = [ticket("tk_1", created_ts=NOW_MS - HOUR_MS)]
    desk = make_desk()
    await desk.poll()
    await desk.poll()
    assert module.ticket_reads == [
        {"open": "true", "limit": "500"},
        {"open": "true", "since": str(NOW_MS - HOUR_MS - 10_000), "limit": "500"},
    ]
    # A ticket created a moment before the newest one seen but visible only now is still found.
    module.tickets.append(ticket("tk_late", created_ts=NOW_MS - HOUR_MS - 5_000))
    await desk.poll()
    assert room.with_("新工单 tk_late")
    clock.now += 60
    await desk.poll()
    assert module.ticket_reads[-1] == {"open": "true", "limit": "500"}
    assert len(room.texts) == 2


# --- reminders ------------------------------------------------------------------------------------


async def test_a_ticket_gets_a_reminder_before_its_deadline_and_one_when_it_passes(
    make_desk: Callable[..., Desk], module: Module, state: BotState
) -> None:
    module.tickets = [ticket("tk_day"), ticket("tk_short", window_ms=60_000), ticket("tk_now", window_ms=0)]
    desk = make_desk()
    await desk.poll()
    await desk.poll()
    due = {item.id: item.due_ms for item in await state.schedules()}
    day, short = NOW_MS + 24 * HOUR_MS, NOW_MS + 60_000
    assert due == {
        f"before:tk_day:{day}": day - 1800 * 1000,  # reminder_before
        f"breach:tk_day:{day}": day,
        f"before:tk_short:{short}": short - 15_000,  # at most a quarter of its window
        f"breach:tk_short:{short}": short,
        f"breach:tk_now:{NOW_MS}": NOW_MS,  # no time before: only the breach
    }


async def test_a_reminder_is_posted_only_for_a_ticket_still_open_at_the_same_deadline(
    make_desk: Callable[..., Desk], module: Module, room: Room, state: BotState, clock: FakeClock
) -> None:
    deadline = NOW_MS + HOUR_MS
    module.tickets = [ticket("tk_1", window_ms=HOUR_MS)]
    desk = make_desk()
    payload = json.dumps({"ticket": "tk_1", "deadline": deadline})
    before = ScheduledItem(f"before:tk_1:{deadline}", "before", deadline - 1000, payload)
    breach = ScheduledItem(f"breach:tk_1:{deadline}", "breach", deadline, payload)
    for item in (before, breach):
        await state.add_schedule(item)

    await desk._fire(before)
    await desk._fire(before)  # armed twice by a restart: once
    assert room.texts == ["⏰ 提醒：工单 tk_1（诈骗）将于 2023-11-15 07:13（北京时间）到期，尚未处理。"]
    clock.now = (deadline + 1000) / 1000
    await desk._fire(breach)
    assert room.texts[-1] == "🚨 超时：工单 tk_1（诈骗）已超过处理时限 2023-11-15 07:13（北京时间），请立即处理。"
    assert await state.schedules() == []

    # Closed meanwhile, deadline moved by a more urgent report, gone, or the bot was down past it: silence.
    for changed in ({"status": "resolved"}, {"deadline_ts": deadline - 1}):
        module.tickets = [ticket("tk_1", window_ms=HOUR_MS, **changed)]
        await state.add_schedule(breach)
        await desk._fire(breach)
    module.tickets = [ticket("tk_1", window_ms=HOUR_MS)]
    await state.add_schedule(before)
    await desk._fire(before)  # now is past the deadline: the breach reminder says it
    module.tickets = []
    await state.add_schedule(breach)
    await desk._fire(breach)
    assert len(room.texts) == 2 and await state.schedules() == []


async def test_a_reminder_the_module_could_not_check_is_kept_for_the_next_start(
    make_desk: Callable[..., Desk], module: Module, room: Room, state: BotState
) -> None:
    module.tickets = [ticket("tk_1")]
    item = ScheduledItem("breach:tk_1:1", "breach", NOW_MS, json.dumps({"ticket": "tk_1", "deadline": 1}))
    await state.add_schedule(item)
    module.failing.add("ticket")
    with pytest.raises(QunzuApiError):
        await make_desk()._fire(item)
    assert await state.schedules() == [item] and room.texts == []


async def test_start_fires_reminders_due_while_down_and_keeps_polling_after_the_module_failed(
    make_desk: Callable[..., Desk], module: Module, room: Room, state: BotState
) -> None:
    # The real clock: APScheduler fires by wall time. The reminder was due an hour ago.
    deadline = int(time.time() * 1000) - HOUR_MS
    module.tickets = [ticket("tk_late", created_ts=deadline - HOUR_MS, deadline_ts=deadline)]
    await state.add_schedule(
        ScheduledItem(
            f"breach:tk_late:{deadline}", "breach", deadline, json.dumps({"ticket": "tk_late", "deadline": deadline})
        )
    )
    module.failing.add("reports")  # the first polls fail: logged, the desk goes on
    desk = make_desk(poll_interval_s=0.05)
    await desk.start()
    try:
        await until(lambda: bool(room.with_("🚨 超时：工单 tk_late")), "reminder at start")
        await until(lambda: module.refused >= 2, "a failing poll")
        module.failing.clear()
        await until(lambda: bool(room.with_("新工单 tk_late")), "announcement after the module is back")
    finally:
        await desk.stop()
    assert len(room.with_("🚨 超时：工单 tk_late")) == 1


# --- the daily digest -------------------------------------------------------------------------------


async def test_the_digest_is_posted_once_a_day_with_the_counts_of_the_last_24_hours(
    make_desk: Callable[..., Desk], module: Module, room: Room, clock: FakeClock
) -> None:
    module.stats = {"opened": 5, "resolved": 3, "dismissed": 1, "closed_late": 1, "open": 2, "overdue": 1}
    desk = make_desk()
    await desk.digest()
    await desk.digest()
    assert room.texts == [
        "📊 每日汇总（过去 24 小时）：新工单 5，已处理 3，驳回 1，超时后处理 1。当前：待处理 2，处理中 0，已超时 1。"
    ]
    assert module.stats_since == [NOW_MS - 24 * HOUR_MS]
    clock.now += 86400
    await desk.digest()
    assert len(room.texts) == 2


async def test_a_digest_missed_while_down_is_caught_up_at_the_next_poll_and_a_new_desk_waits(
    make_desk: Callable[..., Desk], room: Room, state: BotState, clock: FakeClock
) -> None:
    # NOW_MS is 06:13 China Standard Time.
    desk = make_desk(digest_time="06:00")
    await desk.poll()
    assert room.texts == []  # a new desk starts counting today: no digest of a day it did not see
    clock.now += 86400  # the bot was down over the next 06:00
    await desk.poll()
    await desk.poll()
    assert len(room.with_("📊 每日汇总")) == 1

    clock.now += 86400 - 3 * 3600  # 03:13 of the day after: before today's digest time
    await make_desk(digest_time="06:00").poll()
    assert len(room.with_("📊 每日汇总")) == 1
