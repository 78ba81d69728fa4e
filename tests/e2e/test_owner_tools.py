"""Owners' and admins' room tools (Art. 8, 9): invite confirmation, mute-all, pinned announcements.

The same server and bot-with-desk as tests/e2e/test_bot_commands.py (the `world`
fixture, imported: one shared Synapse, one bot for this module). Assertions read
what people see: the bot's zh-CN replies and notices, the refusal a client
receives, room state.
"""

from __future__ import annotations

from .desk_fixtures import room_with
from .sanction_helpers import set_power
from .test_bot_commands import World, audit_actions, bot_said, membership, world_fixture  # noqa: F401


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
