"""Sanctions survive a crash (kill -9) and credit recovers with time.

The crash is shared with the other tests of what survives one (`after_the_crash`): each
prepares its part before it (`Crash.before`) and checks it after.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from devtools.homeserver import SynapseProcess
from policies.constants import DAY_MS

from .conftest import Crash, fresh_localpart
from .matrix import Matrix
from .sanction_helpers import eventually, sanction, set_power, verified


@Crash.before("kill_9")
async def _before_kill_9(server: SynapseProcess, as_user: Callable[..., Matrix]) -> dict[str, Any]:
    staff = as_user(server.register(fresh_localpart("staff"), admin=True), server)
    member = await verified(as_user, server)
    other = as_user(server.register(fresh_localpart("other")), server)
    owner = await verified(as_user, server, "owner")
    room = await owner.new_room(name="持久化测试")
    for _ in range(2):
        await sanction(staff, "user", member.user_id, "credit_lowered")
    suspension = await sanction(staff, "room", room, "posting_suspension", duration="30d")
    status, entry = await staff.qunzu(
        "POST", "/admin/blacklist", {"subject": {"type": "user", "id": other.user_id}, "reason": "测试"}
    )
    assert status == 200
    assert (await member.create_room(name="D 级不能建群"))[0] == 403
    return {"staff": staff, "member": member, "room": room, "suspension": suspension, "entry": entry}


@Crash.while_down("kill_9")
def _down_kill_9(server: SynapseProcess, state: dict[str, Any]) -> None:
    # Simulated time: the last violation was ten weeks ago (recovery is computed from it on read).
    with sqlite3.connect(server.config_path.parent / "homeserver.db") as db:
        db.execute("UPDATE qunzu_credit SET anchor_ts = anchor_ts - ?", (70 * DAY_MS,))


async def test_kill_9_loses_no_measure_blacklist_entry_or_credit_change_and_credit_recovers(
    after_the_crash: Crash,
) -> None:
    before = after_the_crash.state("kill_9")
    staff, member, room = before["staff"], before["member"], before["room"]

    status, listed = await staff.qunzu("GET", f"/admin/sanctions?subject={room}&active=true")
    assert [s["id"] for s in listed["sanctions"]] == [before["suspension"]["id"]]
    status, entries = await staff.qunzu("GET", "/admin/blacklist")
    assert before["entry"]["id"] in [e["id"] for e in entries["entries"]]
    status, credit = await staff.qunzu("GET", f"/admin/users/{member.user_id}/credit")
    assert len(credit["history"]) == 2
    assert (credit["score"], credit["level"]) == (70, "C")  # 60 + 10 weeks × 1
    assert (await member.create_room(name="恢复后建群"))[0] == 200
    status, verify = await staff.qunzu("GET", "/admin/audit/verify")
    assert status == 200 and verify["ok"] is True, verify


async def _guard(account: Matrix) -> dict[str, object]:
    status, health = await account.qunzu("GET", "/health")
    assert status == 200, health
    guard: dict[str, object] = health["admin_guard"]
    return guard


@Crash.before("admin_guard")
async def _before_admin_guard(server: SynapseProcess, as_user: Callable[..., Matrix]) -> dict[str, Any]:
    staff = as_user(server.register(fresh_localpart("staff"), admin=True), server)
    owner = await verified(as_user, server, "owner")
    admin = await verified(as_user, server, "adm")
    targets = [await verified(as_user, server, "target") for _ in range(3)]
    room = await owner.new_room(name="守卫测试群", preset="public_chat")
    for person in (admin, *targets):
        assert (await person.join(room))[0] == 200
    await set_power(owner, room, {admin.user_id: 50})
    kick = f"/_matrix/client/v3/rooms/{room}/kick"

    # No suspension anywhere: the costly callback is not registered, kicks need no check.
    guard = await eventually(lambda: _swept(staff), what="the guard's first look")
    assert guard["armed"] is False
    status, reply = await admin.call("POST", kick, {"user_id": targets[0].user_id})
    assert status == 200, reply

    record = await sanction(staff, "user", admin.user_id, "admin_suspension", duration="1d")
    guard = await _guard(staff)
    assert guard["armed"] is True and isinstance(guard["since"], int)
    status, reply = await admin.call("POST", kick, {"user_id": targets[1].user_id})
    assert status == 403 and reply["cn.qunzu.reason"] == "admin_suspended", reply
    return {"staff": staff, "admin": admin, "targets": targets, "kick": kick, "record": record}


async def test_the_admin_guard_is_armed_by_a_suspension_survives_a_restart_and_stays_off_without_one(
    after_the_crash: Crash, restartable: SynapseProcess
) -> None:
    before = after_the_crash.state("admin_guard")
    staff, admin, targets, kick = before["staff"], before["admin"], before["targets"], before["kick"]
    server = restartable

    # The crash forgot the registration; the suspension in the database arms it again at start.
    await eventually(lambda: _armed(staff), what="the guard to be armed again after the restart")
    status, reply = await admin.call("POST", kick, {"user_id": targets[1].user_id})
    assert status == 403 and reply["cn.qunzu.reason"] == "admin_suspended", reply

    status, lifted = await staff.qunzu("DELETE", f"/admin/sanctions/{before['record']['id']}", {"reason": "恢复"})
    assert status == 200, lifted
    status, reply = await admin.call("POST", kick, {"user_id": targets[1].user_id})
    assert status == 200, (reply, await admin.call("GET", kick.replace("/kick", "/state/m.room.power_levels/")))
    # With no suspension left, the next start leaves the guard off.
    server.stop()
    server.start()
    guard = await eventually(lambda: _swept(staff), what="the guard's first look after the restart")
    assert guard["armed"] is False
    status, reply = await admin.call("POST", kick, {"user_id": targets[2].user_id})
    assert status == 200, reply


async def _armed(account: Matrix) -> bool:
    return (await _guard(account))["armed"] is True


async def _swept(account: Matrix) -> dict[str, object] | None:
    guard = await _guard(account)
    return guard if guard["swept"] is not None else None
