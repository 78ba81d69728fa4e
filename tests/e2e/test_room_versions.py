"""Groups work in room versions 10, 11 and 12 whatever the server's `default_room_version` (Art. 8).

Before version 12 a creation's `power_level_content_override.users` must name the
creator; from version 12 (MSC4289) it must not. The module cannot read the server's
default version, so a creation that names none gets no `users` map of the module's
making and the service account's power is granted right after; one that names a
version is shaped for it at once. Three servers, one per default version, each
shared with other tests whose rules do not depend on the version:

- 12, Synapse's own default: the shared `synapse`;
- 11: the content server (tests/e2e/content_fixtures.py), so this file is in the
  xdist group "content";
- 10: a server that ran without Qunzu first, as an operator's existing server would;
  the module was added later, and a room made before it becomes a group.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote

import pytest

from devtools.homeserver import Account, SynapseProcess, module_block, request_json
from policies.codes import is_valid_code

from .conftest import LOCAL_ONLY_ACL, TEST_SERVER_MODULE_DEFAULTS, ServerFactory, fresh_localpart
from .content_fixtures import content_server_fixture, terms_dir_fixture  # noqa: F401  (fixtures: the version-11 server)
from .matrix import Matrix
from .sanction_helpers import SERVICE_USER_ID, eventually, notices, sanction, set_power, verified

SERVICE = SERVICE_USER_ID
OTHER_VERSION = {"10": "12", "11": "12", "12": "10"}
UPGRADE_TO = {"10": "11", "11": "12", "12": "12"}


@dataclass(frozen=True)
class AddedLater:
    """The version-10 server, the room its owner made before Qunzu was added, and that owner."""

    server: SynapseProcess
    room_id: str
    owner: Account


@pytest.fixture(name="added_later", scope="module")
def added_later_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AddedLater]:
    """A server whose default version is 10 and which ran without Qunzu until one room was made.

    No service account exists on it, so the module cannot learn the default version
    from the server's capabilities: the power is granted right after creation instead.
    """
    factory = ServerFactory(tmp_path_factory.mktemp("hs-v10"))
    extra = {"default_room_version": "10"}
    try:
        plain = factory.start(modules=[], homeserver_extra=extra)
        early = plain.register(fresh_localpart("early"))
        created = request_json(
            "POST", f"{plain.base_url}/_matrix/client/v3/createRoom", {"name": "老群"}, token=early.access_token
        )
        plain.stop()
        data_dir = plain.config_path.parent
        server = factory.start(
            data_dir=data_dir,
            modules=[module_block(data_dir, **TEST_SERVER_MODULE_DEFAULTS)],
            homeserver_extra=extra,
            service_account=False,
        )
        yield AddedLater(server, str(created["room_id"]), server.login(early.user_id, early.password))
    finally:
        factory.stop_all()


@pytest.fixture(scope="module", params=["10", "11", "12"])
def versioned(request: pytest.FixtureRequest) -> SynapseProcess:
    """A server whose `default_room_version` is the parameter (see the module's docstring).

    On the version-11 and 12 servers the service account exists (as in production,
    where the bot logs in with it), so the module learns the default version from the
    server's capabilities. On the version-10 server it does not: the look-up fails and
    the power is granted right after creation instead.
    """
    fixture = {"10": "added_later", "11": "server", "12": "synapse"}[request.param]
    found = request.getfixturevalue(fixture)
    server: SynapseProcess = found.server if isinstance(found, AddedLater) else found
    server.default_version = request.param  # type: ignore[attr-defined]
    return server


def default_version(server: SynapseProcess) -> str:
    return str(server.default_version)  # type: ignore[attr-defined]


def learns_default(server: SynapseProcess) -> bool:
    return default_version(server) != "10"


async def state(account: Matrix, room: str, event_type: str) -> dict[str, Any]:
    status, content = await account.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/state/{event_type}/")
    assert status == 200, content
    return content


async def service_has_power(account: Matrix, room: str) -> bool:
    """Power 100 in `users`, or (room version 12) a creator of the room, whose power is unbounded."""
    create = await state(account, room, "m.room.create")
    if create["room_version"] == "12" and SERVICE in create.get("additional_creators", []):
        return True
    users = (await state(account, room, "m.room.power_levels")).get("users", {})
    return bool(users.get(SERVICE) == 100)


async def assert_group(owner: Matrix, room: str, version: str) -> str:
    """The room is a group of the given version: code, alias, ACL, powers. Returns its code."""
    assert (await state(owner, room, "m.room.create"))["room_version"] == version
    code = str((await state(owner, room, "cn.qunzu.group"))["code"])
    status, alias = await owner.call("GET", f"/_matrix/client/v3/directory/room/{quote(f'#{code}:localhost')}")
    assert (status, alias.get("room_id")) == (200, room)
    await eventually(lambda: service_has_power(owner, room), what="the service account's power")
    users = (await state(owner, room, "m.room.power_levels"))["users"]
    if version == "12":
        assert owner.user_id not in users  # MSC4289: creators hold unbounded power outside `users`
    else:
        assert users[owner.user_id] == 100
    return code


async def test_a_group_without_a_named_version_gets_the_servers_default(
    versioned: SynapseProcess, as_user: Callable[..., Matrix]
) -> None:
    version = default_version(versioned)
    owner = await verified(as_user, versioned, "rv")
    status, reply = await owner.create_room(name="读书会")
    assert status == 200, reply
    room = reply["room_id"]
    if learns_default(versioned):
        # Shaped for the server's default at creation: the power is there at once.
        assert (await state(owner, room, "m.room.power_levels"))["users"][SERVICE] == 100
    code = await assert_group(owner, room, version)

    admin = await verified(as_user, versioned, "rvadmin")
    assert (await owner.invite(room, admin.user_id))[0] == 200
    assert (await admin.join(room))[0] == 200
    await set_power(owner, room, {admin.user_id: 100})
    # A small group's page is its members' (DESIGN.md §6.6): an outsider gets the 404 of an unknown code.
    reader = await verified(as_user, versioned, "rvreader")
    status, page = await reader.qunzu("GET", f"/groups/{code}")
    assert (status, page.get("cn.qunzu.reason")) == (404, "group_not_found"), page
    assert (await owner.invite(room, reader.user_id))[0] == 200
    assert (await reader.join(room))[0] == 200
    status, page = await reader.qunzu("GET", f"/groups/{code}")
    assert status == 200, page
    assert page["room_id"] == room
    assert page["creators"] == [{"user_id": owner.user_id, "role": "creator", "label": "群主"}]
    assert page["admins"] == [{"user_id": admin.user_id, "role": "admin", "label": "管理员"}]


async def test_a_group_naming_another_version_is_shaped_for_it_at_creation(
    versioned: SynapseProcess, as_user: Callable[..., Matrix]
) -> None:
    version = OTHER_VERSION[default_version(versioned)]
    owner = await verified(as_user, versioned, "rvx")
    # The client's own override is kept; the module adds what the named version needs.
    status, reply = await owner.create_room(room_version=version, power_level_content_override={"invite": 0})
    assert status == 200, reply
    room = reply["room_id"]
    levels = await state(owner, room, "m.room.power_levels")
    assert levels["users"][SERVICE] == 100  # at creation, not a moment later
    assert levels["invite"] == 0
    await assert_group(owner, room, version)


async def test_a_client_users_map_for_the_wrong_version_is_corrected_when_the_version_is_named(
    versioned: SynapseProcess, as_user: Callable[..., Matrix]
) -> None:
    owner = await verified(as_user, versioned, "rvu")
    friend = await verified(as_user, versioned, "rvf")
    for version, users in (("10", {friend.user_id: 50}), ("12", {owner.user_id: 100, friend.user_id: 50})):
        status, reply = await owner.create_room(room_version=version, power_level_content_override={"users": users})
        assert status == 200, (version, reply)
        levels = await state(owner, reply["room_id"], "m.room.power_levels")
        assert levels["users"][friend.user_id] == 50
        await assert_group(owner, reply["room_id"], version)


async def test_an_upgrade_carries_the_group_in_every_version(
    versioned: SynapseProcess, as_user: Callable[..., Matrix]
) -> None:
    owner = await verified(as_user, versioned, "rvup")
    room = await owner.new_room(name="升级群")
    code = await assert_group(owner, room, default_version(versioned))
    target = UPGRADE_TO[default_version(versioned)]
    status, reply = await owner.call("POST", f"/_matrix/client/v3/rooms/{quote(room)}/upgrade", {"new_version": target})
    assert status == 200, reply
    new_room = reply["replacement_room"]

    async def carried() -> bool:
        status, content = await owner.call("GET", f"/_matrix/client/v3/rooms/{quote(new_room)}/state/cn.qunzu.group/")
        return status == 200 and content.get("code") == code

    await eventually(carried, what="the group in the new room")
    assert (await state(owner, new_room, "m.room.create"))["room_version"] == target
    await eventually(lambda: service_has_power(owner, new_room), what="the service account's power after upgrade")
    await eventually(lambda: _joined(owner, new_room), what="the service account in the new room")
    status, alias = await owner.call("GET", f"/_matrix/client/v3/directory/room/{quote(f'#{code}:localhost')}")
    assert (status, alias.get("room_id")) == (200, new_room)
    status, page = await owner.qunzu("GET", f"/groups/{code}")
    assert status == 200, page
    assert page["room_id"] == new_room
    assert page["creators"] == [{"user_id": owner.user_id, "role": "creator", "label": "群主"}]
    assert page["admins"] == []


async def test_a_version_12_group_is_not_moved_to_an_earlier_version(
    versioned: SynapseProcess, as_user: Callable[..., Matrix]
) -> None:
    """Synapse would copy power levels without the creator into a room where creators need them."""
    owner = await verified(as_user, versioned, "rvdown")
    room = await owner.new_room(room_version="12")
    code = await assert_group(owner, room, "12")
    status, reply = await owner.call("POST", f"/_matrix/client/v3/rooms/{quote(room)}/upgrade", {"new_version": "11"})
    assert status == 403, reply
    assert reply["cn.qunzu.reason"] == "protected_state", reply
    assert "第 12 版" in reply["error"], reply
    status, tombstone = await owner.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.tombstone/")
    assert status == 404, tombstone
    status, joined = await owner.call("GET", "/_matrix/client/v3/joined_rooms")
    assert joined["joined_rooms"] == [room], joined  # no new room was made
    status, page = await owner.qunzu("GET", f"/groups/{code}")
    assert (status, page["room_id"]) == (200, room)


async def test_a_bot_chat_opens_in_every_version(versioned: SynapseProcess, as_user: Callable[..., Matrix]) -> None:
    newcomer = as_user(versioned.register(fresh_localpart("rvnew")), versioned)
    status, reply = await newcomer.create_room(is_direct=True, invite=[SERVICE], preset="trusted_private_chat")
    assert status == 200, reply
    room = reply["room_id"]
    create = await state(newcomer, room, "m.room.create")
    assert create["room_version"] == default_version(versioned)
    assert create["cn.qunzu.verification_dm"] is True
    await eventually(lambda: _joined(newcomer, room), what="the service account in the bot chat")
    status, sent = await newcomer.send_text(room, "!verify")
    assert status == 200, sent


async def _joined(account: Matrix, room: str) -> bool:
    """Whether the service account has joined the room (as its member sees it)."""
    status, reply = await account.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/joined_members")
    assert status == 200, reply
    return SERVICE in reply["joined"]


async def test_a_notice_chat_opens_in_every_version(versioned: SynapseProcess, as_user: Callable[..., Matrix]) -> None:
    staff = as_user(versioned.register(fresh_localpart("rvstaff"), admin=True), versioned)
    person = await verified(as_user, versioned, "rvwarn")
    record = await sanction(staff, "user", person.user_id, "warning")

    async def warned() -> list[str] | None:
        return [body for body in await notices(person) if record["id"] in body] or None

    bodies = await eventually(warned, what="the warning in the notice chat")
    assert "!appeal" in bodies[0]
    _status, joined = await person.call("GET", "/_matrix/client/v3/joined_rooms")
    chats = [room for room in joined["joined_rooms"] if await _joined(person, room)]
    versions = {(await state(person, room, "m.room.create"))["room_version"] for room in chats}
    assert versions == {default_version(versioned)}


@pytest.mark.parametrize(
    "override", [{"users": ["@x:localhost"]}, {"users": "@x:localhost"}, {"users": 7}, ["users"], "users"]
)
async def test_a_malformed_override_is_a_clean_400_and_nothing_is_made(
    versioned: SynapseProcess, as_user: Callable[..., Matrix], override: Any
) -> None:
    owner = await verified(as_user, versioned, "rvbad")
    for version in ({}, {"room_version": "10"}, {"room_version": "12"}):
        status, reply = await owner.create_room(power_level_content_override=override, **version)
        assert (status, reply["errcode"]) == (400, "M_BAD_JSON"), (version, reply)
        assert "power_level_content_override" in reply["error"]
        levels = {"type": "m.room.power_levels", "state_key": "", "content": override}
        status, reply = await owner.create_room(initial_state=[levels], **version)
        assert (status, reply["errcode"]) == (400, "M_BAD_JSON"), (version, reply)
    status, joined = await owner.call("GET", "/_matrix/client/v3/joined_rooms")
    assert joined["joined_rooms"] == [], joined


async def test_a_trusted_private_group_lists_its_people_but_not_the_platform(
    versioned: SynapseProcess, as_user: Callable[..., Matrix]
) -> None:
    """Synapse makes every invitee of a trusted private chat a creator (12) or gives them 100 (before)."""
    version = default_version(versioned)
    owner = await verified(as_user, versioned, "rvtp")
    friend = await verified(as_user, versioned, "rvtpf")
    status, reply = await owner.create_room(preset="trusted_private_chat", invite=[friend.user_id], name="两人群")
    assert status == 200, reply
    room = reply["room_id"]
    code = await assert_group(owner, room, version)
    status, page = await owner.qunzu("GET", f"/groups/{code}")
    assert status == 200, page
    people = [(entry["user_id"], entry["role"]) for entry in [*page["creators"], *page["admins"]]]
    if version == "12":
        assert people == [(owner.user_id, "creator"), (friend.user_id, "creator")]
    else:
        assert people == [(owner.user_id, "creator"), (friend.user_id, "admin")]


async def service_membership(account: Matrix, room: str) -> str | None:
    status, member = await account.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.member/{SERVICE}")
    return str(member.get("membership")) if status == 200 else None


async def test_nobody_takes_the_service_accounts_powers_or_puts_it_out_of_a_group(
    versioned: SynapseProcess, as_user: Callable[..., Matrix]
) -> None:
    version = default_version(versioned)
    owner = await verified(as_user, versioned, "rvkeep")
    # A room's first power levels pass Synapse's auth rules whatever they ask: decided at creation.
    levels_state = {"type": "m.room.power_levels", "state_key": "", "content": {"state_default": 101}}
    for asked in ({"power_level_content_override": {"kick": 150}}, {"initial_state": [levels_state]}):
        status, refused = await owner.create_room(name="守群", preset="public_chat", **asked)
        assert (status, refused.get("cn.qunzu.reason")) == (403, "protected_state"), (asked, refused)
        assert refused["cn.qunzu.detail"]["action"] in ("kick", "m.room.join_rules"), refused
        assert f"平台服务账号 {SERVICE}" in refused["error"]
    room = await owner.new_room(name="守群", preset="public_chat")
    await eventually(lambda: service_has_power(owner, room), what="the service account's power")
    await eventually(lambda: _is(service_membership(owner, room), "join"), what="the service account's join")

    # Kicked or banned by a creator, whose power is unbounded from version 12 (Synapse asks no
    # module first): back in the room with its power, and the creator is told. Before version 12
    # nobody outranks its 100, so Synapse itself refuses.
    for action in ("kick", "ban"):
        path = f"/_matrix/client/v3/rooms/{quote(room)}/{action}"
        status, reply = await owner.call("POST", path, {"user_id": SERVICE})
        if version != "12":
            assert (status, reply["errcode"]) == (403, "M_FORBIDDEN"), reply
            continue
        assert status == 200, reply
        back = f"the service account after a {action}"
        await eventually(lambda: _is(service_membership(owner, room), "join"), what=back)
        assert await service_has_power(owner, room)
    if version == "12":
        (told,) = [body for body in await notices(owner) if "已回到群内" in body]
        assert f"平台服务账号 {SERVICE} 在每个群里执行平台的处置，不能被移出或封禁" in told
    # Put out through the state API: refused before anything is stored.
    status, refused = await owner.send_state(room, "m.room.member", {"membership": "leave"}, state_key=SERVICE)
    assert (status, refused.get("cn.qunzu.reason")) == (403, "protected_state"), refused
    assert "不能被移出或封禁" in refused["error"]
    assert await service_membership(owner, room) == "join"

    # Nor is the state it keeps emptied by a redaction: the group state and the ACL keep their content.
    status, current = await owner.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/state")
    assert status == 200, current
    for kind in ("cn.qunzu.group", "m.room.server_acl"):
        events = cast(list[dict[str, Any]], current)  # `/state` answers a list
        (event_id,) = [event["event_id"] for event in events if (event["type"], event["state_key"]) == (kind, "")]
        path = f"/_matrix/client/v3/rooms/{quote(room)}/redact/{quote(event_id)}/{secrets.token_hex(4)}"
        status, refused = await owner.call("PUT", path, {"reason": "清理"})
        assert (status, refused.get("cn.qunzu.reason")) == (403, "protected_state"), refused
    assert (await state(owner, room, "cn.qunzu.group"))["code"]
    assert (await state(owner, room, "m.room.server_acl"))["allow"]

    # Its level lowered, or taken out of `users`: refused, and the owner reads why.
    levels = await state(owner, room, "m.room.power_levels")
    for users in ({**levels["users"], SERVICE: 50}, {k: v for k, v in levels["users"].items() if k != SERVICE}):
        status, refused = await owner.send_state(room, "m.room.power_levels", {**levels, "users": users})
        assert (status, refused.get("cn.qunzu.reason")) == (403, "protected_state"), refused
        assert f"平台服务账号 {SERVICE}" in refused["error"] and "不能降低它的权限等级" in refused["error"]
    if version == "12":
        # A creator could also set what kicking needs above the service account's power.
        status, refused = await owner.send_state(room, "m.room.power_levels", {**levels, "kick": 150})
        assert (status, refused.get("cn.qunzu.reason")) == (403, "protected_state"), refused
        assert refused["cn.qunzu.detail"]["action"] == "kick"
    # A change that leaves the platform its powers goes through.
    member = await verified(as_user, versioned, "rvmod")
    assert (await member.join(room))[0] == 200
    await set_power(owner, room, {member.user_id: 50})
    assert (await state(owner, room, "m.room.power_levels"))["users"][SERVICE] == 100


async def _is(value: Awaitable[str | None], wanted: str) -> bool:
    return await value == wanted


# --- a server the module was added to later ---------------------------------------------------------


async def test_a_room_made_before_the_module_was_added_becomes_a_group(
    added_later: AddedLater, as_user: Callable[..., Matrix]
) -> None:
    owner = as_user(added_later.owner, added_later.server)
    room = added_later.room_id

    async def coded() -> bool:
        status, content = await owner.call("GET", f"/_matrix/client/v3/rooms/{quote(room)}/state/cn.qunzu.group/")
        return status == 200 and is_valid_code(content.get("code", ""))

    await eventually(coded, 20, "a code for the room made before the module")

    async def acl() -> bool:
        path = f"/_matrix/client/v3/rooms/{quote(room)}/state/m.room.server_acl/"
        return await owner.call("GET", path) == (200, LOCAL_ONLY_ACL)

    await eventually(acl, 20, "the local-only ACL in that room")
