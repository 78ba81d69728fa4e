"""Owners' and admins' room tools (Art. 8, 9): invite confirmation, mute-all, pinned announcements.

The same server and bot-with-desk as tests/e2e/test_bot_commands.py (the `world`
fixture, imported: one shared Synapse, one bot for this module). Assertions read
what people see: the bot's zh-CN replies and notices, the refusal a client
receives, room state.
"""

from __future__ import annotations

import asyncio
import re
import time
from urllib.parse import quote

from .bot_fixtures import SERVICE_USER_ID
from .desk_fixtures import Person, room_with
from .sanction_helpers import set_power
from .test_bot_commands import World, audit_actions, bot_said, group_code, membership, world_fixture  # noqa: F401


async def test_a_members_invite_into_an_approval_room_waits_for_an_admin_to_confirm(world: World) -> None:
    owner, member, outsider = await world.person(), await world.person(), await world.person()
    # `private_chat` gives every member invite power (0): the member can invite anyone.
    room = await room_with(owner, member, name="家长群")
    assert await owner.ask(room, "!category minors") == "本群类别已改为：未成年人。"

    # The member's invite stands (the outsider sees it), but it is a request, not the approval.
    status, body = await member.api.invite(room, outsider.user_id)
    assert status == 200, body
    asked = (
        f"{member.user_id} 邀请了 {outsider.user_id}。"
        f"本群入群需要审核：群主或管理员发送 !同意 {outsider.user_id} 确认后，对方才能加入。"
    )
    assert await bot_said(owner, room, asked, "the admins asked to confirm the invite") == asked
    status, refused = await outsider.api.join(room)
    assert status == 403, refused
    assert refused["cn.qunzu.reason"] == "join_approval_required"
    assert refused["cn.qunzu.detail"]["via"] == "invite"
    assert refused["error"] == (
        "加入本群需要群主或管理员审核。请使用“申请加入”（敲门）提交申请，"
        f"或等待管理员确认你收到的邀请（邀请人 {member.user_id}）。"
    )
    assert await membership(owner, room, outsider.user_id) == "invite"

    # A plain member cannot confirm their own invite.
    assert await member.ask(room, f"!同意 {outsider.user_id}") == "你无权在这里使用 !同意。"
    assert (
        await owner.ask(room, f"!approve {outsider.user_id}")
        == f"已确认 {outsider.user_id} 的入群邀请，对方现在可以加入。"
    )
    status, body = await outsider.api.join(room)
    assert status == 200, body
    assert await membership(owner, room, outsider.user_id) == "join"


async def test_an_admins_invite_into_an_approval_room_is_the_approval(world: World) -> None:
    owner, guest = await world.person(), await world.person()
    room = await room_with(owner, name="理财群")
    assert await owner.ask(room, "!群类别 finance") == "本群类别已改为：金融理财。"
    status, body = await owner.api.invite(room, guest.user_id)
    assert status == 200, body
    status, body = await guest.api.join(room)
    assert status == 200, body
    # Nothing to confirm: the approval command says the person did not ask.
    refused = await owner.ask(room, f"!approve {guest.user_id}")
    assert refused == "该用户没有申请加入本群。"


async def test_mute_all_refuses_members_but_not_admins_until_lifted(world: World) -> None:
    owner, helper, member = await world.person(), await world.person(), await world.person()
    room = await room_with(owner, helper, member, name="车友群")
    await set_power(owner.api, room, {helper.user_id: 50})

    assert await owner.ask(room, "!muteall 1e20") == "用法：!全员禁言 [时长，如 30m、12h、7d；不写则直到解除]"
    assert await member.ask(room, "!全员禁言") == "你无权在这里使用 !全员禁言。"
    muted = await owner.ask(room, "!全员禁言 2h")
    assert muted.startswith("🔇 本群已开启全员禁言，至 ") and muted.endswith("。期间只有群主和管理员可以发言。")

    status, refused = await member.api.send_text(room, "有人吗")
    assert status == 403, refused
    assert refused["cn.qunzu.reason"] == "room_muted_all"
    until = refused["cn.qunzu.detail"]["until"]
    assert isinstance(until, int) and refused["cn.qunzu.detail"]["permanent"] is False
    assert refused["error"].startswith("本群已开启全员禁言，结束时间：")
    assert refused["error"].endswith("。只有群主和管理员可以发言。")
    for admin in (owner, helper):
        status, body = await admin.api.send_text(room, "通知：明天停车场维修")
        assert status == 200, body

    assert await helper.ask(room, "!解除全员禁言") == "🔊 本群的全员禁言已解除，大家可以发言了。"
    assert await helper.ask(room, "!unmuteall") == "本群没有开启全员禁言。"
    status, body = await member.api.send_text(room, "收到")
    assert status == 200, body
    assert {(owner.user_id, "room.mute_all"), (helper.user_id, "room.unmute_all")} <= await audit_actions(world, room)


async def pinned(person: Person, room_id: str) -> list[str]:
    status, state = await person.api.call(
        "GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/state/m.room.pinned_events/"
    )
    return list(state["pinned"]) if status == 200 else []


async def pinned_when(person: Person, room_id: str, length: int, wait_s: float = 20.0) -> list[str]:
    """The room's pins once there are `length` of them (the pin follows the announcement's message)."""
    deadline = time.monotonic() + wait_s
    while ((pins := await pinned(person, room_id)) and len(pins) < length) or not pins:
        if time.monotonic() > deadline:
            raise AssertionError(f"{length} pins were not set within {wait_s:.0f}s: {pins}")
        await asyncio.sleep(0.2)
    return pins


async def event_body(person: Person, room_id: str, event_id: str) -> str:
    status, event = await person.api.call("GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/event/{quote(event_id)}")
    assert status == 200, event
    assert event["sender"] == SERVICE_USER_ID
    return str(event["content"]["body"])


async def told_directly(person: Person, needle: str, wait_s: float = 20.0) -> str:
    """A notice from the service account in the person's direct chat with it (joined here if only invited)."""
    deadline = time.monotonic() + wait_s
    since = ""
    while time.monotonic() < deadline:
        status, sync = await person.api.call("GET", f"/_matrix/client/v3/sync?timeout=0{since}")
        assert status == 200, sync
        since = f"&since={sync['next_batch']}"
        for room_id in (sync.get("rooms") or {}).get("invite") or {}:
            await person.api.join(room_id)
        status, joined = await person.api.call("GET", "/_matrix/client/v3/joined_rooms")
        for room_id in joined.get("joined_rooms", []):
            status, page = await person.api.call(
                "GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/messages?dir=b&limit=50"
            )
            for event in page.get("chunk", []) if status == 200 else []:
                body = str(event.get("content", {}).get("body", ""))
                if event.get("sender") == SERVICE_USER_ID and needle in body:
                    return body
        await asyncio.sleep(0.5)
    raise AssertionError(f"{person.user_id} was not told {needle!r} within {wait_s:.0f}s")


async def test_an_announcement_is_posted_and_pinned_first_keeping_earlier_pins(world: World) -> None:
    owner, member = await world.person(), await world.person()
    room = await room_with(owner, member, name="小区群")
    earlier = await owner.view.send(room, "物业电话 12345")
    status, body = await owner.api.send_state(room, "m.room.pinned_events", {"pinned": [earlier]})
    assert status == 200, body

    await owner.view.send(room, "!公告 周六上午停水，请提前储水")
    shown = await bot_said(member, room, "📢 群公告\n周六上午停水，请提前储水", "the announcement")
    assert shown == "📢 群公告\n周六上午停水，请提前储水"
    first = await member.view.wait_until(
        lambda: next(
            (str(ev["event_id"]) for ev in member.view.bot_messages(room) if ev["content"]["body"] == shown), None
        ),
        "the announcement's event",
    )
    assert await pinned_when(member, room, 2) == [first, earlier]
    assert await event_body(member, room, first) == shown

    await owner.view.send(room, "!announce 周日恢复供水")
    await bot_said(member, room, "📢 群公告\n周日恢复供水", "the second announcement")
    pins = await pinned_when(member, room, 3)
    assert pins[1:] == [first, earlier] and await event_body(member, room, pins[0]) == "📢 群公告\n周日恢复供水"
    assert await member.ask(room, "!公告 我也来") == "你无权在这里使用 !公告。"


async def test_a_high_risk_groups_announcement_appears_only_after_staff_approve_it(world: World) -> None:
    owner, member = await world.person(), await world.person()
    room = await room_with(owner, member, name="理财交流")
    assert await owner.ask(room, "!category finance") == "本群类别已改为：金融理财。"
    code = await group_code(owner, room)

    pending = await owner.ask(room, "!公告 本周五晚八点线上分享")
    assert pending == ("本群的公告需要平台审核：已提交，审核通过后将由机器人发布并置顶，结果会私信通知你。")
    desk = await world.wait_desk("本周五晚八点线上分享", "the announcement at the desk")
    match = re.search(r"待审核的群公告 (an_[0-9a-f]+)（群 (\d+)，提交人 (\S+)）", desk)
    assert match is not None, desk
    announcement_id = match.group(1)
    assert match.group(2) == code and match.group(3) == owner.user_id
    assert desk.endswith(f"通过：!公告审核 {announcement_id} 通过 · 驳回：!公告审核 {announcement_id} 驳回 [理由]")
    # Not in the room, not pinned, until staff approve.
    await member.view.sync()
    assert not [ev for ev in member.view.bot_messages(room) if "本周五晚八点" in ev["content"]["body"]]
    assert await pinned(member, room) == []

    assert await world.at_desk(f"!公告审核 {announcement_id}") == "用法：!公告审核 <公告编号> 通过|驳回 [理由]"
    approved = await world.at_desk(f"!公告审核 {announcement_id} 通过")
    assert approved == f"公告 {announcement_id} 已通过并在群内发布、置顶，已私信通知提交人。"
    shown = await bot_said(member, room, "📢 群公告\n本周五晚八点线上分享", "the approved announcement")
    pins = await pinned_when(member, room, 1)
    assert len(pins) == 1 and await event_body(member, room, pins[0]) == shown
    told = await told_directly(owner, "提交的公告已通过平台审核")
    assert told == f"你在群 {code} 提交的公告已通过平台审核，已发布并置顶：\n本周五晚八点线上分享"
    # Decided once: a second decision is refused.
    again = await world.at_desk(f"!公告审核 {announcement_id} 驳回")
    assert "\n" not in again and again != "抱歉，处理这条命令时出错了，请稍后再试。"

    await owner.ask(room, "!公告 稳赚不赔的内部消息")
    desk = await world.wait_desk("稳赚不赔的内部消息", "the second announcement at the desk")
    match = re.search(r"待审核的群公告 (an_[0-9a-f]+)", desk)
    assert match is not None, desk
    rejected = await world.at_desk(f"!announcement {match.group(1)} reject 涉嫌荐股")
    assert rejected == f"公告 {match.group(1)} 已驳回，已私信通知提交人。"
    told = await told_directly(owner, "提交的公告未通过平台审核")
    assert told == f"你在群 {code} 提交的公告未通过平台审核，没有发布。理由：涉嫌荐股\n稳赚不赔的内部消息"
    await member.view.sync()
    assert not [ev for ev in member.view.bot_messages(room) if "稳赚不赔" in ev["content"]["body"]]
    assert await pinned(member, room) == pins
