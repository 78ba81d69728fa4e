"""Room owners and admins are told of reports and flags about their room (Art. 9), on the shared Synapse.

The notice lands in each one's direct chat with the service account, with the
room, ticket, category and deadline; never who reported. The reported person is
not told, even when they own the room.
"""

from __future__ import annotations

from collections.abc import Callable

from devtools.homeserver import SynapseProcess

from .matrix import Matrix
from .sanction_helpers import eventually, notices, set_power, verified


async def _told(person: Matrix, needle: str) -> str:
    async def probe() -> str | None:
        return next((body for body in await notices(person) if needle in body), None)

    return await eventually(probe, 30.0, f"a notice with {needle} to {person.user_id}")


async def _room(owner: Matrix, name: str, *members: Matrix) -> str:
    room = await owner.new_room(name=name, preset="public_chat")
    for member in members:
        status, reply = await member.join(room)
        assert status == 200, reply
    return room


async def test_an_owner_and_admin_are_told_of_a_report_about_their_room_without_the_reporter(
    as_user: Callable[..., Matrix], synapse: SynapseProcess
) -> None:
    owner, admin, reporter, accused = [await verified(as_user, synapse, p) for p in ("own", "adm", "rep", "acc")]
    room = await _room(owner, "读书交流群", admin, reporter, accused)
    await set_power(owner, room, {admin.user_id: 50})
    status, sent = await accused.send_text(room, "加我私聊，低价出售考试答案")
    assert status == 200, sent
    status, ticket = await reporter.qunzu(
        "POST", "/reports", {"room_id": room, "event_id": sent["event_id"], "category": "fraud", "reason": "骗钱"}
    )
    assert status == 200, ticket

    for person in (owner, admin):
        body = await _told(person, ticket["ticket"])
        assert body.startswith("你管理的群「读书交流群」有一条新的举报：工单 " + ticket["ticket"]), body
        assert "类别：诈骗" in body and "前处理" in body and sent["event_id"] in body
        assert reporter.user_id not in body and "骗钱" not in body
    assert not [b for b in await notices(accused) if ticket["ticket"] in b]
    # The reporter hears only their acknowledgement.
    assert all(b.startswith("你的举报已受理") for b in await notices(reporter) if ticket["ticket"] in b)


async def test_an_owner_reported_is_not_told_and_the_admin_is_and_flags_reach_them_too(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    owner, admin, reporter = [await verified(as_user, synapse, p) for p in ("own", "adm", "rep")]
    room = await _room(owner, "二手群", admin, reporter)
    await set_power(owner, room, {admin.user_id: 100})
    status, sent = await owner.send_text(room, "群主发的违规内容")
    assert status == 200, sent
    status, ticket = await reporter.qunzu(
        "POST", "/reports", {"room_id": room, "event_id": sent["event_id"], "category": "terrorism", "reason": "x"}
    )
    assert status == 200, ticket
    body = await _told(admin, ticket["ticket"])
    assert "类别：暴恐、极端主义" in body
    # A flagged message (delivered, reviewed by staff) is announced by the job.
    status, flagged = await reporter.send_text(room, "加微信领红包")
    assert status == 200, flagged
    status, run = await staff.qunzu("POST", "/admin/jobs/room_staff_notices", {})
    assert status == 200, run
    flag = await _told(owner, "内容标记")
    assert flag.startswith("你管理的群「二手群」有一条新的内容标记") and "垃圾广告" in flag
    assert not [b for b in await notices(owner) if ticket["ticket"] in b]
