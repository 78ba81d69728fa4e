"""Owners dissolve (解散群) and hand over (转让群主) their groups with the real bot (Art. 8, 9; DESIGN.md §6.4).

Shares the server of `test_bot_commands.py` (its `world` fixture: the `manual` provider,
a bot with a desk). Verified people are at credit level B: ten groups each.
"""

from __future__ import annotations

from urllib.parse import quote

from .desk_fixtures import Person, room_with
from .sanction_helpers import eventually, notices, set_power
from .test_bot_commands import World, bot_said, group_code
from .test_bot_commands import world_fixture as world_fixture  # the module-scoped server and bot

CAP = {"cap": 10, "count": 10, "level": "B"}


async def fill_cap(person: Person, more: int) -> None:
    for _ in range(more):
        await person.api.new_room(preset="private_chat")


async def page(world: World, code: str) -> dict[str, object]:
    return dict(await world.staff_call("GET", f"/groups/{code}"))


async def test_dissolve_names_the_code_then_closes_the_group_frees_the_place_and_retires_the_code(
    world: World,
) -> None:
    owner, admin = await world.person(), await world.person()
    room = await room_with(owner, admin, name="解散测试")
    code = await group_code(owner, room)
    await fill_cap(owner, 9)
    status, reply = await owner.api.create_room(preset="private_chat")
    assert (status, reply["cn.qunzu.reason"], reply["cn.qunzu.detail"]) == (403, "create_limit", CAP)

    # An admin is no owner: the module refuses, naming the owner.
    await set_power(owner.api, room, {admin.user_id: 50})
    answer = await admin.ask(room, "!dissolve")
    assert answer == f"只有群主可以进行这项操作（解散群、转让群主）：群 {code} 的群主是 {owner.user_id}。"

    # The owner is told the code and must send it back; a wrong code gets the usage line with the right one.
    answer = await owner.ask(room, "!解散")
    assert answer.startswith(f"确定要解散本群（群组编码 {code}）吗？"), answer
    assert answer.endswith(f"确认请发送：!解散 {code}"), answer
    assert await owner.ask(room, "!解散 123456782") == f"用法：!解散 {code}"
    assert (await page(world, code))["status"] == "active"

    await owner.view.send(room, f"!解散 {code}")
    await bot_said(admin, room, f"群主已解散本群（群组编码 {code}）", "the dissolution in the room")

    async def everyone_left() -> bool | None:
        status, members = await world.staff.api.call("GET", f"/_synapse/admin/v1/rooms/{quote(room)}/members")
        assert status == 200, members
        return True if set(members["members"]) <= {world.bot.user_id} else None

    await eventually(everyone_left, what="the members removed")
    told = await eventually(lambda: _first(owner, f"你已解散群 {code}。"), what="the owner told in their bot chat")
    assert "群组编码不会再分配给其他群" in told
    assert (await page(world, code))["status"] == "closed"
    # The place is free at once, and the code stays retired: the new group gets another.
    new_room = await owner.api.new_room(preset="private_chat")
    assert await group_code(owner, new_room) != code
    status, reply = await owner.api.qunzu("POST", f"/groups/{code}/dissolve", {"confirm": code})
    assert (status, reply["cn.qunzu.reason"]) == (403, "room_closed")


async def _first(person: Person, needle: str) -> str | None:
    return next((body for body in await notices(person.api) if needle in body), None)


async def test_transfer_moves_ownership_power_and_the_caps_of_both_people(world: World) -> None:
    owner, heir, outsider = await world.person(), await world.person(), await world.person()
    room = await room_with(owner, heir, name="转让测试")
    code = await group_code(owner, room)
    await fill_cap(owner, 9)
    await fill_cap(heir, 9)

    assert await owner.ask(room, "!转让") == "用法：!转让 @用户 [群组编码]"
    answer = await owner.ask(room, f"!转让 {outsider.user_id}")
    assert answer == f"群主只能转让给本群已完成实名认证、且信用等级允许本群规模的成员（{outsider.user_id}）。"

    # Nothing moves until the owner sends the code back; a wrong code is answered with the right command.
    confirm = f"!转让 {heir.user_id} {code}"
    answer = await owner.ask(room, f"!转让 {heir.user_id}")
    assert answer == (
        f"确定要把本群（群组编码 {code}）转让给 {heir.user_id} 吗？转让后对方成为群主，你将不能再解散、转让本群或"
        f"更改群类别，只有新群主才能再转让回来。确认请发送：{confirm}"
    )
    assert await owner.ask(room, f"!转让 {heir.user_id} {'0' * len(code)}") == f"用法：{confirm}"
    assert (await page(world, code))["creator"] == owner.user_id
    status, reply = await owner.api.qunzu(
        "POST", f"/groups/{code}/transfer", {"user_id": heir.user_id, "confirm": code.lower() + "x"}
    )
    assert (status, reply.get("errcode")) == (400, "M_INVALID_PARAM")
    assert (await page(world, code))["creator"] == owner.user_id

    answer = await owner.ask(room, confirm)
    assert answer == f"已将本群（{code}）转让给 {heir.user_id}。"
    assert (await page(world, code))["creator"] == heir.user_id
    status, levels = await heir.api.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.power_levels/")
    assert status == 200 and levels["users"][heir.user_id] == 100, levels
    assert owner.user_id not in levels["users"]  # before room version 12 the old owner steps down
    told = await eventually(lambda: _first(heir, f"你已成为群 {code} 的群主"), what="the new owner told")
    assert owner.user_id in told

    # The caps moved: the old owner has a place again, the new one has none.
    await owner.api.new_room(preset="private_chat")
    status, reply = await heir.api.create_room(preset="private_chat")
    assert (status, reply["cn.qunzu.detail"]) == (403, CAP)
    # The new owner holds the owner's tools; handing it to someone without a place is refused
    # before anyone is asked to confirm it.
    answer = await heir.ask(room, f"!转让 {owner.user_id}")
    assert (
        answer == f"无法转让：{owner.user_id} 创建的群数已达上限（10/10），没有名额接收本群。请对方先解散或转让其他群。"
    )
    answer = await owner.ask(room, f"!转让 {heir.user_id}")
    assert answer == f"只有群主可以进行这项操作（解散群、转让群主）：群 {code} 的群主是 {heir.user_id}。"
    assert f"群主：{heir.user_id}" in (await heir.ask(room, "!群信息")).splitlines()
    # The category is the owner's choice too: the new owner's, no longer the old one's.
    assert await owner.ask(room, "!群类别 study") == "只有群主可以更改群类别。"
    assert await heir.ask(room, "!群类别 study") == "本群类别已改为：学习。"


async def test_in_a_version_12_room_the_creator_stays_but_ownership_moves(world: World) -> None:
    owner, heir = await world.person(), await world.person()
    room = await owner.api.new_room(name="v12 转让", preset="private_chat", room_version="12")
    assert (await owner.api.invite(room, heir.user_id))[0] == 200
    assert (await heir.api.join(room))[0] == 200
    # The bot answers what is said after it joined (a moment after the creation).
    view = owner.view
    await view.wait_until(lambda: view.membership(room, view.bot_user_id) == "join" or None, "the bot join")
    code = await group_code(owner, room)
    assert (await owner.ask(room, f"!transfer {heir.user_id}")).startswith(f"确定要把本群（群组编码 {code}）转让给")
    assert await owner.ask(room, f"!transfer {heir.user_id} {code}") == f"已将本群（{code}）转让给 {heir.user_id}。"
    status, levels = await heir.api.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.power_levels/")
    assert status == 200 and levels["users"][heir.user_id] == 100, levels
    assert (await page(world, code))["creator"] == heir.user_id
    # A creator by protocol (MSC4289) keeps the room's power, but no longer the owner's tools.
    answer = await owner.ask(room, "!dissolve")
    assert answer == f"只有群主可以进行这项操作（解散群、转让群主）：群 {code} 的群主是 {heir.user_id}。"
    assert (await heir.ask(room, "!dissolve")).startswith(f"确定要解散本群（群组编码 {code}）吗？")
    assert await owner.ask(room, "!category study") == "只有群主可以更改群类别。"
