"""Federation, for real (DESIGN.md §6.7): Qunzu's server `a` with a non-partner `b` and a partner `c`.

The three servers federate over TLS on loopback (tests/e2e/federation_fixtures.py);
`b` and `c` are plain Synapse servers, as other operators' servers would be. What
a person of `b` or `c` sees is asserted on their own server; what reaches local
people is asserted on `a`.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import pytest

from devtools.homeserver import SynapseProcess

from .conftest import fresh_localpart
from .federation_fixtures import Federation, federation_fixture  # noqa: F401  (fixture "federation")
from .matrix import Matrix, Reply
from .sanction_helpers import eventually as eventually_here
from .sanction_helpers import set_power

BLOCKED = "法轮功"  # in the bundled cults list (blocked)
ACL = "m.room.server_acl"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        yield http


T = TypeVar("T")

# Events cross three processes that share two cores with other tests: a minute, not 20 s.
FEDERATION_WAIT_S = 60.0


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str | Callable[[], str]) -> T:
    """`sanction_helpers.eventually` with the deadline of a trip between servers."""
    return await eventually_here(probe, FEDERATION_WAIT_S, what)


def ok(reply: Reply) -> dict[str, Any]:
    """The body of a 200 answer; any other answer fails the test with what the server said."""
    status, body = reply
    assert status == 200, (status, body)
    return body


def person(http: aiohttp.ClientSession, server: SynapseProcess, prefix: str, *, admin: bool = False) -> Matrix:
    return Matrix(http, server.base_url, server.register(fresh_localpart(prefix), admin=admin))


async def join_via(member: Matrix, room_id: str, server: SynapseProcess) -> Reply:
    path = f"/_matrix/client/v3/join/{quote(room_id)}?server_name={quote(Federation.name(server))}"
    return await member.call("POST", path, {})


async def knock_via(member: Matrix, room_id: str, server: SynapseProcess) -> Reply:
    path = f"/_matrix/client/v3/knock/{quote(room_id)}?server_name={quote(Federation.name(server))}"
    return await member.call("POST", path, {"reason": "let me in"})


async def state(member: Matrix, room_id: str, event_type: str) -> Reply:
    return await member.call("GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/state/{event_type}/")


async def members(member: Matrix, room_id: str) -> dict[str, str]:
    """Everyone's membership in the room, as `member`'s server knows it."""
    status, reply = await member.call("GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/members")
    assert status == 200, reply
    return {event["state_key"]: event["content"]["membership"] for event in reply["chunk"]}


async def bodies(member: Matrix, room_id: str) -> list[str]:
    """Message bodies in the room as `member` sees them, oldest first."""
    status, page = await member.call("GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/messages?dir=b&limit=100")
    assert status == 200, page
    return [str(e["content"].get("body")) for e in reversed(page["chunk"]) if e["type"] == "m.room.message"]


async def invites(member: Matrix) -> list[str]:
    fresh = quote(json.dumps({"presence": {"not_types": [secrets.token_hex(4)]}}))
    status, sync = await member.call("GET", f"/_matrix/client/v3/sync?timeout=0&filter={fresh}")
    assert status == 200, sync
    return list(sync.get("rooms", {}).get("invite", {}))


def policy_acl(federation: Federation, *partners: SynapseProcess) -> dict[str, Any]:
    allow: list[str] = []
    for server in (federation.a, *partners):
        name = Federation.name(server)
        allow += [name.rsplit(":", 1)[0], name]
    return {"allow": allow, "deny": [], "allow_ip_literals": True}


@pytest.fixture
async def room(federation: Federation, session: aiohttp.ClientSession) -> tuple[Matrix, str]:
    """A public group on `a`, owned by a server admin of `a` (who acts as its room admin)."""
    owner = person(session, federation.a, "owner", admin=True)
    return owner, await owner.new_room(preset="public_chat", name="federated")


# -- the server ACL --------------------------------------------------------------------------


async def test_a_new_group_carries_the_server_acl_of_the_policy(
    federation: Federation, room: tuple[Matrix, str]
) -> None:
    owner, room_id = room
    status, acl = await state(owner, room_id, ACL)
    assert status == 200, acl
    assert acl == policy_acl(federation, federation.c)


async def test_the_server_acl_is_kept_by_the_platform_only(
    federation: Federation, room: tuple[Matrix, str], session: aiohttp.ClientSession
) -> None:
    owner, room_id = room
    # The room's creator (a server admin, with unlimited power in the room) cannot open it up.
    status, reply = await owner.send_state(room_id, ACL, {"allow": ["*"], "deny": []})
    assert (status, reply["cn.qunzu.reason"]) == (403, "protected_state"), reply
    # Nor can a creator put their own ACL into the initial state.
    maker = person(session, federation.a, "maker")
    ok(await maker.verify())
    own_room = await maker.new_room(
        preset="public_chat", initial_state=[{"type": ACL, "state_key": "", "content": {"allow": ["*"]}}]
    )
    for room_id_ in (room_id, own_room):
        status, acl = await state(owner if room_id_ == room_id else maker, room_id_, ACL)
        assert (status, acl) == (200, policy_acl(federation, federation.c))


# -- a server that is not a partner ----------------------------------------------------------


async def test_a_person_of_another_server_cannot_join_a_group(
    federation: Federation, room: tuple[Matrix, str], session: aiohttp.ClientSession
) -> None:
    owner, room_id = room
    stranger = person(session, federation.b, "stranger")
    status, reply = await join_via(stranger, room_id, federation.a)
    assert status == 403, reply
    assert "banned" in reply["error"].lower(), reply
    assert stranger.user_id not in await members(owner, room_id)


async def test_a_person_of_another_server_cannot_knock(
    federation: Federation, room: tuple[Matrix, str], session: aiohttp.ClientSession
) -> None:
    owner, room_id = room
    status, reply = await owner.send_state(room_id, "m.room.join_rules", {"join_rule": "knock"})
    assert status == 200, reply
    stranger = person(session, federation.b, "knocker")
    status, reply = await knock_via(stranger, room_id, federation.a)
    assert status == 403, reply
    assert "banned" in reply["error"].lower(), reply
    assert stranger.user_id not in await members(owner, room_id)


async def test_people_of_another_server_are_not_invited_either_way(
    federation: Federation, room: tuple[Matrix, str], session: aiohttp.ClientSession
) -> None:
    owner, room_id = room
    stranger = person(session, federation.b, "invitee")
    # A server admin: Synapse does not ask the module, so the platform withdraws the invite at once.
    status, reply = await owner.invite(room_id, stranger.user_id)
    assert status == 200, reply

    async def withdrawn() -> bool:
        return (await members(owner, room_id)).get(stranger.user_id) == "leave"

    await eventually(withdrawn, what="the admin's invite withdrawn")

    inviter = person(session, federation.a, "inviter")
    ok(await inviter.verify())
    room_id = await inviter.new_room(preset="public_chat")
    owner = inviter
    # Into a group here: refused with the reason.
    status, reply = await owner.invite(room_id, stranger.user_id)
    assert (status, reply["cn.qunzu.reason"]) == (403, "remote_server_not_allowed"), reply
    assert reply["cn.qunzu.detail"]["server"] == Federation.name(federation.b)
    assert "合作服务器" in reply["error"]
    assert stranger.user_id not in await members(owner, room_id)
    assert room_id not in await invites(stranger)

    # From a room over there, into which they invite someone here: this server refuses the invite.
    local = person(session, federation.a, "local")
    elsewhere = await stranger.new_room(preset="public_chat")
    status, reply = await stranger.invite(elsewhere, local.user_id)
    # The inviter's client gets the reason through their own server (Synapse's fixed text).
    assert (status, reply["cn.qunzu.reason"]) == (403, "remote_server_not_allowed"), reply
    assert reply["cn.qunzu.detail"] == {"server": Federation.name(federation.b)}
    assert local.user_id not in await members(stranger, elsewhere)
    assert elsewhere not in await invites(local)


async def test_local_people_do_not_join_rooms_of_another_server(
    federation: Federation, session: aiohttp.ClientSession
) -> None:
    stranger = person(session, federation.b, "host")
    elsewhere = await stranger.new_room(preset="public_chat")
    local = person(session, federation.a, "visitor")
    ok(await local.verify())
    status, reply = await join_via(local, elsewhere, federation.b)
    assert (status, reply["cn.qunzu.reason"]) == (403, "remote_server_not_allowed"), reply
    assert local.user_id not in await members(stranger, elsewhere)


# -- a partner server --------------------------------------------------------------------------


async def test_a_partner_invites_local_people_who_may_join(
    federation: Federation, session: aiohttp.ClientSession
) -> None:
    partner = person(session, federation.c, "partnerhost")
    theirs = await partner.new_room(preset="private_chat")
    local = person(session, federation.a, "guest")
    ok(await local.verify())
    status, reply = await partner.invite(theirs, local.user_id)
    assert status == 200, reply
    await eventually(lambda: _has(invites(local), theirs), what="the partner's invite")
    status, reply = await join_via(local, theirs, federation.c)
    assert status == 200, reply
    assert (await members(partner, theirs))[local.user_id] == "join"


async def _has(listing: Any, item: str) -> bool:
    return item in await listing


async def test_a_partners_member_joins_posts_and_is_bound_by_the_rules(
    federation: Federation, room: tuple[Matrix, str], session: aiohttp.ClientSession
) -> None:
    owner, room_id = room
    guest = person(session, federation.c, "guest")
    status, reply = await join_via(guest, room_id, federation.a)
    assert status == 200, reply
    assert (await members(owner, room_id))[guest.user_id] == "join"
    witness = person(session, federation.c, "witness")
    ok(await join_via(witness, room_id, federation.a))

    async def seen(body: str) -> bool:
        return body in await bodies(owner, room_id)

    async def joined_on_a() -> bool:
        return (await members(owner, room_id))[guest.user_id] == "join"

    async def left_on_a() -> bool:
        return (await members(owner, room_id))[guest.user_id] == "leave"

    async def left_as_seen_on_c() -> bool:
        return (await members(witness, room_id))[guest.user_id] == "leave"

    # Posting: delivered to people here.
    ok(await guest.send_text(room_id, "你好，来自合作服务器"))
    await eventually(lambda: seen("你好，来自合作服务器"), what="the partner's message")

    # A prohibited term: the partner's server sends it, this server does not deliver it.
    ok(await guest.send_text(room_id, f"看看{BLOCKED}"))
    ok(await guest.send_text(room_id, "after the prohibited one"))
    await eventually(lambda: seen("after the prohibited one"), what="the message after")
    assert not any(BLOCKED in body for body in await bodies(owner, room_id))

    # Muted by the room's admin: nothing they post reaches people here until unmuted.
    moderate = f"/admin/rooms/{quote(room_id)}/moderate"
    status, reply = await owner.qunzu(
        "POST", moderate, {"action": "mute", "target": guest.user_id, "duration": "1h", "reason": "刷屏"}
    )
    assert status == 200, reply
    ok(await guest.send_text(room_id, "while muted"))
    # A message of another partner's member sent after it arrives after it: the muted one is decided by then.
    ok(await witness.send_text(room_id, "witness"))
    await eventually(lambda: seen("witness"), what="the witness's message")
    assert "while muted" not in await bodies(owner, room_id)
    status, reply = await owner.qunzu("POST", moderate, {"action": "unmute", "target": guest.user_id, "reason": "ok"})
    assert status == 200, reply
    ok(await guest.send_text(room_id, "after the mute"))
    await eventually(lambda: seen("after the mute"), what="the message after the mute")

    # Kicked by the room's admin through the bot's tool: out; a kick is no ban, they may come back.
    for _ in range(2):
        status, reply = await owner.qunzu(
            "POST", moderate, {"action": "kick", "target": guest.user_id, "reason": "违规"}
        )
        assert status == 200, reply
        assert (await members(owner, room_id))[guest.user_id] == "leave"
        await eventually(lambda: left_as_seen_on_c(), what="the kick known on the partner's server")
        if _ == 0:
            # The partner's server is still in the room (the witness): the join travels as a PDU.
            ok(await join_via(guest, room_id, federation.a))
            await eventually(lambda: joined_on_a(), what="the rejoin after a kick")

    # Blacklisted by user id: coming back is refused here (their server believes them in: 200).
    status, reply = await owner.qunzu(
        "POST", "/admin/blacklist", {"subject": {"type": "user", "id": guest.user_id}, "reason": "多次违规"}
    )
    assert status == 200, reply
    ok(await join_via(guest, room_id, federation.a))
    ok(await guest.send_text(room_id, "back again"))
    ok(await witness.send_text(room_id, "second witness"))
    await eventually(lambda: seen("second witness"), what="the second witness's message")
    # The witness's message builds on the refused join: should it bring the join into the room's
    # state, the platform removes them again (remote_members.py).
    await eventually(lambda: left_on_a(), what="the blacklisted member out")
    assert "back again" not in await bodies(owner, room_id)


async def test_a_non_partner_brought_in_through_a_partner_reaches_nobody_here(
    federation: Federation, room: tuple[Matrix, str], session: aiohttp.ClientSession
) -> None:
    """The ACL judges the sending server only: the module judges whom a partner's events are about."""
    owner, room_id = room
    guest = person(session, federation.c, "relay")
    ok(await join_via(guest, room_id, federation.a))
    stranger = person(session, federation.b, "smuggled")
    # The partner's server (not governed here) takes the invite ...
    await set_power(owner, room_id, {guest.user_id: 50})

    async def invited() -> bool:
        return (await guest.invite(room_id, stranger.user_id))[0] == 200

    await eventually(invited, what="the partner's member inviting (once their power is known there)")
    # ... which the platform withdraws at once ...
    ok(await guest.send_text(room_id, "relay witness"))

    async def witnessed() -> bool:
        return "relay witness" in await bodies(owner, room_id)

    async def withdrawn() -> bool:
        return (await members(owner, room_id)).get(stranger.user_id) == "leave"

    await eventually(witnessed, what="the partner's later message")
    await eventually(withdrawn, what="the invite withdrawn by the platform")
    # ... and the room's ACL holds on the partner's server too: no join through it either.
    status, reply = await join_via(stranger, room_id, federation.c)
    assert status == 403, reply
    assert "banned" in reply["error"].lower(), reply


async def test_a_partner_members_display_name_obeys_the_content_rules(
    federation: Federation, room: tuple[Matrix, str], session: aiohttp.ClientSession
) -> None:
    owner, room_id = room
    guest = person(session, federation.c, "named")
    ok(await join_via(guest, room_id, federation.a))
    path = f"/_matrix/client/v3/profile/{quote(guest.user_id)}/displayname"
    ok(await guest.call("PUT", path, {"displayname": f"{BLOCKED}大师"}))
    ok(await guest.call("PUT", path, {"displayname": "普通昵称"}))

    async def renamed() -> bool:
        path = f"/_matrix/client/v3/rooms/{quote(room_id)}/state/m.room.member/{quote(guest.user_id)}"
        status, event = await owner.call("GET", path)
        return status == 200 and event.get("displayname") == "普通昵称"

    await eventually(renamed, what="the later display name")
    status, page = await owner.call("GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/messages?dir=b&limit=100")
    assert status == 200, page
    names = [e["content"].get("displayname") for e in page["chunk"] if e.get("state_key") == guest.user_id]
    assert f"{BLOCKED}大师" not in names


async def test_media_of_another_server_is_not_fetched_for_local_people(
    federation: Federation, session: aiohttp.ClientSession
) -> None:
    stranger = person(session, federation.b, "uploader")
    partner = person(session, federation.c, "uploader")
    local = person(session, federation.a, "viewer")
    fetched: dict[str, int] = {}
    for uploader in (stranger, partner):
        async with session.post(
            f"{uploader._base}/_matrix/media/v3/upload",
            data=b"remote picture",
            headers={"Authorization": f"Bearer {uploader.account.access_token}", "Content-Type": "image/png"},
        ) as response:
            assert response.status == 200
            uri = (await response.json())["content_uri"]
        server, media_id = uri.removeprefix("mxc://").split("/", 1)
        async with session.get(
            f"{local._base}/_matrix/client/v1/media/download/{server}/{media_id}",
            headers={"Authorization": f"Bearer {local.account.access_token}"},
        ) as response:
            fetched[uploader.user_id] = response.status
            if response.status == 200:
                assert await response.read() == b"remote picture"
    assert fetched[partner.user_id] == 200
    assert fetched[stranger.user_id] != 200


async def test_a_partner_admin_cannot_open_the_acl(
    federation: Federation, room: tuple[Matrix, str], session: aiohttp.ClientSession
) -> None:
    """Protected like the group state, also against a remote admin whose later events build on the change."""
    owner, room_id = room
    admin = person(session, federation.c, "remoteadmin")
    ok(await join_via(admin, room_id, federation.a))
    await set_power(owner, room_id, {admin.user_id: 100})

    last: list[Reply] = []

    async def opened() -> bool:
        last[:] = [await admin.send_state(room_id, ACL, {"allow": ["*"], "deny": [], "allow_ip_literals": True})]
        return last[0][0] == 200

    await eventually(opened, what=lambda: f"the partner's server taking the change (it has no Qunzu); it said {last}")
    ok(await admin.send_text(room_id, "after my ACL change"))

    async def delivered() -> bool:
        return "after my ACL change" in await bodies(owner, room_id)

    await eventually(delivered, what="the remote admin's later message")

    async def kept() -> bool:
        return await state(owner, room_id, ACL) == (200, policy_acl(federation, federation.c))

    await eventually(kept, what="the policy's ACL")
    stranger = person(session, federation.b, "optimist")
    assert (await join_via(stranger, room_id, federation.a))[0] == 403


async def test_a_partners_member_is_held_to_the_join_rules_of_a_frozen_group(
    federation: Federation, room: tuple[Matrix, str], session: aiohttp.ClientSession
) -> None:
    """Remote joins skip `user_may_join_room`: the module decides them as they arrive (Art. 5, 8)."""
    owner, room_id = room
    witness = person(session, federation.c, "frozenwitness")
    ok(await join_via(witness, room_id, federation.a))
    status, freeze = await owner.qunzu("POST", "/admin/emergency", {"scope": f"room:{room_id}", "reason": "应急演练"})
    assert status == 200, freeze
    late = person(session, federation.c, "late")
    # The partner's server is in the room: it lets them in and sends the join here.
    ok(await join_via(late, room_id, federation.a))
    # The partner's server answers its member's listing once it has the room's state again (under
    # load that can take a moment after the join); what it said last is in the failure.
    last: list[Reply] = []

    async def late_join_id() -> str | None:
        last[:] = [await witness.call("GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/members")]
        status, listing = last[0]
        if status != 200:
            return None
        return next((e["event_id"] for e in listing["chunk"] if e["state_key"] == late.user_id), None)

    join_id = await eventually(late_join_id, what=lambda: f"the late join in the partner's listing: {last}")

    async def received_here() -> bool:
        path = f"/_synapse/admin/v1/rooms/{quote(room_id)}/context/{quote(join_id)}?limit=0"
        return (await owner.call("GET", path))[0] == 200

    await eventually(received_here, what="the join received here")
    assert late.user_id not in await members(owner, room_id)


# -- last: a policy change (restarts `a`) -------------------------------------------------------


async def test_a_policy_change_is_reflected_in_the_acl_of_existing_groups(
    federation: Federation, room: tuple[Matrix, str], session: aiohttp.ClientSession
) -> None:
    """One restart swaps the partners: `b` becomes one and `c` no longer is."""
    owner, room_id = room
    newcomer = person(session, federation.b, "newpartner")
    assert (await join_via(newcomer, room_id, federation.a))[0] == 403
    former = person(session, federation.c, "formerpartner")
    ok(await join_via(former, room_id, federation.a))

    async def former_joined() -> bool:
        return (await members(owner, room_id)).get(former.user_id) == "join"

    await eventually(former_joined, what="the partner's member in the group")

    federation.restart_a({"partner_servers": [Federation.name(federation.b)]})

    async def updated() -> bool:
        return await state(owner, room_id, ACL) == (200, policy_acl(federation, federation.b))

    await eventually(updated, what="the ACL following the new policy")
    status, event = await owner.call("GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/messages?dir=b&limit=20")
    senders = [e["sender"] for e in event["chunk"] if e["type"] == ACL]
    assert senders[0] == federation.service_account

    # The new partner's people join and post.
    status, reply = await join_via(newcomer, room_id, federation.a)
    assert status == 200, reply
    ok(await newcomer.send_text(room_id, "hello from a new partner"))

    async def delivered() -> bool:
        return "hello from a new partner" in await bodies(owner, room_id)

    await eventually(delivered, what="the new partner's message")

    # The former partner's people leave every group, and whatever their server answers, stay out.
    async def removed() -> bool:
        return (await members(owner, room_id)).get(former.user_id) == "leave"

    await eventually(removed, what="the former partner's member out of the group")
    await join_via(former, room_id, federation.a)
    assert (await members(owner, room_id))[former.user_id] == "leave"
