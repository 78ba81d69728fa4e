"""The real bot, in-process, against the shared Synapse with the module: what a user sees in chat.

One bot serves every test (a test of restarts stops and starts it); one verified
member per module makes the rooms. Replies are read with the member's own sync
loop, each wait bounded by a deadline.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import nio

from bot.commands import CommandSpec, Context
from devtools.homeserver import Account, SynapseProcess

from .bot_fixtures import (  # noqa: F401  (fixtures, registered under their names)
    BotRunner,
    Member,
    UserView,
    bot_fixture,
    bot_runner_fixture,
    new_view,
    service_account_fixture,
    verified_member_fixture,
)
from .conftest import QunzuHttp, fresh_localpart
from .sanction_helpers import eventually

HELP_HEADER = "你在这里可以使用的命令："
APOLOGY = "抱歉，处理这条命令时出错了，请稍后再试。"


async def test_bot_joins_when_invited_and_answers_help_in_chinese(bot: BotRunner, verified_member: Member) -> None:
    view = verified_member.view
    room = await view.create_room(name="读书会")
    answer = await view.ask(room, "!help")
    lines = answer.splitlines()
    assert lines[0] == HELP_HEADER
    assert "!帮助 · !help — 列出你在这里可以使用的命令" in lines
    # Direct-chat commands are not offered in a group room.
    assert not any("!我的" in line or "!实名" in line for line in lines)


async def test_chinese_command_name_works(bot: BotRunner, verified_member: Member) -> None:
    view = verified_member.view
    room = await view.create_room()
    answer = await view.ask(room, "!帮助")
    assert answer.splitlines()[0] == HELP_HEADER


async def test_failing_command_gets_an_apology_and_the_bot_keeps_answering(
    bot: BotRunner, verified_member: Member
) -> None:
    async def boom(ctx: Context) -> None:
        raise RuntimeError("internal detail that must not reach the chat")

    bot.registry.add(CommandSpec("boom", handler=boom))
    view = verified_member.view
    room = await view.create_room()
    assert await view.ask(room, "!boom") == APOLOGY
    assert (await view.ask(room, "!help")).startswith(HELP_HEADER)


async def test_messages_of_any_shape_never_stop_the_bot(bot: BotRunner, verified_member: Member) -> None:
    # Anyone in a room can send any JSON; the bot read `m.relates_to` as an object and its sync died.
    view = verified_member.view
    room = await view.create_room()
    malformed: list[dict[str, Any]] = [
        {"msgtype": "m.text", "body": "!help", "m.relates_to": "x"},
        {"msgtype": "m.text", "body": "!help", "m.relates_to": {"m.in_reply_to": 5}},
        {"msgtype": "m.text", "body": "!help", "m.relates_to": {"m.in_reply_to": {"event_id": 5}}},
        {"msgtype": "m.text", "body": "!help", "m.relates_to": {"rel_type": "m.replace", "event_id": 5}},
    ]
    for content in malformed:
        assert isinstance(await view.client.room_send(room, "m.room.message", content), nio.RoomSendResponse)
    assert (await view.ask(room, "!help")).startswith(HELP_HEADER)
    # The first three read as plain commands (a reply of the wrong shape is no reply); the edit is none.
    await view.sync()
    assert sum(ev["content"]["body"].startswith(HELP_HEADER) for ev in view.bot_messages(room)) == 4


async def test_commands_missed_while_stopped_are_answered_once_and_older_ones_never(
    bot: BotRunner, verified_member: Member
) -> None:
    view = verified_member.view
    room = await view.create_room()
    await view.ask(room, "!help")

    # Sent while the bot is down; its next start is a first start (empty state).
    await bot.stop()
    before_first_start = await view.send(room, "!help")
    await bot.start(fresh_state=True)
    assert (await view.ask(room, "!帮助")).startswith(HELP_HEADER)

    # Sent while down again; this restart keeps its state and catches up.
    await bot.stop()
    missed = await view.send(room, "!help")
    await bot.start()
    missed_answer = await view.reply_to(room, missed)
    assert missed_answer.startswith(HELP_HEADER)
    # A later command is answered after the catch-up, so by then any duplicate would be visible.
    await view.ask(room, "!帮助")

    # A second restart from the same state replays nothing.
    await bot.stop()
    await bot.start()
    await view.ask(room, "!帮助")
    assert len(view.replies_to(room, missed)) == 1
    assert view.replies_to(room, before_first_start) == []


async def test_a_first_start_finds_every_direct_chat_from_the_rooms_state(
    bot: BotRunner, verified_member: Member, synapse: SynapseProcess
) -> None:
    # A fresh bot knows no chats: its first sync must tell a person's direct chat (their invite
    # said so) and a notice chat the module opened (its create event says so) from the rest.
    view = verified_member.view
    dm = await view.create_room(direct=True)
    group = await view.create_room(name="首次启动")
    newcomer = await new_view(synapse, synapse.register(fresh_localpart("new")))
    try:
        # Refused for want of a real name, which the module tells in a notice chat it opens.
        assert isinstance(await newcomer.client.room_create(name="未认证"), nio.RoomCreateError)
        notice_chat = await _joined_notice_chat(newcomer, bot.user_id)
        await bot.stop()
        await bot.start(fresh_state=True)
        assert (await view.ask(dm, "!我的")).startswith("你的状态：")
        assert (await newcomer.ask(notice_chat, "!我的")).startswith("你的状态：")
        assert await view.ask(group, "!我的") == "!我的 只能在与我的私聊中使用。"
    finally:
        await newcomer.client.close()


async def _joined_notice_chat(view: UserView, service_user_id: str) -> str:
    """The chat the service account invited the view's account to, joined."""

    async def invite_seen() -> str | None:
        resp = await view.client.sync(timeout=1000)
        assert isinstance(resp, nio.SyncResponse), resp
        return next(
            (
                room_id
                for room_id, info in resp.rooms.invite.items()
                if any(getattr(ev, "sender", None) == service_user_id for ev in info.invite_state)
            ),
            None,
        )

    room_id = await eventually(invite_seen, what=f"an invite from {service_user_id}")
    assert isinstance(await view.client.join(room_id), nio.JoinResponse)
    return room_id


def _bot_syncs(synapse: SynapseProcess, user_id: str) -> int:
    """How many /sync requests of `user_id` Synapse has answered (its access log)."""
    marker = f"{{{user_id}}} Processed request"
    with synapse.log_path.open(encoding="utf-8", errors="replace") as log:
        return sum(1 for line in log if marker in line and "/_matrix/client/v3/sync" in line)


async def test_typing_and_read_receipts_in_a_group_do_not_wake_the_bot(
    bot: BotRunner, verified_member: Member, synapse: SynapseProcess
) -> None:
    # The service account is in every group: a sync answered for every typing notification and
    # read receipt anywhere would keep the bot and Synapse busy for nothing the bot reads.
    view = verified_member.view
    room = await view.create_room(name="打字")
    said = [await view.send(room, f"第 {n} 条") for n in range(10)]
    await view.ask(room, "!help")
    before = _bot_syncs(synapse, bot.user_id)
    for event_id in said:
        assert isinstance(await view.client.room_typing(room, True, timeout=5000), nio.RoomTypingResponse)
        assert isinstance(await view.client.room_read_markers(room, event_id, event_id), nio.RoomReadMarkersResponse)
        assert isinstance(await view.client.room_typing(room, False), nio.RoomTypingResponse)
    # A command afterwards: its answer shows the bot's sync is past everything sent before it.
    await view.ask(room, "!help")
    woken = _bot_syncs(synapse, bot.user_id) - before
    # The command and the bot's own answer may each end one sync; 30 typing changes and 10 receipts none.
    assert woken <= 3, f"the bot's sync was answered {woken} times"


async def test_me_in_a_direct_chat_shows_the_senders_own_status_masked(bot: BotRunner, verified_member: Member) -> None:
    view = verified_member.view
    dm = await view.create_room(direct=True)
    answer = await view.ask(dm, "!我的")
    assert answer.startswith("你的状态：")
    assert f"账号：{view.user_id}" in answer
    assert bot.user_id not in answer
    # In words: labels and Beijing time, never field names, raw values or epoch milliseconds.
    assert "实名认证：已认证（1 级）" in answer and "平台公约：已同意当前版本" in answer
    assert "提交时间：" in answer and "（北京时间）" in answer and "生效中的处置：无" in answer
    for raw in ("staff", "submitted_at", "verified", "unverified", "UTC", "：否", "：是"):
        assert raw not in answer, answer
    # 后台实名: the full ID number is never shown, not even to its owner in chat.
    assert verified_member.id_number not in answer


async def test_me_in_a_group_room_points_to_the_direct_chat(bot: BotRunner, verified_member: Member) -> None:
    view = verified_member.view
    room = await view.create_room()
    assert await view.ask(room, "!我的") == "!我的 只能在与我的私聊中使用。"


async def test_verify_when_already_verified_shows_the_modules_answer(
    bot: BotRunner, verified_member: Member, qunzu_api: QunzuHttp
) -> None:
    view = verified_member.view
    dm = await view.create_room(direct=True)
    answer = await view.ask(dm, "!实名")
    # What the module says to its service account for this user, word for word.
    status, refusal = await qunzu_api.post("/admin/realname/links", {"user_id": view.user_id}, bot.access_token)
    assert status == 409
    assert answer == refusal["error"]


async def _ask_for_a_link(synapse: SynapseProcess, account: Account) -> str:
    view = await new_view(synapse, account)
    try:
        dm = await view.create_room(direct=True)
        return await view.ask(dm, "!verify")
    finally:
        await view.client.close()


async def _assert_working_link(answer: str, synapse: SynapseProcess, http: aiohttp.ClientSession) -> None:
    lines = answer.splitlines()
    assert lines[0] == "你的一次性实名认证链接（只能由你本人使用一次，请勿转发）：", answer
    url = lines[1]
    assert url.startswith(f"{synapse.base_url}/")
    assert lines[2].startswith("有效期至 ") and lines[2].endswith("（北京时间）。过期后请重新发送 !实名。")
    assert "不会向其他用户显示" in lines[3]
    async with http.get(url) as response:
        page = await response.text()
    assert response.status == 200
    assert '<form method="post"' in page  # the link opens the form, not "invalid link"


async def test_verify_gives_an_unverified_admin_a_working_one_time_link(
    bot: BotRunner, synapse: SynapseProcess, http_session: aiohttp.ClientSession
) -> None:
    # Server admins are not gated, so one that never verified can open the direct chat today.
    admin = synapse.register(fresh_localpart("unverifiedadmin"), admin=True)
    await _assert_working_link(await _ask_for_a_link(synapse, admin), synapse, http_session)


async def test_verify_gives_an_unverified_user_a_working_one_time_link(
    bot: BotRunner, synapse: SynapseProcess, http_session: aiohttp.ClientSession
) -> None:
    # The module's refusal text sends unverified people here ("请私信机器人发送 !verify"):
    # a direct chat with the bot is open to them.
    account = synapse.register(fresh_localpart("newcomer"))
    await _assert_working_link(await _ask_for_a_link(synapse, account), synapse, http_session)


async def test_turning_on_encryption_in_a_chat_with_the_bot_is_refused_and_commands_keep_working(
    bot: BotRunner, verified_member: Member
) -> None:
    # Art. 10: encrypted content cannot be screened, so the default policy keeps groups and
    # chats readable (docs/content-rules.md). How the bot copes with an encrypted room where an
    # operator allows encryption is covered in tests/bot/test_client.py.
    view = verified_member.view
    dm = await view.create_room(direct=True)
    encryption: dict[str, Any] = {"algorithm": "m.megolm.v1.aes-sha2"}
    resp = await view.client.room_put_state(dm, "m.room.encryption", encryption)
    assert not hasattr(resp, "event_id"), "encryption was turned on although the policy forbids it"
    assert resp.status_code == "M_FORBIDDEN"
    assert "加密" in resp.message
    assert (await view.ask(dm, "!帮助")).startswith(HELP_HEADER)
