"""Credit, sanctions, the ladder and the blacklist (Art. 7, 11) as people meet them, on a real Synapse."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from devtools.homeserver import SynapseProcess
from policies.display import format_time

from .bot_fixtures import service_account_fixture  # noqa: F401  (fixture, registered under its name)
from .conftest import SharedServers, database_name, fresh_localpart, pg_query
from .identities import fresh_id_number
from .matrix import Matrix
from .sanction_helpers import eventually, joined_members, notices, sanction, set_power, verified

DAY_S = 24 * 3600


async def room_with_member(as_user: Callable[..., Matrix], synapse: SynapseProcess) -> tuple[Matrix, Matrix, str]:
    owner = await verified(as_user, synapse, "owner")
    member = await verified(as_user, synapse, "member")
    room = await owner.new_room(name="整改测试群", preset="public_chat")
    status, reply = await member.join(room)
    assert status == 200, reply
    return owner, member, room


# --- rooms -------------------------------------------------------------------------------


async def test_room_posting_suspension_refuses_members_with_its_end_and_lifting_restores_posting(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    owner, member, room = await room_with_member(as_user, synapse)
    record = await sanction(staff, "room", room, "posting_suspension", duration="1h")
    assert record["active"] and record["end"] - record["start"] == 3600 * 1000
    for person in (member, owner):
        status, reply = await person.send_text(room, "还能发言吗")
        assert status == 403, reply
        assert reply["cn.qunzu.reason"] == "posting_suspended_room"
        assert reply["cn.qunzu.detail"] == {"until": record["end"], "permanent": False}
        assert "恢复时间" in reply["error"]
    status, lifted = await staff.qunzu("DELETE", f"/admin/sanctions/{record['id']}", {"reason": "已整改"})
    assert status == 200, lifted
    assert lifted["active"] is False and lifted["lifted"]["by"] == staff.user_id
    status, reply = await member.send_text(room, "恢复了")
    assert status == 200, reply


async def test_a_suspension_of_seconds_ends_by_itself(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    _owner, member, room = await room_with_member(as_user, synapse)
    await sanction(staff, "room", room, "posting_suspension", duration=2)
    status, reply = await member.send_text(room, "暂停中")
    assert status == 403 and reply["cn.qunzu.reason"] == "posting_suspended_room"

    async def posts() -> bool:
        status, _ = await member.send_text(room, "到期了吗")
        return status == 200

    await eventually(posts, what="the suspension to end by itself")


async def test_postgres_mute_refuses_posting_until_it_ends_by_itself(
    shared_servers: SharedServers, as_user: Callable[..., Matrix]
) -> None:
    server = shared_servers.postgres()
    pg_database = database_name(server)
    staff = as_user(server.register(fresh_localpart("staff"), admin=True), server)
    member = await verified(as_user, server)
    room = await member.new_room(name="PG 禁言")
    record = await sanction(staff, "user", member.user_id, "mute", duration=3)
    status, reply = await member.send_text(room, "禁言中")
    assert status == 403 and reply["cn.qunzu.reason"] == "posting_suspended_user"
    assert reply["cn.qunzu.detail"]["until"] == record["end"]

    async def posts() -> bool:
        status, _ = await member.send_text(room, "到期了")
        return status == 200

    await eventually(posts, what="the mute to end by itself")
    rows = pg_query(pg_database, "SELECT measure, credit_delta FROM qunzu_sanctions WHERE id = %s", (record["id"],))
    assert rows == [("mute", -10)]
    rows = pg_query(
        pg_database,
        "SELECT before_score, after_score FROM qunzu_credit_changes WHERE sanction_id = %s",
        (record["id"],),
    )
    assert rows == [(100, 90)]
    status, verify = await staff.qunzu("GET", "/admin/audit/verify")
    assert verify["ok"] is True, verify


async def test_closure_removes_members_refuses_joins_and_is_reported(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix, service_account: dict[str, str]
) -> None:
    owner, member, room = await room_with_member(as_user, synapse)
    record = await sanction(staff, "room", room, "closure", category="gambling")
    assert record["permanent"] is True

    async def emptied() -> bool:
        return not set(await joined_members(staff, room)) & {owner.user_id, member.user_id}

    await eventually(emptied, what="members removed from the closed room")
    status, reply = await member.join(room)
    assert status == 403, reply
    assert reply["cn.qunzu.reason"] == "room_closed"
    status, reports = await staff.qunzu("GET", "/admin/regulator-reports")
    assert status == 200
    mine = [r for r in reports["reports"] if r["sanction"] == record["id"]]
    assert mine and mine[0]["kind"] == "closure" and "第十一条" in mine[0]["legal_basis"]
    # The owner is told in a direct chat from the service account, with the way to appeal.
    bodies = await eventually(lambda: _notices_with(owner, record["id"]), what="the owner's notice")
    assert "关闭群组" in bodies[0] and "!appeal" in bodies[0]


async def _notices_with(account: Matrix, needle: str) -> list[str] | None:
    found = [body for body in await notices(account) if needle in body]
    return found or None


# --- admins ------------------------------------------------------------------------------


async def test_a_suspended_admin_cannot_kick_or_change_power_but_another_admin_can(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    owner = await verified(as_user, synapse, "owner")
    suspended = await verified(as_user, synapse, "adm")
    other = await verified(as_user, synapse, "adm")
    target = await verified(as_user, synapse, "target")
    room = await owner.new_room(name="管理测试群", preset="public_chat")
    for person in (suspended, other, target):
        assert (await person.join(room))[0] == 200
    await set_power(owner, room, {suspended.user_id: 50, other.user_id: 50})
    record = await sanction(staff, "user", suspended.user_id, "admin_suspension", duration="1d")
    kick = f"/_matrix/client/v3/rooms/{room}/kick"

    status, reply = await suspended.call("POST", kick, {"user_id": target.user_id, "reason": "test"})
    assert status == 403, reply
    assert reply["cn.qunzu.reason"] == "admin_suspended"
    assert reply["cn.qunzu.detail"] == {"until": record["end"], "permanent": False}
    assert "管理权限" in reply["error"]
    status, reply = await suspended.call("POST", f"/_matrix/client/v3/rooms/{room}/ban", {"user_id": target.user_id})
    assert status == 403 and reply["cn.qunzu.reason"] == "admin_suspended"
    path = f"/_matrix/client/v3/rooms/{room}/state/m.room.power_levels/"
    status, levels = await suspended.call("GET", path)
    levels["users"][target.user_id] = 50
    status, reply = await suspended.send_state(room, "m.room.power_levels", levels)
    assert status == 403 and reply["cn.qunzu.reason"] == "admin_suspended"
    # Posting is not an admin function: it still works.
    assert (await suspended.send_text(room, "我还能发言"))[0] == 200

    status, reply = await other.call("POST", kick, {"user_id": target.user_id, "reason": "test"})
    assert status == 200, reply
    assert target.user_id not in await joined_members(staff, room)


# --- users, credit, blacklist --------------------------------------------------------------


async def test_a_mute_is_server_wide_names_its_end_and_its_notice_says_how_to_appeal(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix, service_account: dict[str, str]
) -> None:
    _owner, member, room = await room_with_member(as_user, synapse)
    status, sent = await member.send_text(room, "违规内容样本")
    assert status == 200
    record = await sanction(staff, "user", member.user_id, "mute", duration="7d", evidence=[sent["event_id"]])
    evidence = record["evidence"][0]
    content = {"msgtype": "m.text", "body": "违规内容样本"}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert evidence["content_sha256"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert (evidence["room_id"], evidence["sender"]) == (room, member.user_id)

    status, reply = await member.send_text(room, "我被禁言了吗")
    assert status == 403 and reply["cn.qunzu.reason"] == "posting_suspended_user"
    assert reply["cn.qunzu.detail"]["until"] == record["end"]
    status, me = await member.qunzu("GET", "/me")
    assert [s["id"] for s in me["sanctions"]] == [record["id"]]
    assert me["credit"]["score"] == 90 and me["credit"]["level"] == "B"

    bodies = await eventually(lambda: _notices_with(member, record["id"]), what="the mute notice")
    assert "禁言" in bodies[0] and "测试处理" in bodies[0] and "!appeal" in bodies[0]

    # The subject appeals; a person decides; upheld gives the credit back and ends the mute.
    status, appeal = await member.qunzu("POST", f"/sanctions/{record['id']}/appeal", {"text": "我没有违规"})
    assert status == 200, appeal
    status, _again = await member.qunzu("POST", f"/sanctions/{record['id']}/appeal", {"text": "再申诉"})
    assert status == 409
    status, listed = await staff.qunzu("GET", "/admin/appeals?status=open")
    assert appeal["id"] in [a["id"] for a in listed["appeals"]]
    status, decided = await staff.qunzu(
        "POST", f"/admin/appeals/{appeal['id']}/decide", {"outcome": "upheld", "reason": "误判"}
    )
    assert status == 200 and decided["status"] == "upheld"
    assert (await member.send_text(room, "恢复了"))[0] == 200
    status, me = await member.qunzu("GET", "/me")
    assert me["credit"]["score"] == 100 and me["sanctions"] == []


async def test_only_the_subject_may_appeal(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    member = await verified(as_user, synapse)
    stranger = await verified(as_user, synapse)
    record = await sanction(staff, "user", member.user_id, "warning")
    status, _reply = await stranger.qunzu("POST", f"/sanctions/{record['id']}/appeal", {"text": "替他申诉"})
    assert status == 404
    status, _reply = await member.qunzu("POST", f"/sanctions/{record['id']}/appeal", {"text": ""})
    assert status == 400


async def test_lower_credit_applies_the_new_levels_caps_at_once(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    member = await verified(as_user, synapse)
    for _ in range(2):
        await sanction(staff, "user", member.user_id, "credit_lowered")
    status, credit = await staff.qunzu("GET", f"/admin/users/{member.user_id}/credit")
    assert status == 200
    assert (credit["score"], credit["level"]) == (60, "D")
    assert [(c["before"], c["after"]) for c in credit["history"]] == [(80, 60), (100, 80)]
    status, reply = await member.create_room(name="建群试试")
    assert status == 403, reply
    assert reply["cn.qunzu.reason"] == "credit_insufficient"
    assert reply["cn.qunzu.detail"]["level"] == "D"
    # A staff adjustment with a reason brings it back (and is on the record).
    status, change = await staff.qunzu("POST", f"/admin/users/{member.user_id}/credit", {"delta": 15, "reason": "复核"})
    assert status == 200 and (change["before"], change["after"], change["level"]) == (60, 75, "C")
    assert (await member.create_room(name="建群试试"))[0] == 200


async def test_credit_follows_the_identity_to_a_new_account(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    number = fresh_id_number()
    first = await verified(as_user, synapse, id_number=number)
    await sanction(staff, "user", first.user_id, "credit_lowered")
    second = await verified(as_user, synapse, id_number=number)
    _status, me = await second.qunzu("GET", "/me")
    assert me["credit"]["score"] == 80


async def test_the_ladder_proposes_a_suspension_after_three_warnings_and_closure_for_a_severe_category(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    _owner, _member, room = await room_with_member(as_user, synapse)
    propose = {"subject": {"type": "room", "id": room}}
    for count in range(3):
        status, proposal = await staff.qunzu("POST", "/admin/sanctions/propose", propose)
        assert status == 200 and proposal["prior_measures"] == count
        assert proposal["proposal"]["measure"] == "warning"
        record = await sanction(staff, "room", room, "warning")
        assert record["end"] - record["start"] == 72 * 3600 * 1000  # the rectification deadline
    status, proposal = await staff.qunzu("POST", "/admin/sanctions/propose", propose)
    assert proposal["proposal"] == {
        "measure": "posting_suspension",
        "duration": 7 * DAY_S,
        "permanent": False,
        "credit_delta": -10,
        "blacklist": False,
    }
    status, severe = await staff.qunzu("POST", "/admin/sanctions/propose", {**propose, "category": "terrorism"})
    assert severe["severe"] is True
    assert severe["proposal"]["measure"] == "closure" and severe["proposal"]["blacklist"] is True


async def test_blacklisting_a_user_blocks_every_account_of_the_identity_and_is_published(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix, service_account: dict[str, str]
) -> None:
    number = fresh_id_number()
    first = await verified(as_user, synapse, id_number=number)
    second = await verified(as_user, synapse, id_number=number)
    room = await second.new_room(name="黑名单测试")
    status, entry = await staff.qunzu(
        "POST", "/admin/blacklist", {"subject": {"type": "user", "id": first.user_id}, "reason": "多次违规"}
    )
    assert status == 200, entry
    status, reply = await second.send_text(room, "还能发吗")
    assert status == 403 and reply["cn.qunzu.reason"] == "blacklisted"
    third = as_user(synapse.register(fresh_localpart("third")))
    status, reply = await third.verify(number)
    assert status == 403 and reply["cn.qunzu.reason"] == "blacklisted"
    status, reports = await staff.qunzu("GET", "/admin/regulator-reports")
    assert any(r["blacklist_entry"] == entry["id"] and r["kind"] == "blacklist" for r in reports["reports"])

    # Published to the policy list room as m.policy.rule.user with m.ban.
    status, synced = await staff.qunzu("POST", "/admin/policy-list/sync", {})
    assert status == 200, synced
    rule_path = f"/_matrix/client/v3/rooms/{synced['room_id']}/state/m.policy.rule.user/qunzu:{entry['id']}"
    reader = as_user(synapse.register(fresh_localpart("reader")))
    assert (await reader.join(synced["room_id"]))[0] == 200
    status, rule = await reader.call("GET", rule_path)
    assert status == 200, rule
    assert rule == {"entity": first.user_id, "recommendation": "m.ban", "reason": rule["reason"]}
    status, _ = await staff.qunzu("DELETE", f"/admin/blacklist/{entry['id']}", {"reason": "解除"})

    async def withdrawn() -> bool:
        await staff.qunzu("POST", "/admin/policy-list/sync", {})
        status, rule = await reader.call("GET", rule_path)
        return status == 200 and rule == {}

    await eventually(withdrawn, what="the rule withdrawn")


async def test_blacklisting_a_room_closes_it_and_reviews_its_owner_and_admins_by_the_policy(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix, service_account: dict[str, str]
) -> None:
    owner, admin, room = await room_with_member(as_user, synapse)
    member = await verified(as_user, synapse, "plain")
    assert (await member.join(room))[0] == 200
    await set_power(owner, room, {admin.user_id: 50})
    status, entry = await staff.qunzu(
        "POST", "/admin/blacklist", {"subject": {"type": "room", "id": room}, "reason": "赌博群"}
    )
    assert status == 200, entry

    async def measures_of(user_id: str) -> list[str] | None:
        status, found = await staff.qunzu("GET", f"/admin/sanctions?subject={quote(user_id)}")
        assert status == 200, found
        return [item["measure"] for item in found["sanctions"] if item["subject"]["id"] == user_id] or None

    # Art. 11: the owner loses the right to create groups, each admin credit (policies/default.yaml).
    assert await eventually(lambda: measures_of(owner.user_id), what="the owner reviewed") == ["creation_revoked"]
    assert await eventually(lambda: measures_of(admin.user_id), what="the admin reviewed") == ["credit_lowered"]
    assert await measures_of(member.user_id) is None

    async def emptied() -> bool:
        return not set(await joined_members(staff, room)) & {owner.user_id, admin.user_id, member.user_id}

    await eventually(emptied, what="members removed from the blacklisted room")
    status, reply = await member.join(room)
    assert status == 403 and reply["cn.qunzu.reason"] == "room_closed", reply
    # The room is closed by a closure that blacklists it: the entry is that measure, the one the
    # refusal names for the owner's appeal, and it is reported to the regulator once.
    status, closure = await staff.qunzu("GET", f"/admin/sanctions/{entry['id']}")
    assert status == 200 and closure["measure"] == "closure" and closure["subject"]["id"] == room, closure
    assert reply["cn.qunzu.detail"]["ref"] == entry["id"], reply
    status, reports = await staff.qunzu("GET", "/admin/regulator-reports")
    assert [r["kind"] for r in reports["reports"] if entry["id"] in (r["blacklist_entry"], r["sanction"])] == [
        "blacklist"
    ], reports


async def test_bad_requests_get_clear_400s_and_unknown_ids_404s(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix, member: Matrix
) -> None:
    cases: list[tuple[dict[str, Any], int]] = [
        ({"subject": {"type": "room", "id": "!nope:localhost"}, "measure": "closure", "reason": "x"}, 404),
        ({"subject": {"type": "user", "id": f"@nobody-{member.user_id[1:]}"}, "measure": "mute", "reason": "x"}, 404),
        ({"subject": {"type": "user", "id": member.user_id}, "measure": "closure", "reason": "x"}, 400),
        ({"subject": {"type": "user", "id": member.user_id}, "measure": "explode", "reason": "x"}, 400),
        (
            {"subject": {"type": "user", "id": member.user_id}, "measure": "mute", "reason": "x", "duration": "soon"},
            400,
        ),
        (
            {"subject": {"type": "user", "id": member.user_id}, "measure": "mute", "reason": "x", "evidence": ["$x"]},
            400,
        ),
        ({"subject": {"type": "user", "id": member.user_id}, "measure": "mute"}, 400),
        ({"subject": "someone", "measure": "mute", "reason": "x"}, 400),
    ]
    for body, expected in cases:
        status, reply = await staff.qunzu("POST", "/admin/sanctions", body)
        assert status == expected, (body, reply)
    assert (await staff.qunzu("DELETE", "/admin/sanctions/sn_unknown", {"reason": "x"}))[0] == 404
    # A mistyped account is no one to blacklist either.
    nobody = f"@nobody-{member.user_id[1:]}"
    status, reply = await staff.qunzu(
        "POST", "/admin/blacklist", {"subject": {"type": "user", "id": nobody}, "reason": "x"}
    )
    assert status == 404 and reply["error"] == f"本服务器没有这个账号：{nobody}。请检查拼写。", reply
    assert (await member.qunzu("POST", "/admin/sanctions", {}))[0] == 403
    status, reply = await staff.qunzu("POST", f"/admin/users/{member.user_id}/credit", {"delta": 5, "reason": "x"})
    assert status == 409  # not verified: no credit


def _now_ms() -> int:
    return int(time.time() * 1000)


async def test_a_person_blacklisted_at_the_blacklist_endpoint_is_told_and_appeals_that_entry_by_its_reference(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    person = await verified(as_user, synapse, "listed")
    room = await staff.new_room(name="申诉测试", preset="public_chat")
    assert (await person.join(room))[0] == 200
    body = {"subject": {"type": "user", "id": person.user_id}, "reason": "多次发广告", "until": "7d"}
    status, entry = await staff.qunzu("POST", "/admin/blacklist", body)
    assert status == 200 and entry["id"].startswith("bl_") and entry["covers_identity"] is True, entry
    # The refusal names the entry to appeal, in its text too; the bot chat says it as well.
    status, reply = await person.send_text(room, "还能发吗")
    assert status == 403 and reply["cn.qunzu.reason"] == "blacklisted", reply
    assert reply["cn.qunzu.detail"]["ref"] == entry["id"] and entry["id"] in reply["error"], reply
    # ... and when it ends.
    assert reply["cn.qunzu.detail"]["until"] == entry["until"], reply
    assert reply["error"].startswith(f"你的账号已被列入黑名单（解除时间：{format_time(entry['until'])}）"), reply
    (notice, *_) = await eventually(lambda: _notices_with(person, entry["id"]), what="the blacklisting notice")
    assert "多次发广告" in notice and f"!appeal {entry['id']}" in notice, notice
    # It is on the person's record, and a later decision does not take the appeal's place.
    status, record = await staff.qunzu("GET", f"/admin/sanctions/{entry['id']}")
    assert status == 200 and record["measure"] == "blacklist", record
    await sanction(staff, "user", person.user_id, "warning")
    status, appeal = await person.qunzu("POST", "/appeals", {"ref": entry["id"], "text": "我没有发广告"})
    assert status == 200 and appeal["sanction"] == entry["id"], appeal
    await _uphold(staff, appeal, "核实为误判")
    # Upheld: the measure is overturned and its entry lifted with it.
    assert (await person.send_text(room, "恢复了"))[0] == 200
    assert entry["id"] not in [item["id"] for item in await _active_blacklist(staff)]


async def test_a_closure_that_blacklisted_its_room_opens_it_again_when_the_owners_appeal_is_upheld(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    owner, member, room = await room_with_member(as_user, synapse)
    status, group = await owner.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/state/cn.qunzu.group/")
    assert status == 200, group
    code = group["code"]
    record = await sanction(staff, "room", room, "closure", blacklist=True)

    async def retired() -> bool:
        status, audit = await staff.qunzu("GET", f"/admin/audit?subject={code}")
        return status == 200 and any(entry["action"] == "group.retire" for entry in audit["entries"])

    # The closure's follow-up removes the members and retires the code.
    await eventually(retired, what="the closure's retirement of the group's code")
    status, listed = await staff.qunzu("GET", "/admin/blacklist")
    assert status == 200, listed
    (entry,) = [item for item in listed["entries"] if item["subject"]["id"] == room]
    assert entry["id"] == record["id"]  # the closure's own entry
    status, refused = await member.join(room)
    assert status == 403 and refused["cn.qunzu.reason"] == "room_closed", refused

    status, appeal = await owner.qunzu("POST", "/appeals", {"ref": record["id"], "text": "已整改完毕"})
    assert status == 200 and appeal["sanction"] == record["id"], appeal
    await _uphold(staff, appeal, "核实为误判")
    # Upheld: the closure is lifted, and with it the room's blacklisting; the group is back under
    # its code, and people may come back.
    status, joined = await member.join(room)
    assert status == 200, joined
    status, page = await member.qunzu("GET", f"/groups/{code}")
    assert status == 200 and page["room_id"] == room, page
    assert room not in [item["subject"]["id"] for item in await _active_blacklist(staff)]


async def test_a_person_whose_identity_number_is_blacklisted_appeals_that_entry_and_an_upheld_appeal_lifts_it(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    number = fresh_id_number()
    person = await verified(as_user, synapse, "idlisted", id_number=number)
    room = await staff.new_room(name="身份申诉", preset="public_chat")
    assert (await person.join(room))[0] == 200
    await sanction(staff, "user", person.user_id, "warning")  # an earlier decision, not the one to appeal
    body = {"subject": {"type": "identity", "id": number}, "reason": "冒用他人身份"}
    status, entry = await staff.qunzu("POST", "/admin/blacklist", body)
    assert status == 200 and entry["id"].startswith("bl_"), entry
    # The refusal names the entry: no measure made it, the entry is the decision.
    status, reply = await person.send_text(room, "还能发吗")
    assert status == 403 and reply["cn.qunzu.reason"] == "blacklisted", reply
    assert reply["cn.qunzu.detail"]["ref"] == entry["id"] and entry["id"] in reply["error"], reply
    # Without a reference, the appeal takes the latest decision: this entry.
    status, appeal = await person.qunzu("POST", "/appeals", {"text": "我没有冒用身份"})
    assert status == 200 and appeal["sanction"] == entry["id"], appeal
    status, again = await person.qunzu("POST", "/appeals", {"ref": entry["id"], "text": "再说一次"})
    assert status == 409, again
    await _uphold(staff, appeal, "身份核实无误")
    assert (await person.send_text(room, "恢复了"))[0] == 200
    assert entry["id"] not in [item["id"] for item in await _active_blacklist(staff)]
    told = await eventually(lambda: _notices_with(person, "核实"), what="the appeal's outcome")
    assert any(entry["id"] in body for body in told), told


async def _uphold(staff: Matrix, appeal: dict[str, Any], reason: str) -> None:
    status, decided = await staff.qunzu(
        "POST", f"/admin/appeals/{appeal['id']}/decide", {"outcome": "upheld", "reason": reason}
    )
    assert status == 200, decided


async def _active_blacklist(staff: Matrix) -> list[dict[str, Any]]:
    status, listed = await staff.qunzu("GET", "/admin/blacklist")
    assert status == 200, listed
    return list(listed["entries"])
