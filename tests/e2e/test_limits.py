"""Per-person limits are exact under concurrency (Art. 6, 8, 12; DESIGN.md §5, §6.1), real Synapse.

Every test fires real parallel requests (asyncio.gather) by one person and
counts exactly what got through and what the refused requests received.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from typing import Any
from urllib.parse import quote, urlparse

import aiohttp
import pytest

from devtools.homeserver import SynapseProcess

from .conftest import (
    FAST_MARGIN_CAP,
    GROWTH_CONFIG,
    GROWTH_POLICY,
    ROOM_CAPS_POLICY,
    ROOMS_JOINED_CAP,
    SharedServers,
    database_name,
    fresh_localpart,
    pg_query,
)
from .identities import fresh_id_number
from .matrix import Matrix
from .verification_service import FakeVerificationService

SERVICE = "@qunzu:localhost"
# On SQLite the rooms-joined tests use the room-caps server of tests/e2e/test_groups.py (people of
# their own each): at level B, 4 rooms joined and 3 owned.
SQLITE_JOINED_CAP = ROOM_CAPS_POLICY["credit"]["levels"]["B"]["rooms_joined"]
SQLITE_OWNED_CAP = ROOM_CAPS_POLICY["credit"]["levels"]["B"]["rooms_owned"]
REPORTS_PER_HOUR = 20  # synapse_module.reports.REPORTS_PER_HOUR
ATTEMPTS_PER_DAY = 5  # policies/default.yaml realname.attempts_per_day


async def _verified(server: SynapseProcess, session: aiohttp.ClientSession, prefix: str) -> Matrix:
    account = Matrix(session, server.base_url, server.register(fresh_localpart(prefix)))
    status, reply = await account.verify()
    assert status == 200, reply
    return account


async def _joined_rooms(account: Matrix) -> set[str]:
    status, reply = await account.call("GET", "/_matrix/client/v3/joined_rooms")
    assert status == 200, reply
    return set(reply["joined_rooms"])


async def _joined_members(account: Matrix, room_id: str) -> set[str]:
    status, reply = await account.call("GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/joined_members")
    assert status == 200, reply
    return set(reply["joined"])


async def _limited(jobs: list[Any], limit: int = 8) -> list[Any]:
    semaphore = asyncio.Semaphore(limit)

    async def one(job: Any) -> Any:
        async with semaphore:
            return await job

    return list(await asyncio.gather(*(one(job) for job in jobs)))


async def _parallel_joins_admit_exactly_the_cap(
    server: SynapseProcess, session: aiohttp.ClientSession, rooms: int, cap: int
) -> Matrix:
    # Owners are in their rooms too: each owns fewer rooms than the cap.
    owners = [await _verified(server, session, "owner") for _ in range(-(-rooms // (cap - 1)))]
    room_ids = await _limited([owners[i % len(owners)].new_room(preset="public_chat") for i in range(rooms)])
    joiner = await _verified(server, session, "joiner")
    before = await _joined_rooms(joiner)
    assert not before & set(room_ids)

    results = await asyncio.gather(*(joiner.join(room) for room in room_ids))

    admitted = [room for room, (status, _) in zip(room_ids, results, strict=True) if status == 200]
    refused = [reply | {"status": status} for status, reply in results if status != 200]
    assert len(admitted) == cap - len(before), [status for status, _ in results]
    for reply in refused:
        assert reply["status"] == 403
        assert reply["errcode"] == "M_FORBIDDEN"
        assert reply["cn.qunzu.reason"] == "join_limit"
        assert reply["cn.qunzu.detail"]["cap"] == cap
        assert reply["cn.qunzu.detail"]["count"] == cap
        assert str(cap) in reply["error"]
    # Membership as the server sees it: exactly the admitted rooms, nobody in the others.
    assert await _joined_rooms(joiner) == before | set(admitted)
    for i, room in enumerate(room_ids):
        assert (joiner.user_id in await _joined_members(owners[i % len(owners)], room)) == (room in admitted)
    return joiner


# --- rooms joined (Art. 8) --------------------------------------------------------------------------


async def test_nine_parallel_joins_into_nine_rooms_admit_exactly_the_rooms_joined_cap(
    shared_servers: SharedServers, http_session: aiohttp.ClientSession
) -> None:
    server = shared_servers.with_policy(ROOM_CAPS_POLICY)
    await _parallel_joins_admit_exactly_the_cap(server, http_session, 9, SQLITE_JOINED_CAP)


@pytest.mark.postgres
async def test_rooms_joined_cap_holds_on_postgresql(
    shared_servers: SharedServers, http_session: aiohttp.ClientSession
) -> None:
    server = shared_servers.postgres()
    pg_database = database_name(server)
    joiner = await _parallel_joins_admit_exactly_the_cap(server, http_session, 9, ROOMS_JOINED_CAP)
    # No place stays held once the joins landed (the follower releases them within seconds).
    query = "SELECT COUNT(*) FROM qunzu_join_reservations WHERE user_id = %s"
    deadline = asyncio.get_running_loop().time() + 15
    while pg_query(pg_database, query, (joiner.user_id,))[0][0]:
        assert asyncio.get_running_loop().time() < deadline, "held places were not released"
        await asyncio.sleep(0.2)


async def test_a_persons_joins_far_below_the_cap_cannot_all_slip_past_it(
    shared_servers: SharedServers, http_session: aiohttp.ClientSession
) -> None:
    # Just above the margin under which every join is guarded: the first join is decided by
    # one read; every other one of the same person must still count it.
    cap = FAST_MARGIN_CAP  # FAST_MARGIN + 4
    server = shared_servers.with_policy(GROWTH_POLICY, module_config=GROWTH_CONFIG)
    await _parallel_joins_admit_exactly_the_cap(server, http_session, cap + 4, cap)


async def test_a_persons_parallel_creations_and_joins_together_stop_at_the_rooms_joined_cap(
    shared_servers: SharedServers, http_session: aiohttp.ClientSession
) -> None:
    # A creator is in their new room at once: a creation takes a place like a join. The person
    # tries as many creations as they may own rooms, so only the rooms-joined cap can refuse.
    cap = SQLITE_JOINED_CAP
    server = shared_servers.with_policy(ROOM_CAPS_POLICY)
    owners = [await _verified(server, http_session, "owner") for _ in range(-(-cap // (SQLITE_OWNED_CAP - 1)))]
    others = await _limited([owners[i % len(owners)].new_room(preset="public_chat") for i in range(cap)])
    person = await _verified(server, http_session, "person")
    before = await _joined_rooms(person)

    results = await asyncio.gather(
        *(person.join(room) for room in others),
        *(person.create_room(name=f"群{i}") for i in range(SQLITE_OWNED_CAP)),
    )

    assert sum(1 for status, _ in results if status == 200) == cap - len(before)
    for status, reply in results:
        if status != 200:
            assert (status, reply["cn.qunzu.reason"]) == (403, "join_limit"), reply
            assert reply["cn.qunzu.detail"]["cap"] == cap
    created = {reply["room_id"] for status, reply in results[cap:] if status == 200}
    entered = {room for room, (status, _) in zip(others, results[:cap], strict=True) if status == 200}
    assert await _joined_rooms(person) == before | created | entered
    assert len(before | created | entered) == cap


# --- reports per hour (Art. 12) -----------------------------------------------------------------------


async def _report(reporter: Matrix, room: str, event_id: str) -> tuple[int, dict[str, Any]]:
    return await reporter.qunzu(
        "POST", "/reports", {"room_id": room, "event_id": event_id, "category": "fraud", "reason": "骗钱"}
    )


def _tickets_of(server: SynapseProcess, reporter: str) -> list[str]:
    with sqlite3.connect(server.config_path.parent / "homeserver.db") as connection:
        rows = connection.execute("SELECT ticket_id FROM qunzu_ticket_reporters WHERE reporter = ?", (reporter,))
        return [str(row[0]) for row in rows]


async def _reporter_and_messages(
    synapse: SynapseProcess, http_session: aiohttp.ClientSession, count: int
) -> tuple[Matrix, str, list[str]]:
    """A verified reporter in a public room where another verified member sent `count` messages."""
    reporter = await _verified(synapse, http_session, "reporter")
    accused = await _verified(synapse, http_session, "accused")
    room = await accused.new_room(preset="public_chat")
    assert (await reporter.join(room))[0] == 200
    events = []
    for i in range(count):
        status, sent = await accused.send_text(room, f"今天天气不错 {i}")
        assert status == 200, sent
        events.append(sent["event_id"])
    return reporter, room, events


async def test_parallel_reports_over_the_hourly_cap_file_exactly_the_cap(
    synapse: SynapseProcess, http_session: aiohttp.ClientSession
) -> None:
    reporter, room, events = await _reporter_and_messages(synapse, http_session, REPORTS_PER_HOUR + 6)

    results = await asyncio.gather(*(_report(reporter, room, event) for event in events))

    filed = [reply["ticket"] for status, reply in results if status == 200]
    refused = [reply | {"status": status} for status, reply in results if status != 200]
    assert len(filed) == REPORTS_PER_HOUR
    assert len(refused) == 6
    for reply in refused:
        assert reply["status"] == 429
        assert reply["errcode"] == "M_LIMIT_EXCEEDED"
        assert f"{REPORTS_PER_HOUR} 次" in reply["error"] and "举报" in reply["error"]
        assert reply["cn.qunzu.detail"] == {"cap": REPORTS_PER_HOUR, "count": REPORTS_PER_HOUR, "per": "hour"}
        assert 0 < reply["retry_after_ms"] <= 3600 * 1000
    # Nothing was stored for the refused reports: exactly the filed tickets name the reporter.
    assert sorted(_tickets_of(synapse, reporter.user_id)) == sorted(filed)


async def test_report_buttons_count_against_the_hourly_cap(
    synapse: SynapseProcess, http_session: aiohttp.ClientSession
) -> None:
    reporter, room, events = await _reporter_and_messages(synapse, http_session, REPORTS_PER_HOUR + 2)
    # A client's report button: Synapse stores it, the module imports it within seconds.
    button = events.pop()
    path = f"/_matrix/client/v3/rooms/{quote(room)}/report/{quote(button)}"
    assert (await reporter.call("POST", path, {"reason": "gambling"}))[0] == 200
    deadline = asyncio.get_running_loop().time() + 30
    while len(_tickets_of(synapse, reporter.user_id)) < 1:
        assert asyncio.get_running_loop().time() < deadline, "the report button was not imported"
        await asyncio.sleep(0.2)

    results = await asyncio.gather(*(_report(reporter, room, event) for event in events))

    assert sum(1 for status, _ in results if status == 200) == REPORTS_PER_HOUR - 1
    assert {status for status, _ in results if status != 200} == {429}
    assert len(_tickets_of(synapse, reporter.user_id)) == REPORTS_PER_HOUR


# --- verification attempts per day (Art. 6) --------------------------------------------------------------


async def test_parallel_verification_attempts_reach_the_provider_exactly_the_daily_cap(
    http_provider_server: SynapseProcess,
    verification_service: FakeVerificationService,
    http_session: aiohttp.ClientSession,
) -> None:
    server = http_provider_server
    person = Matrix(http_session, server.base_url, server.register(fresh_localpart("p")))
    numbers = [fresh_id_number() for _ in range(12)]

    # "李不符": the provider answers "mismatch", so every counted attempt reaches it.
    results = await asyncio.gather(*(person.verify(number, name="李不符") for number in numbers))

    assert sorted(status for status, _ in results) == [400] * ATTEMPTS_PER_DAY + [429] * 7
    reached = {request["id_number"] for request in verification_service.requests}
    assert len(verification_service.requests) == ATTEMPTS_PER_DAY
    for number, (status, reply) in zip(numbers, results, strict=True):
        if status == 400:
            assert reply["cn.qunzu.reason"] == "invalid_identity"
            assert number in reached
        else:
            assert reply["errcode"] == "M_LIMIT_EXCEEDED"
            assert f"每天 {ATTEMPTS_PER_DAY} 次" in reply["error"]
            assert reply["cn.qunzu.detail"] == {"cap": ATTEMPTS_PER_DAY, "count": ATTEMPTS_PER_DAY, "per": "day"}
            assert 0 < reply["retry_after_ms"] <= 24 * 3600 * 1000
            assert number not in reached
    # Later alone, still refused: the day's attempts are used up.
    status, reply = await person.verify(fresh_id_number(), name="张通过")
    assert status == 429
    _status, me = await person.qunzu("GET", "/me")
    assert me["verification"]["status"] == "unverified"


async def test_parallel_form_submissions_share_the_same_daily_cap(
    http_provider_server: SynapseProcess,
    verification_service: FakeVerificationService,
    http_session: aiohttp.ClientSession,
) -> None:
    server = http_provider_server
    staff = Matrix(http_session, server.base_url, server.register(fresh_localpart("staff"), admin=True))
    person = Matrix(http_session, server.base_url, server.register(fresh_localpart("p")))
    # Two attempts through the API first: the form counts on the same day's budget.
    for _ in range(2):
        assert (await person.verify(fresh_id_number(), name="李不符"))[0] == 400
    status, link = await staff.qunzu("POST", "/admin/realname/links", {"user_id": person.user_id})
    assert status == 200, link
    parsed = urlparse(link["url"])
    post_url = f"{parsed.scheme}://{parsed.netloc}{parsed.path}?{parsed.query}"

    async def submit() -> str:
        form = {"name": "李不符", "id_number": fresh_id_number(), "phone": "", "accept_convention": "1"}
        async with http_session.post(post_url, data=form) as page:
            assert page.status == 200
            return await page.text()

    pages = await asyncio.gather(*(submit() for _ in range(8)))

    limited = [page for page in pages if re.search(rf"每天 {ATTEMPTS_PER_DAY} 次", page)]
    assert len(limited) == 8 - (ATTEMPTS_PER_DAY - 2)
    assert len(verification_service.requests) == ATTEMPTS_PER_DAY
