"""Refusal notices in the bot chat (DESIGN.md §6.3): once per person, reason and room per window.

The module in-process on SQLite and PostgreSQL with a movable clock; the chat
itself is recorded (what `Notifier.to_user` would post). tests/e2e/test_bot_chat_notices.py
shows the same texts arriving in a real Synapse.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import pytest

from policies import Reason
from policies.constants import REFUSAL_NOTICE_EVERY_MS
from synapse_module.config import QunzuConfig
from synapse_module.errors import Refusal
from synapse_module.module import QunzuModule
from synapse_module.notices import NOTICES_AT_ONCE
from synapse_module.refusal_notices import GREETING_CATCH_UP_MS, GREETINGS_AT_ONCE
from synapse_module.store import QunzuStore
from synapse_module.store.groups import GroupRecord

from .harness import Database, FakeModuleApi, MovableClock

ALICE = "@alice:localhost"
ROOM = "!room:localhost"
OTHER_ROOM = "!other:localhost"


class Chat:
    """Stands in for `Notifier.to_user`: what each person was told, in order, and how many
    notices were being posted at the same time (each takes `pause_s`)."""

    def __init__(self, delivered: bool = True) -> None:
        self.told: list[tuple[str, str]] = []
        self.delivered = delivered
        self.pause_s = 0.0
        self.posting = 0
        self.most_at_once = 0

    async def to_user(self, user_id: str, body: str) -> bool:
        self.posting += 1
        self.most_at_once = max(self.most_at_once, self.posting)
        try:
            await asyncio.sleep(self.pause_s)
        finally:
            self.posting -= 1
        self.told.append((user_id, body))
        return self.delivered


def register(database: Database, user_id: str, *, appservice_id: str | None = None) -> None:
    database.query(
        "INSERT INTO users (name, creation_ts, is_guest, appservice_id, deactivated) VALUES (?, 0, 0, ?, 0)",
        (user_id, appservice_id),
    )


@pytest.fixture
def chat(module: QunzuModule, module_api: FakeModuleApi, database: Database) -> Chat:
    chat = Chat()
    module.notifier.to_user = chat.to_user  # type: ignore[method-assign]
    register(database, ALICE)
    return chat


BLOCKED = Refusal(Reason.PROHIBITED_CONTENT, {"label": "违法"})


async def test_a_refusal_is_told_once_per_person_reason_and_room_per_ten_minutes(
    module: QunzuModule, module_api: FakeModuleApi, clock: MovableClock, chat: Chat
) -> None:
    notices = module.bot_chat_notices
    notices.refused(ALICE, ROOM, BLOCKED, "message")
    await module_api.settle()
    notices.refused(ALICE, ROOM, BLOCKED, "message")
    clock.advance(REFUSAL_NOTICE_EVERY_MS - 1)
    notices.refused(ALICE, ROOM, BLOCKED, "message")
    await module_api.settle()
    assert len(chat.told) == 1
    user, body = chat.told[0]
    assert user == ALICE
    assert body.startswith(
        f"【操作未成功】你发送的消息（房间 {ROOM}）没有成功，原因如下：\n消息包含法律法规禁止发布的内容（违法）"
    )
    assert "直接在这里发送 !申诉（或 !appeal）和你的理由" in body

    # Another room, another reason: told; the same after the window: told again.
    notices.refused(ALICE, OTHER_ROOM, BLOCKED, "message")
    notices.refused(ALICE, ROOM, Refusal(Reason.ROOM_FULL, {"count": 5, "cap": 5}), "join")
    await module_api.settle()
    clock.advance(1)
    notices.refused(ALICE, ROOM, BLOCKED, "message")
    await module_api.settle()
    assert len(chat.told) == 4
    joined = "你加入群组（房间 !room:localhost）没有成功，原因如下：\n本群人数已达上限（5/5 人）"
    assert sum(joined in body for _, body in chat.told) == 1


async def test_parallel_refusals_make_one_notice(module: QunzuModule, module_api: FakeModuleApi, chat: Chat) -> None:
    for _ in range(25):
        module.bot_chat_notices.refused(ALICE, ROOM, BLOCKED, "message")
    await module_api.settle()
    assert len(chat.told) == 1


async def test_nobody_but_local_people_is_told(
    module: QunzuModule, module_api: FakeModuleApi, database: Database, chat: Chat
) -> None:
    register(database, "@bridged:localhost", appservice_id="bridge")
    notices = module.bot_chat_notices
    for user in ("@bob:elsewhere.example", module.config.service_account, "@bridged:localhost", "@ghost:localhost"):
        notices.refused(user, ROOM, BLOCKED, "message")
    await module_api.settle()
    assert chat.told == []


async def test_a_notice_that_could_not_be_sent_is_tried_again_and_never_reaches_the_caller(
    module: QunzuModule, module_api: FakeModuleApi, chat: Chat, caplog: pytest.LogCaptureFixture
) -> None:
    chat.delivered = False
    notices = module.bot_chat_notices
    notices.refused(ALICE, ROOM, BLOCKED, "message")
    await module_api.settle()
    chat.delivered = True
    notices.refused(ALICE, ROOM, BLOCKED, "message")
    await module_api.settle()
    assert len(chat.told) == 2  # the undelivered one did not use up the window

    async def broken(user_id: str, body: str) -> bool:
        raise RuntimeError("the homeserver is shutting down")

    module.notifier.to_user = broken  # type: ignore[method-assign]
    caplog.set_level(logging.WARNING, logger="synapse_module.work_queue")
    notices.refused(ALICE, OTHER_ROOM, BLOCKED, "message")  # returns at once, raises nothing
    await module_api.settle()
    failures = [record.getMessage() for record in caplog.records if "failed" in record.getMessage()]
    assert failures == ["qunzu: qunzu_notice: a refusal notice failed (RuntimeError: the homeserver is shutting down)"]


async def test_an_unverified_person_gets_their_own_verification_link(
    module: QunzuModule, module_api: FakeModuleApi, chat: Chat
) -> None:
    module_api.public_baseurl = "https://chat.example/"  # type: ignore[attr-defined]
    refusal = Refusal(Reason.REALNAME_REQUIRED, {"form_url": "https://chat.example/form", "command": "!verify"})
    module.bot_chat_notices.refused(ALICE, ROOM, refusal, "message")
    await module_api.settle()
    ((_, body),) = chat.told
    assert "请私信机器人发送 !verify，或打开 https://chat.example/form 完成认证。" in body
    assert "\n下一步：打开你的专属认证链接完成实名认证（仅限一次，" in body
    assert "https://chat.example/_synapse/client/qunzu/v1/realname/form?client_secret=" in body


async def test_once_keys_are_taken_by_one_of_many_and_forgotten_after_their_window(
    store: QunzuStore, clock: MovableClock, database: Database
) -> None:
    won = await asyncio.gather(*(store.once.claim("k", 1000) for _ in range(30)))
    assert won.count(True) == 1
    clock.advance(999)
    assert not await store.once.claim("k", 1000)
    clock.advance(1)
    assert await store.once.claim("k", 1000, "v")
    assert await store.once.value_of("k") == "v"
    clock.advance(1000)
    assert await store.once.forget_expired(10) == 1
    assert database.query("SELECT COUNT(*) FROM qunzu_once") == [(0,)]


async def test_a_creator_is_told_the_code_address_and_info_page_of_a_big_enough_group_once(
    module: QunzuModule, module_api: FakeModuleApi, database: Database, chat: Chat
) -> None:
    module_api.public_baseurl = "https://chat.example/"  # type: ignore[attr-defined]
    for n in range(module.config.policy.scale_tiers.info_page_from_members):
        database.query(
            "INSERT INTO current_state_events (event_id, room_id, type, state_key, membership)"
            " VALUES (?, ?, 'm.room.member', ?, 'join')",
            (f"$join{n}", ROOM, f"@m{n}:localhost"),
        )
    record = GroupRecord("123456782", ROOM, "general", ALICE, 0, "small", "quiet", None, False, None, None)
    module.bot_chat_notices.group_created(record, ROOM)
    module.bot_chat_notices.group_created(record, ROOM)
    await module_api.settle()
    assert chat.told == [
        (
            ALICE,
            "你创建的群组“未命名群组”已就绪。\n群号：123456782\n群地址：#123456782:localhost\n"
            "把群号或群地址告诉想加入的人，他们在客户端中加入这个地址即可找到本群。\n"
            "群信息页：https://chat.example/_synapse/client/qunzu/v1/groups/123456782",
        )
    ]


async def test_notices_at_the_same_moment_are_posted_one_after_the_other(
    module: QunzuModule, module_api: FakeModuleApi, chat: Chat
) -> None:
    """The first notice opens the chat; the others must not open more (they wait their turn)."""
    chat.pause_s = 0.01
    module_api.public_baseurl = "https://chat.example/"  # type: ignore[attr-defined]
    notices = module.bot_chat_notices
    notices.greet(ALICE)
    notices.refused(ALICE, ROOM, BLOCKED, "message")
    notices.refused(ALICE, OTHER_ROOM, BLOCKED, "message")
    await module_api.settle()
    assert len(chat.told) == 3
    assert chat.most_at_once == 1


async def test_a_batch_of_registrations_is_greeted_a_few_at_a_time_and_everyone_is_greeted(
    module: QunzuModule, module_api: FakeModuleApi, database: Database, chat: Chat
) -> None:
    """Each greeting opens a room: a batch of new accounts must not take every connection at once."""
    chat.pause_s = 0.005
    module_api.public_baseurl = "https://chat.example/"  # type: ignore[attr-defined]
    people = [f"@new{number}:localhost" for number in range(12)]
    for person in people:
        register(database, person)
        await module.bot_chat_notices.on_user_registration(person)
    await module_api.settle()
    assert sorted(user for user, _body in chat.told) == sorted(people)
    assert chat.most_at_once == GREETINGS_AT_ONCE


async def test_a_crowd_refused_at_once_is_told_a_few_at_a_time_and_everyone_is_told(
    module: QunzuModule, module_api: FakeModuleApi, database: Database, chat: Chat
) -> None:
    """Forty people turned away from a full group: each notice may open a bot chat (a room's worth
    of the database's time), so they go a few at a time and the refusals themselves never wait."""
    chat.pause_s = 0.002
    full = Refusal(Reason.ROOM_FULL, {"cap": 10, "count": 10})
    crowd = [f"@late{number}:localhost" for number in range(40)]
    for person in crowd:
        register(database, person)
        module.bot_chat_notices.refused(person, ROOM, full, "join")
        module.bot_chat_notices.refused(person, ROOM, full, "join")  # a client's retry: one notice
    waiting = module.health.report().notices
    assert waiting is not None
    assert waiting.senders == NOTICES_AT_ONCE
    assert 40 - NOTICES_AT_ONCE <= waiting.waiting <= 40  # the senders may have taken theirs already
    assert waiting.dropped == 0
    await module_api.settle()
    assert sorted(user for user, _body in chat.told) == sorted(crowd)
    assert all("本群人数已达上限" in body for _user, body in chat.told)
    assert chat.most_at_once == NOTICES_AT_ONCE
    assert module.health.report().notices == type(waiting)(waiting=0, senders=0, dropped=0)


async def test_a_start_greets_the_recent_accounts_whose_greeting_a_stop_left_waiting(
    module: QunzuModule, module_api: FakeModuleApi, database: Database, clock: MovableClock, chat: Chat
) -> None:
    """The queue of greetings lives in the process: a start finds who it lost, and nobody twice."""
    module_api.public_baseurl = "https://chat.example/"  # type: ignore[attr-defined]
    now_s = clock.now_ms() // 1000
    week_s = GREETING_CATCH_UP_MS // 1000

    def account(user_id: str, age_s: int, *, deactivated: int = 0, guest: int = 0) -> None:
        database.query(
            "INSERT INTO users (name, creation_ts, is_guest, appservice_id, deactivated) VALUES (?, ?, ?, NULL, ?)",
            (user_id, now_s - age_s, guest, deactivated),
        )

    account("@greeted:localhost", 60)
    account("@waiting:localhost", 60)
    account("@yesterday:localhost", 24 * 3600)
    account("@long_ago:localhost", week_s + 60)
    account("@gone:localhost", 60, deactivated=1)
    account("@guest:localhost", 60, guest=1)
    module.bot_chat_notices.greet("@greeted:localhost")
    await module_api.settle()
    assert [user for user, _body in chat.told] == ["@greeted:localhost"]

    # ALICE (the fixture's account, registered at 0) is older than the window.
    assert await module.bot_chat_notices.greet_missed(clock.now_ms()) == 2
    await module_api.settle()
    assert sorted(user for user, _body in chat.told[1:]) == ["@waiting:localhost", "@yesterday:localhost"]
    assert all(body.startswith("你好，欢迎使用本平台！") for _user, body in chat.told)
    # The next start finds nobody left.
    assert await module.bot_chat_notices.greet_missed(clock.now_ms()) == 0


@pytest.mark.parametrize("greets", [True, False])
async def test_greet_new_accounts_false_greets_neither_new_nor_waiting_accounts(
    module_api: FakeModuleApi, module_config: QunzuConfig, database: Database, clock: MovableClock, greets: bool
) -> None:
    """The operator's switch for a bulk import: no registration callback, and no catch-up at start."""
    database.query(
        "INSERT INTO users (name, creation_ts, is_guest, appservice_id, deactivated) VALUES (?, ?, 0, NULL, 0)",
        ("@waiting:localhost", clock.now_ms() // 1000 - 60),
    )
    module_api.public_baseurl = "https://chat.example/"  # type: ignore[attr-defined]
    qunzu = QunzuModule(dataclasses.replace(module_config, greet_new_accounts=greets), module_api.as_module_api())
    chat = Chat()
    qunzu.notifier.to_user = chat.to_user  # type: ignore[method-assign]
    await module_api.settle()
    await qunzu.health.ready()
    await module_api.settle()

    registration = module_api.callbacks.get("on_user_registration", [])
    assert len(registration) == (1 if greets else 0)
    assert [user for user, _body in chat.told] == (["@waiting:localhost"] if greets else [])
