"""Every bot command a member, a room admin or staff types, and the bot's notices: what people see.

One Synapse (the `manual` real-name provider, so reviews waiting for staff exist, and
report deadlines of seconds, so a ticket goes overdue) and one bot with a moderation
desk serve the whole module; each test makes its own
accounts and rooms. Assertions read what a user would: the bot's zh-CN replies,
room state and membership, what the module refuses, and the module's records
through its HTTP API. Every wait polls with a deadline.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from bot.messages import t
from devtools.homeserver import SERVICE_LOCALPART, SynapseProcess

from .bot_fixtures import SERVICE_PASSWORD, BotRunner
from .conftest import SharedServers, fresh_localpart
from .desk_fixtures import Person, new_person, report_a_message, room_with
from .matrix import Matrix
from .sanction_helpers import set_power

SANCTION_ID = re.compile(r"sn_[0-9a-zA-Z_]+")
SANCTION_USAGE = "用法：!处置 user|room <对象> <措施> [时长] <理由>"


@dataclass
class World:
    """The server, the bot with its desk, a staff member sitting at the desk."""

    server: SynapseProcess
    bot: BotRunner
    desk_room: str
    staff: Person
    session: aiohttp.ClientSession
    people: list[Person] = field(default_factory=list)

    async def person(self, *, verified: bool = True) -> Person:
        account = self.server.register(fresh_localpart("c"))
        person = await new_person(self.server, self.session, account)
        self.people.append(person)
        if verified:
            status, body = await person.api.verify()
            assert status == 202 and body["status"] == "pending", body  # manual provider: staff review
            await self.staff_call("POST", f"/admin/realname/{quote(person.user_id)}/approve", {})
        return person

    async def staff_call(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = await self.staff.api.qunzu(method, path, body)
        assert status == 200, (method, path, status, answer)
        return answer

    def desk_messages(self) -> list[str]:
        return [str(ev["content"].get("body")) for ev in self.staff.view.bot_messages(self.desk_room)]

    async def wait_desk(self, needle: str, what: str, wait_s: float = 20.0) -> str:
        return await self.staff.view.wait_until(
            lambda: next((b for b in self.desk_messages() if needle in b), None), what, wait_s
        )

    async def at_desk(self, command: str) -> str:
        return await self.staff.ask(self.desk_room, command)


@pytest.fixture(name="world", scope="module")
async def world_fixture(
    tmp_path_factory: pytest.TempPathFactory, shared_servers: SharedServers
) -> AsyncIterator[World]:
    base: Path = tmp_path_factory.mktemp("bot-commands")
    server = shared_servers.manual()
    server.ensure_account(SERVICE_LOCALPART, SERVICE_PASSWORD)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        account = server.register(fresh_localpart("staff"), admin=True)
        staff = await new_person(server, session, account)
        desk_room = await staff.api.new_room(name="Qunzu moderation", preset="private_chat")
        runner = BotRunner(
            server,
            {"password": SERVICE_PASSWORD},
            base / "bot",
            extra_config={"moderation_room": desk_room, "desk_poll_interval": 1, "digest_time": "00:00"},
        )
        (base / "bot").mkdir()
        await runner.start()
        world = World(server, runner, desk_room, staff, session)
        try:
            yield world
        finally:
            await runner.stop()
            for person in [staff, *world.people]:
                await person.view.client.close()


async def group_code(person: Person, room_id: str) -> str:
    status, group = await person.api.call("GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/state/cn.qunzu.group/")
    assert status == 200, group
    return str(group["code"])


async def membership(person: Person, room_id: str, user_id: str) -> str | None:
    status, member = await person.api.call(
        "GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/state/m.room.member/{quote(user_id)}"
    )
    return str(member["membership"]) if status == 200 else None


async def bot_said(person: Person, room_id: str, needle: str, what: str) -> str:
    """Wait until the bot posted (not necessarily as a reply) a message containing `needle`."""
    view = person.view
    return await view.wait_until(
        lambda: next(
            (str(ev["content"]["body"]) for ev in view.bot_messages(room_id) if needle in ev["content"]["body"]),
            None,
        ),
        what,
    )


async def audit_actions(world: World, subject: str) -> set[tuple[str, str]]:
    audit = await world.staff_call("GET", f"/admin/audit?subject={quote(subject)}")
    return {(row["actor"], row["action"]) for row in audit["entries"]}


# --- members: the info page and the rules --------------------------------------------------------


async def test_info_and_rules_show_the_group_page_and_the_convention(world: World) -> None:
    owner, member = await world.person(), await world.person()
    topic = "只聊读书，不发广告"
    room = await room_with(
        owner, member, name="读书会", initial_state=[{"type": "m.room.topic", "content": {"topic": topic}}]
    )
    code = await group_code(owner, room)

    info = await member.ask(room, "!群信息")
    lines = info.splitlines()
    assert lines[0] == f"群组编码：{code}"
    assert "名称：读书会" in lines and "类别：综合" in lines and "人数：2" in lines
    assert f"群主：{owner.user_id}" in lines
    # Labels, never the raw tier and status names.
    assert "规模：小型｜活跃度：低活跃" in lines and "状态：正常" in lines
    assert await member.ask(room, "!info") == info

    rules = await member.ask(room, "!rules")
    assert rules.startswith(f"本群群规：{topic}\n\n平台公约（版本 ")
    convention = await world.staff_call("GET", "/convention")
    assert str(convention["text"]).strip() in rules
    bare = await room_with(owner, name="无群规")
    assert (await owner.ask(bare, "!群规")).startswith("本群群规：群主尚未设置（见群简介）。")


# --- room admins ----------------------------------------------------------------------------------


async def test_room_admin_warn_ban_and_announce_are_seen_in_the_room_and_recorded(world: World) -> None:
    owner, member, bystander = await world.person(), await world.person(), await world.person()
    room = await room_with(owner, member, bystander, name="二手群")

    warned = await owner.ask(room, f"!警告 {member.user_id} 刷屏广告")
    assert warned == f"⚠️ {member.user_id}，你收到了本群管理员的警告：刷屏广告。请遵守群规和平台公约。"
    assert await owner.ask(room, f"!warn {member.user_id}") == "用法：!警告 @用户 <理由>"

    await owner.view.send(room, "!公告 周六下午三点线下聚会")
    await bot_said(bystander, room, "📢 群公告\n周六下午三点线下聚会", "the announcement")
    assert await owner.ask(room, "!公告") == "用法：!公告 <内容>"
    assert await bystander.ask(room, "!公告 我也要发") == "你无权在这里使用 !公告。"

    assert await owner.ask(room, "!ban") == "用法：!封禁 @用户 [理由]"
    assert await owner.ask(room, f"!ban {member.user_id} 屡次发广告") == f"已将 {member.user_id} 移出本群并禁止再加入。"
    assert await membership(owner, room, member.user_id) == "ban"
    status, refused = await member.api.join(room)
    assert status == 403, refused

    actions = await audit_actions(world, room)
    assert {(owner.user_id, f"room.{a}") for a in ("warn", "announce", "ban")} <= actions


async def test_approve_invites_a_knocker_who_is_welcomed_and_role_changes_are_announced(world: World) -> None:
    owner, knocker, stranger = await world.person(), await world.person(), await world.person()
    topic = "同城跑步，每周六早上"
    room = await room_with(
        owner,
        name="跑步群",
        initial_state=[
            {"type": "m.room.join_rules", "content": {"join_rule": "knock"}},
            {"type": "m.room.topic", "content": {"topic": topic}},
        ],
    )
    code = await group_code(owner, room)
    status, body = await knocker.api.call("POST", f"/_matrix/client/v3/knock/{quote(room)}", {"reason": "想加入"})
    assert status == 200, body
    assert await owner.ask(room, "!同意") == "用法：!同意 @用户"
    assert await owner.ask(room, f"!approve {knocker.user_id}") == f"已同意 {knocker.user_id} 的入群申请并发出邀请。"
    assert await membership(owner, room, knocker.user_id) == "invite"
    # Someone who did not knock: the module's own explanation, one line.
    refused = await owner.ask(room, f"!approve {stranger.user_id}")
    assert "\n" not in refused and refused != "抱歉，处理这条命令时出错了，请稍后再试。"
    assert await membership(owner, room, stranger.user_id) is None

    status, body = await knocker.api.join(room)
    assert status == 200, body
    welcome = await bot_said(owner, room, f"欢迎 {knocker.user_id} 加入", "the welcome")
    assert welcome.startswith(f"欢迎 {knocker.user_id} 加入！群组编码：{code}｜类别：综合\n群规：{topic}\n")
    assert "!举报" in welcome

    await set_power(owner.api, room, {knocker.user_id: 50})
    await bot_said(owner, room, f"身份变更：{knocker.user_id} 现在是管理员。", "the new admin announced")
    await set_power(owner.api, room, {knocker.user_id: 0})
    await bot_said(owner, room, f"身份变更：{knocker.user_id} 现在是成员。", "the former admin announced")
    assert sum(f"欢迎 {knocker.user_id}" in ev["content"]["body"] for ev in owner.view.bot_messages(room)) == 1


async def test_category_is_changed_by_the_creator_only(world: World) -> None:
    owner, helper = await world.person(), await world.person()
    room = await room_with(owner, helper, name="学习小组")
    await set_power(owner.api, room, {helper.user_id: 50})
    code = await group_code(owner, room)

    assert await owner.ask(room, "!category study") == "本群类别已改为：学习。"
    page = await world.staff_call("GET", f"/groups/{code}")
    assert page["category"] == "study"
    assert await helper.ask(room, "!群类别 work") == "只有群主可以更改群类别。"
    assert await owner.ask(room, "!群类别") == "用法：!群类别 <类别>"
    unknown = await owner.ask(room, "!category 没有这个类别")
    assert "\n" not in unknown and unknown != "抱歉，处理这条命令时出错了，请稍后再试。"
    assert (await world.staff_call("GET", f"/groups/{code}"))["category"] == "study"


async def test_a_room_mute_lifted_through_the_sanctions_api_ends_at_once(world: World) -> None:
    owner, member = await world.person(), await world.person()
    room = await room_with(owner, member, name="禁言测试")
    assert (await owner.ask(room, f"!禁言 {member.user_id} 1h 刷屏")).startswith(
        f"{member.user_id} 已在本群被禁言，至 "
    )
    status, refused = await member.api.send_text(room, "还能说话吗")
    assert status == 403 and refused["cn.qunzu.reason"] == "posting_suspended_user", refused

    listed = await world.staff_call("GET", f"/admin/sanctions?subject={quote(member.user_id)}&active=true")
    (mute,) = [s for s in listed["sanctions"] if s["room_id"] == room]
    await world.staff_call("DELETE", f"/admin/sanctions/{mute['id']}", {"reason": "误操作"})
    status, sent = await member.api.send_text(room, "解除了")
    assert status == 200, sent


# --- staff at the moderation desk -------------------------------------------------------------------


async def test_staff_mute_a_user_and_lift_it_and_the_desk_announces_the_measure(world: World) -> None:
    target = await world.person()
    room = await room_with(target, name="自己的群")

    assert await world.at_desk(f"!sanction user {target.user_id}") == SANCTION_USAGE
    assert await world.at_desk("!sanction group x mute 1h 理由") == SANCTION_USAGE
    done = await world.at_desk(f"!处置 user {target.user_id} mute 1h 发布诈骗信息")
    assert done.startswith("已执行处置 sn_") and f"：禁言 → {target.user_id}，至 " in done
    sanction_id = SANCTION_ID.search(done)
    assert sanction_id is not None
    measure = sanction_id.group(0)
    status, refused = await target.api.send_text(room, "我被禁言了吗")
    assert status == 403 and refused["cn.qunzu.reason"] == "posting_suspended_user", refused
    announced = await world.wait_desk(f"⚖️ 处置 {measure}", "the new measure at the desk")
    assert f"禁言 → 用户 {target.user_id}" in announced and "原因：发布诈骗信息" in announced

    assert await world.at_desk(f"!lift {measure}") == "用法：!解除 <处置编号> <理由>"
    assert await world.at_desk(f"!解除 {measure} 经复核属误判") == f"处置 {measure} 已解除。"
    record = await world.staff_call("GET", f"/admin/sanctions/{measure}")
    assert record["active"] is False and record["lifted"]["reason"] == "经复核属误判"
    # The record names the staff member who typed the commands, not the bot.
    assert record["actor"] == world.staff.user_id and record["lifted"]["by"] == world.staff.user_id
    status, sent = await target.api.send_text(room, "可以说话了")
    assert status == 200, sent
    # The module's refusal text, not a stack trace, for a measure lifted already.
    again = await world.at_desk(f"!lift {measure} 再来一次")
    assert "\n" not in again and again != "抱歉，处理这条命令时出错了，请稍后再试。"


async def test_a_member_appeals_in_a_direct_chat_and_the_desk_sees_the_appeal(world: World) -> None:
    member = await world.person()
    group = await room_with(member, name="普通群")
    done = await world.at_desk(f"!sanction user {member.user_id} warning 不文明用语")
    found = SANCTION_ID.search(done)
    assert found is not None, done
    measure = found.group(0)

    assert await member.ask(group, f"!申诉 {measure} 我没有说脏话") == "!申诉 只能在与我的私聊中使用。"
    dm = await member.view.create_room(direct=True)
    assert await member.ask(dm, f"!appeal {measure}") == (
        "用法：!申诉 [编号] <理由>\n不写编号则申诉你最近的一项处置或被拦截的消息；"
        "编号见处置通知或拒绝提示（以 sn_、rm_ 或 cb_ 开头）。例如：!申诉 我没有发广告，请复核"
    )
    answer = await member.ask(dm, f"!申诉 {measure} 我没有说脏话，请复核")
    assert measure in answer
    appeals = await world.staff_call("GET", "/admin/appeals?status=open")
    (appeal,) = [a for a in appeals["appeals"] if a["sanction"] == measure]
    assert appeal["text"] == "我没有说脏话，请复核"
    announced = await world.wait_desk(f"📝 新申诉 {appeal['id']}", "the appeal at the desk")
    assert announced == f"📝 新申诉 {appeal['id']}，针对处置 {measure}：我没有说脏话，请复核"


async def test_credit_blacklist_and_lookup_from_the_desk(world: World) -> None:
    member = await world.person()
    room = await room_with(member, name="查询测试")
    code = await group_code(member, room)

    assert await world.at_desk(f"!credit {member.user_id} 很多 广告") == "用法：!信用 @用户 <±分数> <理由>"
    # One bounded parser: no float, exponent, non-ASCII digit or 24-digit number becomes a credit change.
    for hostile in ("1e20", "٥", "1" * 24, "+5", "5.0"):
        assert await world.at_desk(f"!credit {member.user_id} {hostile} 广告") == "用法：!信用 @用户 <±分数> <理由>"
    assert await world.at_desk(f"!信用 {member.user_id} -15 发布广告") == (
        f"{member.user_id} 的信用分：100 → 85（等级 "
        + (await world.staff_call("GET", f"/admin/users/{quote(member.user_id)}/credit"))["level"]
        + "）。"
    )
    credit = await world.staff_call("GET", f"/admin/users/{quote(member.user_id)}/credit")
    assert credit["score"] == 85
    (change,) = credit["history"]
    assert (change["delta"], change["reason"], change["actor"]) == (-15, "发布广告", world.staff.user_id)

    looked = await world.at_desk(f"!lookup {member.user_id}")
    assert looked.splitlines()[0] == member.user_id
    assert "实名：已认证" in looked and "信用：85（" in looked and "黑名单：否" in looked
    assert "张" not in looked  # the real name never reaches a chat room

    assert await world.at_desk("!blacklist add") == (
        "用法：!黑名单 add user|room <对象> <理由> · !黑名单 remove <条目> <理由>"
    )
    added = await world.at_desk(f"!黑名单 add user {member.user_id} 诈骗团伙成员")
    assert added.startswith("已加入黑名单，条目 ")
    entry = added.removeprefix("已加入黑名单，条目 ").removesuffix("。")
    listed = await world.staff_call("GET", "/admin/blacklist")
    (listed_entry,) = [e for e in listed["entries"] if e["id"] == entry]
    assert listed_entry["subject"]["id"] == member.user_id and listed_entry["actor"] == world.staff.user_id
    assert "黑名单：是" in await world.at_desk(f"!查询 {member.user_id}")
    assert await world.at_desk(f"!blacklist remove {entry} 申诉成立") == f"黑名单条目 {entry} 已解除。"
    assert "黑名单：否" in await world.at_desk(f"!lookup {member.user_id}")

    page = await world.at_desk(f"!lookup {code}")
    assert page.startswith(f"群组编码：{code}\n名称：查询测试") and page.endswith(room)
    assert await world.at_desk("!lookup") == "用法：!查询 @用户|<群组编码>"


async def test_emergency_freeze_of_a_room_stops_posting_until_lifted(world: World) -> None:
    member = await world.person()
    room = await room_with(member, name="突发事件群")
    assert await world.at_desk("!emergency thaw") == (
        "用法：!应急 freeze <all|category:类别|room:房间> <理由> · !应急 lift <编号> [理由]"
    )
    done = await world.at_desk(f"!应急 freeze room:{room} 突发事件处置")
    match = re.fullmatch(r"应急冻结 (\S+) 已生效（范围 (\S+)）。解除：!emergency lift \1", done)
    assert match is not None, done
    freeze, scope = match.groups()
    assert scope == f"room:{room}"
    status, refused = await member.api.send_text(room, "发生了什么")
    assert status == 403 and refused["cn.qunzu.reason"] == "emergency_freeze", refused

    assert await world.at_desk(f"!emergency lift {freeze}") == f"应急冻结 {freeze} 已解除。"
    status, sent = await member.api.send_text(room, "恢复了")
    assert status == 200, sent
    actions = await audit_actions(world, f"room:{room}")
    assert {(world.staff.user_id, "emergency.freeze"), (world.staff.user_id, "emergency.lift")} <= actions


async def test_desk_commands_are_refused_to_members_and_outside_the_desk(world: World) -> None:
    member = await world.person()
    room = await room_with(member)
    assert await member.ask(room, f"!sanction user {member.user_id} mute 1h 试试") == "你无权在这里使用 !sanction。"
    status, body = await world.staff.api.invite(world.desk_room, member.user_id)
    assert status == 200, body
    status, body = await member.api.join(world.desk_room)
    assert status == 200, body
    assert await member.ask(world.desk_room, "!emergency freeze all 试试") == "你无权在这里使用 !emergency。"


async def test_only_the_service_account_may_act_for_staff_and_only_for_staff(world: World) -> None:
    member = await world.person()
    body = {"delta": -1, "reason": "测试", "actor": world.staff.user_id}
    path = f"/admin/users/{quote(member.user_id)}/credit"
    other_staff = Matrix(world.session, world.server.base_url, world.server.register(fresh_localpart("s"), admin=True))
    status, refused = await other_staff.qunzu("POST", path, body)
    assert status == 403, refused
    async with world.session.post(
        f"{world.server.base_url}/_synapse/client/qunzu/v1{path}",
        json={**body, "actor": member.user_id},
        headers={"Authorization": f"Bearer {world.bot.access_token}"},
    ) as response:
        assert response.status == 403, await response.text()
    credit = await world.staff_call("GET", path)
    assert credit["score"] == 100 and credit["history"] == []


# --- the desk's feed ------------------------------------------------------------------------------


async def test_real_name_submissions_waiting_for_review_are_announced_at_the_desk(world: World) -> None:
    applicant = await world.person(verified=False)
    status, body = await applicant.api.verify()
    assert status == 202, body
    announced = await world.wait_desk(f"待人工审核的实名申请：{applicant.user_id}", "the pending review")
    assert announced.startswith("🪪 ")
    assert str(body["id_number"])[-4:] not in announced  # never identity data, not even masked
    await world.staff_call("POST", f"/admin/realname/{quote(applicant.user_id)}/approve", {})
    me = await applicant.api.qunzu("GET", "/me")
    assert me[1]["verification"]["status"] == "verified"


async def test_an_overdue_ticket_triggers_a_breach_reminder_and_is_listed_overdue(world: World) -> None:
    """This server's report deadlines are seconds (`MANUAL_SERVER_POLICY`): the ticket goes overdue here."""
    ticket = await report_a_message(await world.person(), await world.person())
    breach = await world.wait_desk(f"超时：工单 {ticket}", "the reminder on breach", 30)
    assert "超过处理时限" in breach
    overdue = (await world.staff_call("GET", "/admin/reports?overdue=true"))["tickets"]
    assert any(listed["id"] == ticket and listed["overdue"] for listed in overdue), overdue
    listing = await world.at_desk("!reports overdue")
    assert any(line.startswith(f"🚨超时 {ticket}｜") for line in listing.splitlines()), listing


async def test_the_daily_digest_missed_while_down_is_posted_once(world: World) -> None:
    bot = world.bot.bot
    assert bot is not None and bot.state is not None
    # The digest of 00:00 (China Standard Time) last ran on another day: the next poll catches up.
    await bot.state.put("desk.last_digest_day", "2000-01-01")
    digest = await world.wait_desk("📊 每日汇总", "the daily digest")
    assert re.fullmatch(
        r"📊 每日汇总（过去 24 小时）：新工单 \d+，已处理 \d+，驳回 \d+，超时后处理 \d+。"
        r"当前：待处理 \d+，处理中 \d+，已超时 \d+。",
        digest,
    ), digest
    assert await bot.state.get("desk.last_digest_day") != "2000-01-01"
    # Polls go on (a second announcement would be caught here): the next measure is announced alone.
    target = await world.person()
    done = await world.at_desk(f"!sanction user {target.user_id} warning 提醒")
    found = SANCTION_ID.search(done)
    assert found is not None
    await world.wait_desk(f"⚖️ 处置 {found.group(0)}", "a later announcement")
    assert sum("📊 每日汇总" in body for body in world.desk_messages()) == 1


async def test_an_unverified_newcomer_is_welcomed_with_the_way_to_verify_not_with_room_commands(world: World) -> None:
    """The room would refuse every command a newcomer who may not post sends there (DESIGN.md §6.3)."""
    owner, newcomer = await world.person(), await world.person(verified=False)
    room = await room_with(owner, newcomer, name="读书会")
    code = await group_code(owner, room)
    welcome = await bot_said(owner, room, f"欢迎 {newcomer.user_id} 加入", "the welcome of an unverified newcomer")
    assert welcome == (
        f"欢迎 {newcomer.user_id} 加入！群组编码：{code}｜类别：综合\n群规：{t('rules_none', 'zh-CN')}\n"
        "在本群发言（包括发送命令）前需要先完成实名认证（后台实名、前台自愿）："
        f"请私信我（{world.bot.user_id}）发送 !实名 获取你的认证链接；!帮助、!群规 也可以在私信中发送。"
    )
    status, refused = await newcomer.api.send_text(room, "!帮助")
    assert status == 403 and refused["cn.qunzu.reason"] == "realname_required"  # what it would have led to
