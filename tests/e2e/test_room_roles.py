"""Who may use room admins' tools (Art. 9): creators and admins as Synapse counts them, per room version.

The module acts for a room admin on the service account's call
(`POST /admin/rooms/{room_id}/moderate`), after reading the actor's and the
target's role from the room's create event and power levels (`policies.roles`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from devtools.homeserver import Account, SynapseProcess

from .bot_fixtures import SERVICE_PASSWORD, SERVICE_USER_ID, service_account_fixture  # noqa: F401
from .matrix import Matrix, Reply
from .sanction_helpers import set_power, verified

NOT_ADMIN = "只有本群的群主和管理员可以这样做。"
PROTECTED = "不能对群主、级别不低于你的管理员或平台账号这样做。"


@pytest.fixture(name="service")
def service_fixture(synapse: SynapseProcess, service_account: dict[str, str], as_user: Callable[..., Matrix]) -> Matrix:
    if "access_token" in service_account:
        return as_user(Account(SERVICE_USER_ID, "", service_account["access_token"], ""))
    return as_user(synapse.login(SERVICE_USER_ID, SERVICE_PASSWORD))


async def _warn(service: Matrix, room_id: str, actor: Matrix, target: Matrix) -> Reply:
    body = {"actor": actor.user_id, "action": "warn", "target": target.user_id, "reason": ""}
    return await service.qunzu("POST", f"/admin/rooms/{quote(room_id)}/moderate", body)


async def _room(owner: Matrix, version: str, others: list[Matrix], **creation: Any) -> str:
    room_id = await owner.new_room(
        room_version=version, preset="public_chat", creation_content=creation, name=f"v{version} 读书会"
    )
    for other in others:
        status, reply = await other.join(room_id)
        assert status == 200, reply
    return room_id


async def _audited(staff: Matrix, room_id: str) -> set[tuple[str, str, str | None]]:
    status, audit = await staff.qunzu("GET", f"/admin/audit?subject={quote(room_id)}")
    assert status == 200, audit
    return {(row["actor"], row["action"], (row.get("details") or {}).get("target")) for row in audit["entries"]}


def _refused(reply: tuple[int, Any], text: str) -> None:
    status, body = reply
    assert status == 403, body
    assert body["errcode"] == "M_FORBIDDEN" and body["error"] == text, body


async def test_v12_additional_creators_are_creators_outside_the_power_levels(
    synapse: SynapseProcess, as_user: Callable[..., Matrix], service: Matrix, staff: Matrix
) -> None:
    owner, co, helper, member = [await verified(as_user, synapse, p) for p in ("own", "co", "helper", "mem")]
    room_id = await _room(owner, "12", [co, helper, member], additional_creators=[co.user_id])
    await set_power(owner, room_id, {helper.user_id: 50})

    # The additional creator is in no `users` map, yet holds unbounded power: an admin cannot act on them.
    _refused(await _warn(service, room_id, helper, co), PROTECTED)
    _refused(await _warn(service, room_id, helper, owner), PROTECTED)
    status, body = await _warn(service, room_id, co, helper)
    assert status == 200, body
    status, body = await _warn(service, room_id, helper, member)
    assert status == 200, body
    _refused(await _warn(service, room_id, member, helper), NOT_ADMIN)
    audited = await _audited(staff, room_id)
    assert {(co.user_id, "room.warn", helper.user_id), (helper.user_id, "room.warn", member.user_id)} <= audited
    assert not {a for a in audited if a[0] == member.user_id or a[2] == co.user_id}


@pytest.mark.parametrize("version", ["10", "11"])
async def test_before_v12_additional_creators_mean_nothing_and_the_sender_is_the_creator(
    version: str, synapse: SynapseProcess, as_user: Callable[..., Matrix], service: Matrix, staff: Matrix
) -> None:
    owner, named, helper, member = [await verified(as_user, synapse, p) for p in ("own", "named", "helper", "mem")]
    # Before room version 12 `additional_creators` is plain content: it grants no power in Synapse.
    room_id = await _room(owner, version, [named, helper, member], additional_creators=[named.user_id])
    await set_power(owner, room_id, {helper.user_id: 50})

    _refused(await _warn(service, room_id, named, member), NOT_ADMIN)
    status, body = await _warn(service, room_id, helper, named)
    assert status == 200, body
    _refused(await _warn(service, room_id, helper, owner), PROTECTED)
    status, body = await _warn(service, room_id, owner, helper)
    assert status == 200, body
    audited = await _audited(staff, room_id)
    assert (helper.user_id, "room.warn", named.user_id) in audited
    assert not {a for a in audited if a[0] == named.user_id}
