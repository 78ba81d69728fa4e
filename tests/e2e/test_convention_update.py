"""The convention people are greeted with; after it changes nobody is locked out (Art. 5; DESIGN.md §6.3, §6.4).

One server of this file's own, configured as production is: it greets every new
account in its bot chat, with its verification link and the convention. The
convention version changes only with the policy file, read at start, so a test
kills the server under the running bot and starts it with a new version. Verified
people are told once in their bot chat, accept with `!accept` or a bare `!同意`
there (the real bot), or with the form (a verified account gets the convention
alone), and post again. (The other test servers greet nobody: greetings cost as
much as room creations, for every account their tests register.)
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
import yaml

from devtools.homeserver import SynapseProcess

from .bot_fixtures import SERVICE_PASSWORD, BotRunner, new_view
from .conftest import ServerFactory, fresh_localpart
from .matrix import Matrix
from .sanction_helpers import eventually, notices

NEW_VERSION = "2026.12"
# Long enough for a greeting that is wrongly sent twice to have arrived.
SETTLE_S = 2.0
TOLD = (
    f"平台公约已更新为版本 {NEW_VERSION}。请发送 !rules 阅读新公约，"
    "然后在这里发送 !同意公约（或 !accept）同意；同意之前不能发言。"
)


async def _notice_chat(person: Matrix) -> str | None:
    if TOLD not in await notices(person):
        return None
    status, joined = await person.call("GET", "/_matrix/client/v3/joined_rooms")
    for room in joined["joined_rooms"]:
        status, create = await person.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.create/")
        if status == 200 and create.get("cn.qunzu.notices"):
            return str(room)
    return None


@dataclass(frozen=True)
class GreetingServer:
    server: SynapseProcess
    policy: Path


@pytest.fixture(name="greeting_server", scope="module")
def greeting_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GreetingServer]:
    """The server of this file: greeting every new account, its policy in a file a test rewrites."""
    base = tmp_path_factory.mktemp("greeting")
    policy = base / "policy.yaml"
    policy.write_text("{}\n")
    factory = ServerFactory(base)
    try:
        server = factory.start(module_config={"policy_file": str(policy), "greet_new_accounts": True})
        yield GreetingServer(server, policy)
    finally:
        factory.stop_all()


async def told(account: Matrix, needle: str) -> str:
    """The one notice in the account's bot chat that contains `needle`, once it has arrived."""

    async def probe() -> list[str] | None:
        return [body for body in await notices(account) if needle in body] or None

    (notice,) = await eventually(probe, what=f"a notice with {needle!r} for {account.user_id}")
    return notice


async def test_a_new_account_is_greeted_in_its_bot_chat_with_its_link_and_the_convention(
    greeting_server: GreetingServer, http_session: aiohttp.ClientSession
) -> None:
    server = greeting_server.server
    newcomer = Matrix(http_session, server.base_url, server.register(fresh_localpart("new")))
    greeting = await told(newcomer, "欢迎使用本平台")
    async with http_session.get(f"{server.base_url}/_synapse/client/qunzu/v1/convention") as response:
        convention = await response.json()
    assert f"平台公约（第 {convention['version']} 版）" in greeting
    assert convention["text"].strip().splitlines()[0] in greeting
    link = re.search(r"你的专属认证链接（仅限一次，(\d{4}-\d\d-\d\d \d\d:\d\d)（北京时间） 前有效）：(\S+)", greeting)
    assert link is not None, greeting
    assert link.group(2).startswith(f"{server.base_url}/_synapse/client/qunzu/v1/realname/form?client_secret=")
    # The link opens the form for this account.
    async with http_session.get(link.group(2)) as response:
        assert response.status == 200
        assert f"此链接用于认证账号 {newcomer.user_id}" in await response.text()
    await asyncio.sleep(SETTLE_S)
    assert len([body for body in await notices(newcomer) if "欢迎使用本平台" in body]) == 1


async def test_after_a_convention_change_people_are_told_once_and_accept_in_the_bot_chat_or_the_form(
    greeting_server: GreetingServer, tmp_path: Path, http_session: aiohttp.ClientSession
) -> None:
    server, policy = greeting_server.server, greeting_server.policy
    people = [
        Matrix(http_session, server.base_url, server.register(fresh_localpart(p))) for p in ("cv", "bare", "form")
    ]
    for person in people:
        assert (await person.verify())[0] == 200
    room = await people[0].new_room(preset="public_chat")
    for person in people[1:]:
        assert (await person.join(room))[0] == 200
    assert (await people[0].send_text(room, "公约更新前"))[0] == 200

    bot = BotRunner(server, {"password": SERVICE_PASSWORD}, tmp_path / "bot")
    (tmp_path / "bot").mkdir()
    await bot.start()
    try:
        # Synapse is killed (SIGKILL) under the running bot and started with the new version; the
        # bot reconnects by itself and answers in the bot chats below.
        server.kill()
        policy.write_text(yaml.safe_dump({"convention": {"version": NEW_VERSION}}))
        server.start()
        for person in people:
            status, reply = await person.send_text(room, "公约更新后")
            assert status == 403 and reply["cn.qunzu.reason"] == "convention_not_accepted", reply

        # Each is told once in their bot chat, and answers there.
        for person, command in zip(people[:2], ("!accept", "!同意"), strict=True):
            chat = await eventually(partial(_notice_chat, person), what="the convention notice")
            view = await new_view(server, person.account)
            try:
                answer = await view.ask(chat, command)
            finally:
                await view.client.close()
            assert answer == f"你已同意平台公约（版本 {NEW_VERSION}），现在可以发言了。"
            assert (await person.send_text(room, "同意新公约后"))[0] == 200

        # The form: a verified account's link shows the convention alone, and accepting it restores posting.
        # Told once: another run of the job (as after a restart) tells nobody again.
        staff = Matrix(http_session, server.base_url, server.register(fresh_localpart("staff"), admin=True))
        status, run = await staff.qunzu("POST", "/admin/jobs/convention_notices", {})
        assert status == 200, run
        form_person = people[2]
        assert (await notices(form_person)).count(TOLD) == 1

        # The form: a verified account's link shows the convention alone, and accepting it restores posting.
        view = await new_view(server, form_person.account)
        try:
            dm = await view.create_room(direct=True)
            answer = await view.ask(dm, "!verify")
        finally:
            await view.client.close()
        url = re.search(r"https?://\S+", answer)
        assert url is not None, answer
        async with http_session.get(url.group(0)) as response:
            page = await response.text()
        assert "已完成实名认证。平台公约已更新" in page and 'name="id_number"' not in page
        token = re.search(r'name="client_secret" value="([^"]+)"', page)
        assert token is not None
        form = {"client_secret": token.group(1), "lang": "zh-CN", "accept_convention": "1"}
        async with http_session.post(url.group(0).split("?")[0], data=form) as response:
            done = await response.text()
        assert f"已同意平台公约（版本 {NEW_VERSION}），您现在可以发言了。" in done
        assert (await form_person.send_text(room, "表单同意后"))[0] == 200

        for person in people:
            assert (await notices(person)).count(TOLD) == 1
    finally:
        await bot.stop()
