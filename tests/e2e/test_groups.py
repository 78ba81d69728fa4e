"""Groups (Art. 7, 8, 9) as room owners and members meet them, against a real Synapse."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import pytest

from devtools.homeserver import SynapseProcess
from policies.codes import is_valid_code

from .conftest import (
    GROWTH_CONFIG,
    GROWTH_POLICY,
    LOCAL_ONLY_ACL,
    ROOM_CAPS_POLICY,
    SharedServers,
    database_name,
    fresh_localpart,
    pg_query,
)
from .matrix import Matrix
from .sanction_helpers import notices

SERVICE = "@qunzu:localhost"
T = TypeVar("T")


async def group_state(account: Matrix, room_id: str) -> dict[str, Any]:
    status, content = await account.call("GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/state/cn.qunzu.group/")
    assert status == 200, content
    return content


async def joined(account: Matrix, room_id: str) -> set[str]:
    status, reply = await account.call("GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/joined_members")
    assert status == 200, reply
    return set(reply["joined"])


async def eventually(check: Callable[[], Awaitable[bool]], within_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def gather_limited(jobs: list[Awaitable[T]], limit: int = 8) -> list[T]:
    """Run the coroutines with at most `limit` at once (a busy 2-core machine), in order."""
    semaphore = asyncio.Semaphore(limit)

    async def one(job: Awaitable[T]) -> T:
        async with semaphore:
            return await job

    return list(await asyncio.gather(*(one(job) for job in jobs)))


async def verified(server: SynapseProcess, session: aiohttp.ClientSession, prefix: str = "u") -> Matrix:
    account = Matrix(session, server.base_url, server.register(fresh_localpart(prefix)))
    status, reply = await account.verify()
    assert status == 200, reply
    return account


# --- codes, state, aliases, the service account -------------------------------------------


async def test_a_new_room_becomes_a_group_with_code_alias_and_the_service_account(member: Matrix) -> None:
    assert (await member.verify())[0] == 200
    room = await member.new_room(name="周末爬山")
    group = await group_state(member, room)
    assert is_valid_code(group["code"])
    assert group["category"] == "general"
    assert group["tier"] == "small"
    assert isinstance(group["created_at"], int)

    status, alias = await member.call(
        "GET", f"/_matrix/client/v3/directory/room/{quote('#' + group['code'] + ':localhost')}"
    )
    assert status == 200
    assert alias["room_id"] == room

    await eventually(lambda: _contains(joined(member, room), SERVICE))
    status, levels = await member.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.power_levels/")
    assert levels["users"][SERVICE] == 100


async def _contains(members: Awaitable[set[str]], user_id: str) -> bool:
    return user_id in await members


async def test_rooms_created_at_once_get_distinct_valid_codes_in_their_state(
    synapse: SynapseProcess, http_session: aiohttp.ClientSession
) -> None:
    """The code reserved for a creation is the one in its state (200 at once: tests/module/test_group_codes.py)."""
    owners = await gather_limited([verified(synapse, http_session, "owner") for _ in range(3)])
    rooms = await gather_limited([owner.new_room() for owner in owners for _ in range(3)])
    codes = [(await group_state(owners[i // 3], room))["code"] for i, room in enumerate(rooms)]
    assert len(rooms) == 9
    assert all(is_valid_code(code) for code in codes)
    assert len(set(codes)) == 9


async def test_group_state_is_protected_from_the_creator_and_from_admins(member: Matrix, staff: Matrix) -> None:
    assert (await member.verify())[0] == 200
    room = await member.new_room(preset="public_chat")
    original = await group_state(member, room)
    forged = {**original, "category": "news", "code": "123456782"}
    status, reply = await member.send_state(room, "cn.qunzu.group", forged)
    assert status == 403
    assert reply["cn.qunzu.reason"] == "protected_state"
    assert (await staff.join(room))[0] == 200
    status, reply = await staff.send_state(room, "cn.qunzu.group", forged)
    assert status == 403
    assert reply["cn.qunzu.reason"] == "protected_state"
    assert await group_state(member, room) == original


async def test_a_group_event_smuggled_into_initial_state_is_replaced(member: Matrix) -> None:
    assert (await member.verify())[0] == 200
    fake = {"type": "cn.qunzu.group", "state_key": "", "content": {"code": "123456782", "category": "news"}}
    room = await member.new_room(initial_state=[fake])
    group = await group_state(member, room)
    assert group["code"] != "123456782"
    assert group["category"] == "general"


async def test_memberships_in_initial_state_are_invites_asked_like_any_other_or_refused(member: Matrix) -> None:
    """Synapse sends `initial_state` without asking `user_may_invite`: the module makes them `invite`s."""
    assert (await member.verify())[0] == 200
    outsider = {"type": "m.room.member", "state_key": "@someone:elsewhere.example", "content": {"membership": "invite"}}
    status, reply = await member.call("POST", "/_matrix/client/v3/createRoom", {"initial_state": [outsider]})
    assert (status, reply.get("cn.qunzu.reason")) == (403, "remote_server_not_allowed"), reply
    ban = {"type": "m.room.member", "state_key": SERVICE, "content": {"membership": "ban"}}
    status, reply = await member.call("POST", "/_matrix/client/v3/createRoom", {"initial_state": [ban]})
    assert (status, reply.get("errcode")) == (400, "M_BAD_JSON"), reply
    assert "invite" in reply["error"]


MALFORMED_CREATIONS = [
    ("invite", None),
    ("invite", "@a:localhost"),
    ("invite", [5]),
    ("initial_state", 5),
    ("initial_state", ["x"]),
    ("invite_3pid", "x"),
    ("creation_content", []),
]


@pytest.mark.parametrize(("field", "value"), MALFORMED_CREATIONS)
async def test_a_creation_field_of_the_wrong_shape_is_a_400_naming_it(
    member: Matrix, field: str, value: object
) -> None:
    # Synapse itself answers some of these with a 500 (an `invite` of null), others after the module read them.
    status, reply = await member.call("POST", "/_matrix/client/v3/createRoom", {field: value})
    assert (status, reply.get("errcode")) == (400, "M_BAD_JSON"), reply
    assert reply["error"].startswith(f"{field} must be"), reply


async def test_category_is_chosen_at_creation_and_unknown_ones_are_refused(member: Matrix) -> None:
    assert (await member.verify())[0] == 200
    room = await member.new_room(creation_content={"cn.qunzu.category": "work"})
    assert (await group_state(member, room))["category"] == "work"
    status, reply = await member.create_room(creation_content={"cn.qunzu.category": "gossip"})
    assert status == 400
    assert reply["errcode"] == "M_INVALID_PARAM"
    assert reply["cn.qunzu.reason"] == "invalid_category"
    assert "work" in reply["cn.qunzu.detail"]["categories"]


async def test_high_risk_category_needs_approval_from_the_start(member: Matrix) -> None:
    assert (await member.verify())[0] == 200
    room = await member.new_room(preset="public_chat", creation_content={"cn.qunzu.category": "news"})
    status, rules = await member.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.join_rules/")
    assert rules["join_rule"] == "knock"
    status, reply = await member.send_state(room, "m.room.join_rules", {"join_rule": "public"})
    assert status == 403
    assert reply["cn.qunzu.reason"] == "join_approval_required"


async def test_creator_changes_the_category_others_may_not(member: Matrix, synapse: SynapseProcess, as_user) -> None:
    assert (await member.verify())[0] == 200
    room = await member.new_room()
    code = (await group_state(member, room))["code"]
    stranger = as_user(synapse.register(fresh_localpart("stranger")))
    status, reply = await stranger.qunzu("POST", f"/groups/{code}/category", {"category": "study"})
    assert status == 403
    status, reply = await member.qunzu("POST", f"/groups/{code}/category", {"category": "nonsense"})
    assert (status, reply["cn.qunzu.reason"]) == (400, "invalid_category")
    status, reply = await member.qunzu("POST", f"/groups/{code}/category", {"category": "study"})
    assert status == 200, reply
    assert reply["category"] == "study"
    await eventually(lambda: _category_is(member, room, "study"))


async def _category_is(account: Matrix, room: str, category: str) -> bool:
    return bool((await group_state(account, room))["category"] == category)


# --- caps (Art. 8), exact under concurrency ----------------------------------------------------


async def test_fifty_simultaneous_joins_fill_exactly_the_free_places(
    shared_servers: SharedServers, http_session: aiohttp.ClientSession
) -> None:
    server = shared_servers.with_policy(ROOM_CAPS_POLICY)
    owner = await verified(server, http_session, "owner")
    room = await owner.new_room(preset="public_chat")
    joiners = [Matrix(http_session, server.base_url, server.register(fresh_localpart("j"))) for _ in range(50)]
    results = await asyncio.gather(*(joiner.join(room) for joiner in joiners))
    admitted = [status for status, _ in results if status == 200]
    refused = [reply for status, reply in results if status != 200]
    assert len(admitted) == 9  # the owner holds the tenth place
    assert {reply["cn.qunzu.reason"] for reply in refused} == {"room_full"}
    assert refused[0]["cn.qunzu.detail"]["cap"] == 10
    members = await joined(owner, room)
    assert len(members - {SERVICE}) == 10

    # The turned away are told in their bot chat: the notices follow the refusals in the
    # background, a few at a time (their queue on GET /health), none dropped. Every seventh is
    # read back here; module/test_bot_chat_notices.py checks a crowd's every notice.
    async def all_sent() -> bool:
        _status, health = await owner.qunzu("GET", "/health")
        return bool(health["notices"] == {"waiting": 0, "senders": 0, "dropped": 0})

    await eventually(all_sent, within_s=120)
    turned_away = [joiner for joiner, (status, _reply) in zip(joiners, results, strict=True) if status != 200][::7]
    told = await gather_limited([notices(joiner, SERVICE) for joiner in turned_away])
    assert all(any("本群人数已达上限" in body for body in bodies) for bodies in told), told


# Per-person caps: the tests on this server each use people of their own.


async def test_create_and_join_caps_follow_the_credit_level(
    shared_servers: SharedServers, http_session: aiohttp.ClientSession
) -> None:
    server = shared_servers.with_policy(ROOM_CAPS_POLICY)
    owner = await verified(server, http_session, "owner")
    rooms = [await owner.new_room(preset="public_chat") for _ in range(3)]
    status, reply = await owner.create_room()
    assert status == 403
    assert reply["cn.qunzu.reason"] == "create_limit"
    assert reply["cn.qunzu.detail"] == {"cap": 3, "count": 3, "level": "B"}

    other = await verified(server, http_session, "other")
    more = [await other.new_room(preset="public_chat") for _ in range(2)]
    joiner = await verified(server, http_session, "joiner")
    for room in [*rooms, *more][:4]:
        assert (await joiner.join(room))[0] == 200
    status, reply = await joiner.join(more[-1])
    assert status == 403
    assert reply["cn.qunzu.reason"] == "join_limit"
    assert reply["cn.qunzu.detail"]["cap"] == 4


async def test_concurrent_creations_never_exceed_the_owned_rooms_cap(
    shared_servers: SharedServers, http_session: aiohttp.ClientSession
) -> None:
    server = shared_servers.with_policy(ROOM_CAPS_POLICY)
    owner = await verified(server, http_session, "owner")
    results = await asyncio.gather(*(owner.create_room() for _ in range(10)))
    assert sum(1 for status, _ in results if status == 200) == 3
    assert {reply["cn.qunzu.reason"] for status, reply in results if status != 200} == {"create_limit"}


async def test_a_growing_room_switches_to_approval_and_knocks_are_approved(
    shared_servers: SharedServers, http_session: aiohttp.ClientSession
) -> None:
    # Tiers of 3/6/9/12 members; approval from "medium".
    server = shared_servers.with_policy(GROWTH_POLICY, module_config=GROWTH_CONFIG)
    owner = await verified(server, http_session, "owner")
    room = await owner.new_room(preset="public_chat")
    for _ in range(3):
        joiner = await verified(server, http_session, "j")
        assert (await joiner.join(room))[0] == 200

    async def knock_rule() -> bool:
        _status, rules = await owner.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.join_rules/")
        return rules.get("join_rule") == "knock"

    await eventually(knock_rule)
    assert (await group_state(owner, room))["tier"] == "medium"

    late = await verified(server, http_session, "late")
    status, _reply = await late.join(room)
    assert status == 403
    status, reply = await late.call("POST", f"/_matrix/client/v3/knock/{quote(room)}", {"reason": "hi"})
    assert status == 200, reply
    assert (await owner.invite(room, late.user_id))[0] == 200  # approving the knock
    assert (await late.join(room))[0] == 200

    status, reply = await owner.send_state(room, "m.room.join_rules", {"join_rule": "public"})
    assert status == 403
    assert reply["cn.qunzu.reason"] == "join_approval_required"


# --- the info page (Art. 8) ---------------------------------------------------------------------


async def test_info_page_shows_counts_and_roles_as_they_change(
    member: Matrix, synapse: SynapseProcess, as_user, http_session: aiohttp.ClientSession
) -> None:
    assert (await member.verify())[0] == 200
    room = await member.new_room(name="读书会", topic="每周一本书", preset="public_chat")
    code = (await group_state(member, room))["code"]
    others = [as_user(synapse.register(fresh_localpart("reader"))) for _ in range(3)]
    for other in others:
        assert (await other.join(room))[0] == 200
    assert (await others[2].call("POST", f"/_matrix/client/v3/rooms/{quote(room)}/leave", {}))[0] == 200
    _status, levels = await member.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.power_levels/")
    levels["users"][others[0].user_id] = 50
    assert (await member.send_state(room, "m.room.power_levels", levels))[0] == 200

    status, page = await others[1].qunzu("GET", f"/groups/{code}")
    assert status == 200, page
    assert (page["code"], page["name"], page["topic"], page["category"]) == (code, "读书会", "每周一本书", "general")
    assert page["member_count"] == 3  # creator + two readers; the service account is not counted
    assert page["creator"] == member.user_id
    assert page["creators"] == [{"user_id": member.user_id, "role": "creator", "label": "群主"}]
    assert page["admins"] == [{"user_id": others[0].user_id, "role": "admin", "label": "管理员"}]
    assert page["status"] == "active"
    assert page["scale_tier"] == "small"

    headers = {"Authorization": f"Bearer {others[1].account.access_token}", "Accept": "text/html"}
    async with http_session.get(
        f"{synapse.base_url}/_synapse/client/qunzu/v1/groups/{code}", headers=headers
    ) as response:
        text = await response.text()
    assert response.status == 200
    assert response.content_type == "text/html"
    assert "读书会" in text and "群主" in text and code in text and "<table>" in text
    # Art. 12: the page leads to the public report form, the group's code filled in.
    link = f'<a id="report" href="../public/report?code={code}&amp;lang=zh-CN">举报违法和不良信息（无需账号）</a>'
    assert link in text


async def test_unknown_or_malformed_codes_are_a_clean_404(member: Matrix) -> None:
    for code in ("123456782", "123456789", "abc"):
        status, reply = await member.qunzu("GET", f"/groups/{code}")
        assert status == 404
        assert reply["errcode"] == "M_NOT_FOUND"


# --- upgrades and rooms from before Qunzu -----------------------------------------------------------


async def test_a_room_upgrade_carries_the_code_and_category(member: Matrix) -> None:
    assert (await member.verify())[0] == 200
    room = await member.new_room(creation_content={"cn.qunzu.category": "study"})
    before = await group_state(member, room)
    status, reply = await member.call("POST", f"/_matrix/client/v3/rooms/{quote(room)}/upgrade", {"new_version": "12"})
    assert status == 200, reply
    new_room = reply["replacement_room"]

    async def carried() -> bool:
        status, content = await member.call("GET", f"/_matrix/client/v3/rooms/{quote(new_room)}/state/cn.qunzu.group/")
        return status == 200 and content.get("code") == before["code"]

    await eventually(carried)
    assert (await group_state(member, new_room))["category"] == "study"
    # Art. 6: the server ACL of the policy comes along (this server only, by default).
    status, acl = await member.call("GET", f"/_matrix/client/v3/rooms/{quote(new_room)}/state/m.room.server_acl/")
    assert (status, acl) == (200, LOCAL_ONLY_ACL)
    status, page = await member.qunzu("GET", f"/groups/{before['code']}")
    assert page["room_id"] == new_room


# --- what the module reads from Synapse ---------------------------------------------------------------


SYNAPSE_COLUMNS = {
    "current_state_events": {"room_id", "type", "state_key", "membership"},
    "local_current_membership": {"room_id", "user_id", "membership", "event_id"},
    "room_memberships": {"event_id", "display_name", "avatar_url"},
    "profiles": {"full_user_id", "fields", "avatar_url"},
    "events": {
        "event_id",
        "room_id",
        "type",
        "sender",
        "origin_server_ts",
        "state_key",
        "outlier",
        "rejection_reason",
        "stream_ordering",
    },
    "event_json": {"event_id", "room_id", "json"},
    "redactions": {"event_id", "redacts"},
    "rooms": {"room_id", "creator"},
    "room_aliases": {"room_alias", "room_id"},
}


def test_synapse_tables_the_module_reads_still_exist(synapse: SynapseProcess) -> None:
    with sqlite3.connect(synapse.config_path.parent / "homeserver.db") as connection:
        for table, columns in SYNAPSE_COLUMNS.items():
            present = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
            assert columns <= present, (table, columns - present)


@pytest.mark.postgres
async def test_member_cap_holds_on_postgresql(
    shared_servers: SharedServers, http_session: aiohttp.ClientSession
) -> None:
    # Tiers of 10/20/30/40 members; level B's rooms stay small.
    server = shared_servers.postgres()
    pg_database = database_name(server)
    for table, columns in SYNAPSE_COLUMNS.items():
        rows = pg_query(
            pg_database, "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,)
        )
        assert columns <= {row[0] for row in rows}, table
    owner = await verified(server, http_session, "owner")
    room = await owner.new_room(preset="public_chat")
    joiners = [Matrix(http_session, server.base_url, server.register(fresh_localpart("j"))) for _ in range(20)]
    results = await asyncio.gather(*(joiner.join(room) for joiner in joiners))
    assert sum(1 for status, _ in results if status == 200) == 9
    assert len(await joined(owner, room) - {SERVICE}) == 10
