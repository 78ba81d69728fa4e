"""Dispatcher: routing, scopes, idempotency and failure isolation."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from bot.commands import CommandSpec, Handler, Registry, Scope
from bot.dispatcher import Dispatcher
from bot.errors import MatrixError, QunzuApiError, UsageError
from bot.events import EncryptedRoom, Invite

from .conftest import ALICE, BOT, DM, NOW_MS, ROOM, message


def _add(registry: Registry, name: str, handler: Handler, **kw: Any) -> None:
    registry.add(CommandSpec(name, handler, **kw))


async def test_help_lists_commands_the_caller_may_use_here(dispatcher, client):
    await dispatcher.on_message(message("!help"))
    [reply] = client.sent
    assert reply.room_id == ROOM
    assert reply.notice is True
    assert reply.text.splitlines()[0] == "Commands you can use here:"
    assert "!help · !帮助 — list the commands you can use here" in reply.text
    assert "!me" not in reply.text  # DM only


async def test_help_in_a_direct_chat_also_lists_me(dispatcher, client):
    await dispatcher.on_message(message("!帮助", room_id=DM, is_direct=True))
    assert "!me · !我的" in client.sent[0].text


async def test_help_answers_in_chinese_by_default(dispatcher, client):
    dispatcher.language = "zh-CN"
    await dispatcher.on_message(message("！帮助"))
    text = client.sent[0].text
    assert text.startswith("你在这里可以使用的命令：")
    assert "!帮助 · !help — 列出你在这里可以使用的命令" in text


async def test_reply_points_at_the_command_event(dispatcher, client):
    msg = message("!help")
    await dispatcher.on_message(msg)
    assert client.sent[0].reply_to == msg.event_id


async def test_raising_handler_gets_an_apology_and_the_next_command_still_works(dispatcher, client, registry, caplog):
    async def boom(ctx):
        raise RuntimeError("secret internal detail")

    _add(registry, "boom", boom)
    with caplog.at_level(logging.ERROR, logger="bot.dispatcher"):
        await dispatcher.on_message(message("!boom"))
    await dispatcher.on_message(message("!help"))

    apology, help_reply = client.texts
    assert apology == "Sorry, something went wrong with that command. Please try again later."
    assert "secret internal detail" not in apology
    assert "Traceback" not in apology
    assert help_reply.startswith("Commands you can use here:")
    [record] = [r for r in caplog.records if r.name == "bot.dispatcher"]
    assert record.exc_info is not None  # logged with traceback


async def test_usage_error_gets_the_usage_line_in_the_room_language(dispatcher, client, registry):
    async def needs_args(ctx):
        if not ctx.command.args:
            raise UsageError()

    _add(
        registry,
        "report",
        needs_args,
        aliases=("举报",),
        usage={"en": "!report <category> [reason]", "zh-CN": "!举报 <类别> [理由]"},
    )
    await dispatcher.on_message(message("!report"))
    dispatcher.language = "zh-CN"
    await dispatcher.on_message(message("!举报"))
    assert client.texts == ["Usage: !report <category> [reason]", "用法：!举报 <类别> [理由]"]


async def test_usage_error_may_carry_its_own_line(dispatcher, client, registry):
    async def picky(ctx):
        raise UsageError("!picky <n> (n is a number)")

    _add(registry, "picky", picky)
    await dispatcher.on_message(message("!picky x"))
    assert client.texts == ["Usage: !picky <n> (n is a number)"]


async def test_qunzu_api_error_shows_the_server_message(dispatcher, client, registry):
    async def refused(ctx):
        raise QunzuApiError(
            status=403,
            errcode="M_FORBIDDEN",
            reason="realname_required",
            message="请先完成实名认证：发送 !实名",
        )

    _add(registry, "refused", refused)
    await dispatcher.on_message(message("!refused"))
    assert client.texts == ["请先完成实名认证：发送 !实名"]


async def test_cancellation_propagates(dispatcher, client, registry):
    async def cancelled(ctx):
        raise asyncio.CancelledError

    _add(registry, "cancelled", cancelled)
    with pytest.raises(asyncio.CancelledError):
        await dispatcher.on_message(message("!cancelled"))
    assert client.sent == []


async def test_slow_handler_times_out_with_an_apology(dispatcher, client, registry):
    async def slow(ctx):
        await asyncio.sleep(10)

    _add(registry, "slow", slow)
    dispatcher.handler_timeout_s = 0.05
    await dispatcher.on_message(message("!slow"))
    assert client.texts == ["Sorry, something went wrong with that command. Please try again later."]


async def test_own_messages_are_ignored(dispatcher, client):
    await dispatcher.on_message(message("!help", sender=BOT))
    assert client.sent == []


async def test_non_commands_are_ignored(dispatcher, client, state):
    msg = message("hello everyone")
    await dispatcher.on_message(msg)
    assert client.sent == []
    assert not await state.is_handled(msg.event_id)


async def test_a_replayed_event_is_handled_once(dispatcher, client, registry):
    calls = []

    async def count(ctx):
        calls.append(ctx.event_id)
        await ctx.reply("ok")

    _add(registry, "count", count)
    msg = message("!count", event_id="$same")
    await dispatcher.on_message(msg)
    await dispatcher.on_message(msg)
    assert calls == ["$same"]
    assert client.texts == ["ok"]


async def test_events_before_start_are_ignored_without_a_token(dispatcher, client):
    dispatcher.ignore_before_ms = NOW_MS - 30_000
    await dispatcher.on_message(message("!help", server_ts=NOW_MS - 60_000))
    assert client.sent == []
    await dispatcher.on_message(message("!help", server_ts=NOW_MS - 10_000))
    assert len(client.sent) == 1


async def test_unknown_command_gets_a_hint(dispatcher, client):
    await dispatcher.on_message(message("!frobnicate"))
    assert client.texts == ["Unknown command !frobnicate. Send !help to see what you can use."]
    dispatcher.language = "zh-CN"
    await dispatcher.on_message(message("!乱码"))
    assert client.texts[1] == "未知命令 !乱码。发送 !帮助 查看可用命令。"


async def test_dm_only_command_in_a_room_says_so(dispatcher, client):
    await dispatcher.on_message(message("!me"))
    assert client.texts == ["!me works only in a direct chat with me."]


async def test_commands_needing_admin_or_staff_are_refused_until_granted(dispatcher, client, registry):
    ran = []

    async def warn(ctx):
        ran.append(ctx.sender)

    _add(registry, "warn", warn, scope=Scope.ROOM_ADMIN)
    await dispatcher.on_message(message("!warn @bob:x spam"))
    assert client.texts == ["You may not use !warn here."]
    await dispatcher.on_message(message("!help"))
    assert "!warn" not in client.texts[1]

    # The role hook: grant ROOM_ADMIN to Alice.
    async def who_may(ctx):
        return Scope.ANYONE | Scope.ROOM_ADMIN

    dispatcher.who_may = who_may
    await dispatcher.on_message(message("!warn @bob:x spam"))
    assert ran == [ALICE]


async def test_moderation_room_scope(dispatcher, client, registry):
    async def desk(ctx):
        await ctx.reply("desk")

    _add(registry, "desk", desk, scope=Scope.MODERATION_ROOM)
    dispatcher.moderation_room_id = "!mod:localhost"
    await dispatcher.on_message(message("!desk"))
    await dispatcher.on_message(message("!desk", room_id="!mod:localhost"))
    assert client.texts == ["You may not use !desk here.", "desk"]


async def test_reply_is_queued_when_the_homeserver_is_down_and_sent_later(dispatcher, client, state):
    client.fail_with = MatrixError("down", retryable=True)
    msg = message("!help")
    await dispatcher.on_message(msg)
    assert client.sent == []
    assert await state.outbox_size() == 1

    await dispatcher.on_synced()  # still down: stays queued
    assert await state.outbox_size() == 1

    client.fail_with = None
    clock = dispatcher.clock
    clock.now += 3600  # past the retry backoff
    await dispatcher.on_synced()
    [sent] = client.sent
    assert sent.reply_to == msg.event_id
    assert sent.txn_id is not None and sent.txn_id.startswith("qunzu-")
    assert await state.outbox_size() == 0


async def test_reply_refused_by_the_homeserver_is_dropped(dispatcher, client, state):
    client.fail_with = MatrixError("forbidden", errcode="M_FORBIDDEN")
    await dispatcher.on_message(message("!help"))
    assert await state.outbox_size() == 0


async def test_invite_is_accepted(dispatcher, client):
    await dispatcher.on_invite(Invite(room_id="!new:localhost", sender=ALICE))
    assert client.joined == ["!new:localhost"]


async def test_failed_join_does_not_raise(dispatcher, client):
    client.fail_with = MatrixError("gone", errcode="M_FORBIDDEN")
    await dispatcher.on_invite(Invite(room_id="!gone:localhost", sender=ALICE))
    assert client.joined == []


async def test_broken_state_does_not_stop_dispatching(dispatcher, client, state, caplog):
    await state.close()  # every claim now fails
    with caplog.at_level(logging.ERROR, logger="bot.dispatcher"):
        await dispatcher.on_message(message("!help"))
    assert client.sent == []
    assert any("failed to dispatch" in r.getMessage() for r in caplog.records)


async def test_housekeeping_failure_does_not_stop_syncing(dispatcher, state, caplog):
    await state.close()
    with caplog.at_level(logging.ERROR, logger="bot.dispatcher"):
        await dispatcher.on_synced()
    assert any("housekeeping" in r.getMessage() for r in caplog.records)


async def test_encrypted_direct_chat_gets_one_plain_notice_ever(dispatcher, client, state, registry, api, clock):
    await dispatcher.on_encrypted_room(EncryptedRoom(DM, is_direct=True))
    await dispatcher.on_encrypted_room(EncryptedRoom(DM, is_direct=True))
    [notice] = client.sent
    assert (notice.room_id, notice.notice, notice.reply_to) == (DM, True, None)
    assert notice.text.startswith("This direct chat is end-to-end encrypted. I cannot read encrypted messages")
    # A restarted bot (same state) does not say it again.
    again = Dispatcher(client=client, state=state, api=api, registry=registry, language="en", clock=clock)
    await again.on_encrypted_room(EncryptedRoom(DM, is_direct=True))
    assert len(client.sent) == 1


async def test_encrypted_group_room_is_only_logged(dispatcher, client, caplog):
    with caplog.at_level(logging.INFO, logger="bot.dispatcher"):
        await dispatcher.on_encrypted_room(EncryptedRoom(ROOM, is_direct=False))
    assert client.sent == []
    assert any("end-to-end encrypted" in r.getMessage() for r in caplog.records)


async def test_encrypted_notice_that_cannot_be_sent_is_dropped_not_queued(dispatcher, client, state):
    client.fail_with = MatrixError("send failed", errcode=None, retryable=True)
    await dispatcher.on_encrypted_room(EncryptedRoom(DM, is_direct=True))
    client.fail_with = None
    await dispatcher.on_synced()
    assert client.sent == []
    assert await state.outbox_size() == 0
    # The dispatcher keeps working.
    await dispatcher.on_message(message("!help"))
    assert client.texts[0].startswith("Commands you can use here:")
