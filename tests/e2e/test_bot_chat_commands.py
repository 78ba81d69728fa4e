"""A muted person still reaches the real bot in their bot chat (DESIGN.md §6.3; Art. 11, PIPL Art. 24).

The notice of a measure tells the person to answer with `!appeal` in the chat it
arrives in; that chat, and the verification chat they open themselves, take the
commands, while the mute holds everywhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from devtools.homeserver import SynapseProcess

from .bot_fixtures import (  # noqa: F401  (fixtures, registered under their names)
    BotRunner,
    bot_fixture,
    bot_runner_fixture,
    new_view,
    service_account_fixture,
)
from .conftest import fresh_localpart
from .matrix import Matrix
from .sanction_helpers import eventually, notices, sanction, verified


async def _notice_chat(person: Matrix) -> str | None:
    """The person's notice chat, once the measure's notice is in it (its invite is accepted)."""
    if not any("!appeal" in body for body in await notices(person)):
        return None
    status, joined = await person.call("GET", "/_matrix/client/v3/joined_rooms")
    for room in joined["joined_rooms"]:
        status, create = await person.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.create/")
        if status == 200 and create.get("cn.qunzu.notices"):
            return str(room)
    return None


async def test_a_muted_person_appeals_and_asks_their_status_in_both_bot_chats(
    bot: BotRunner, synapse: SynapseProcess, as_user: Callable[..., Matrix], staff: Matrix
) -> None:
    person = await verified(as_user, synapse, fresh_localpart("muted")[:12])
    group = await staff.new_room(name="禁言测试群", preset="public_chat")
    assert (await person.join(group))[0] == 200
    record = await sanction(staff, "user", person.user_id, "mute", duration="7d")
    status, reply = await person.send_text(group, "我还能发言吗")
    assert status == 403 and reply["cn.qunzu.reason"] == "posting_suspended_user", reply
    # The refusal names the measure to appeal, in its text too.
    assert reply["cn.qunzu.detail"]["ref"] == record["id"], reply
    assert f"请私信机器人发送 !appeal {record['id']} <理由> 申诉。" in reply["error"], reply["error"]

    view = await new_view(synapse, person.account)
    try:
        # The chat the notice arrived in, as the notice says ("在此私信发送 !appeal").
        notice_chat = await eventually(lambda: _notice_chat(person), what="the measure's notice")
        await view.sync()
        answer = await view.ask(notice_chat, "!me")
        assert answer.startswith("你的状态："), answer
        # Without a reference: the latest decision, this mute.
        answer = await view.ask(notice_chat, "!申诉 我没有违规，请复核")
        assert answer.startswith(f"已收到你对处理 {record['id']} 的申诉（申诉编号 ap_"), answer
        answer = await view.ask(notice_chat, f"!appeal {record['id']} 再说一次")
        assert answer == f"你对 {record['id']} 的申诉正在复核中，请等待结果，不必重复提交。", answer
        answer = await view.ask(notice_chat, "!appeal")
        assert answer.startswith("用法：!申诉 [编号] <理由>\n不写编号则申诉你最近的一项"), answer

        # The verification chat they open themselves takes the commands too.
        dm = await view.create_room(direct=True)
        answer = await view.ask(dm, "!我的")
        assert answer.startswith("你的状态：") and record["id"] in answer, answer
        answer = await view.ask(dm, "!rules")
        assert "公约" in answer, answer
    finally:
        await view.client.close()
    # The appeal is on record once for a person to decide; the mute still holds in groups.
    status, appeals = await staff.qunzu("GET", "/admin/appeals?status=open")
    assert status == 200, appeals
    assert [a["text"] for a in appeals["appeals"] if a["sanction"] == record["id"]] == ["我没有违规，请复核"]
    status, reply = await person.send_text(group, "申诉后也还不能发言")
    assert status == 403 and reply["cn.qunzu.reason"] == "posting_suspended_user", reply


async def test_a_blacklisted_person_appeals_in_the_chat_the_notice_names_and_nobody_joins_it(
    bot: BotRunner, synapse: SynapseProcess, as_user: Callable[..., Matrix], staff: Matrix
) -> None:
    person = await verified(as_user, synapse, "banned")
    stranger = await verified(as_user, synapse, "stranger")
    record = await sanction(staff, "user", person.user_id, "blacklist", duration="7d")
    notice_chat = await eventually(lambda: _notice_chat(person), what="the blacklisting notice")
    status, reply = await person.send_text(await staff.new_room(name="别的群"), "还能发言吗")
    assert status == 403  # not a member there, and blacklisted everywhere else

    view = await new_view(synapse, person.account)
    try:
        answer = await view.ask(notice_chat, f"!appeal {record['id']} 请复核")
        assert record["id"] in answer, answer
    finally:
        await view.client.close()
    # The notice chat is a bot chat too: two-party whatever its owner (a creator there) tries.
    status, reply = await person.invite(notice_chat, stranger.user_id)
    assert status == 403 and reply["cn.qunzu.reason"] == "bot_chat_private", reply
    status, reply = await person.send_state(notice_chat, "m.room.join_rules", {"join_rule": "public"})
    assert status == 403 and reply["cn.qunzu.reason"] == "bot_chat_private", reply
    status, reply = await stranger.join(notice_chat)
    assert status == 403, reply
    # A blacklisted person opens no new verification chat.
    status, reply = await person.create_room(is_direct=True, invite=["@qunzu:localhost"])
    assert status == 403 and reply["cn.qunzu.reason"] == "blacklisted", reply
