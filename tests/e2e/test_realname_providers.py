"""The `http` and `manual` verification providers, English texts, and PostgreSQL at rest."""

from __future__ import annotations

import aiohttp
import pytest

from devtools.homeserver import SynapseProcess

from .conftest import (
    GROWTH_CONFIG,
    GROWTH_POLICY,
    SharedServers,
    database_name,
    fresh_localpart,
    pg_query,
)
from .identities import fresh_id_number
from .matrix import Matrix
from .verification_service import FakeVerificationService


def _as(server: SynapseProcess, session: aiohttp.ClientSession, *, admin: bool = False) -> Matrix:
    return Matrix(session, server.base_url, server.register(fresh_localpart("p"), admin=admin))


async def test_http_provider_maps_every_answer_to_the_right_state(
    http_provider_server: SynapseProcess,
    verification_service: FakeVerificationService,
    http_session: aiohttp.ClientSession,
) -> None:
    server = http_provider_server
    verified = _as(server, http_session)
    number = fresh_id_number()
    status, reply = await verified.verify(number, name="张通过", phone="13800001234")
    assert status == 200, reply
    assert reply["status"] == "verified"
    assert reply["level"] == 2
    sent = verification_service.requests[-1]
    assert (sent["name"], sent["id_number"], sent["phone"]) == ("张通过", number, "13800001234")
    assert verification_service.bad_signatures == 0

    for name, expected_status in (("李不符", 400), ("王超时", 503), ("赵故障", 503)):
        account = _as(server, http_session)
        status, reply = await account.verify(name=name)
        assert status == expected_status, (name, reply)
        if expected_status == 400:
            assert reply["cn.qunzu.reason"] == "invalid_identity"
            assert reply["cn.qunzu.detail"]["mismatch"] is True
        else:
            assert reply["errcode"] == "M_UNKNOWN"
            assert "稍后" in reply["error"]
        _status, me = await account.qunzu("GET", "/me")
        assert me["verification"]["status"] == "unverified"


async def test_manual_provider_waits_for_staff(
    shared_servers: SharedServers, http_session: aiohttp.ClientSession
) -> None:
    server = shared_servers.manual()
    staff = _as(server, http_session, admin=True)
    approved, rejected = _as(server, http_session), _as(server, http_session)

    for account in (approved, rejected):
        status, reply = await account.verify()
        assert status == 202, reply
        assert reply["status"] == "pending"

    status, pending = await staff.qunzu("GET", "/admin/realname/pending")
    assert status == 200
    listed = {row["user_id"]: row for row in pending["pending"]}
    assert {approved.user_id, rejected.user_id} <= set(listed)
    assert listed[approved.user_id]["name"] == "张*"

    status, _ = await staff.qunzu("POST", f"/admin/realname/{approved.user_id}/approve", {})
    assert status == 200
    status, _ = await staff.qunzu("POST", f"/admin/realname/{rejected.user_id}/reject", {"reason": "photo mismatch"})
    assert status == 200

    room = await approved.new_room()
    assert (await approved.send_text(room, "approved"))[0] == 200
    status, reply = await rejected.create_room()
    assert status == 403
    assert reply["cn.qunzu.reason"] == "realname_required"
    _status, me = await rejected.qunzu("GET", "/me")
    assert me["verification"]["status"] == "rejected"
    assert "name" not in me["verification"]


async def test_refusals_are_in_english_when_configured(
    shared_servers: SharedServers, http_session: aiohttp.ClientSession
) -> None:
    # A shared server whose module speaks English (its policy is for other tests).
    server = shared_servers.with_policy(GROWTH_POLICY, module_config=GROWTH_CONFIG)
    assert GROWTH_CONFIG["language"] == "en"
    account = _as(server, http_session)
    status, reply = await account.create_room()
    assert status == 403
    assert reply["cn.qunzu.reason"] == "realname_required"
    assert "verif" in reply["error"].lower()
    assert "实名" not in reply["error"]


@pytest.mark.postgres
async def test_identity_is_encrypted_at_rest_on_postgresql(
    shared_servers: SharedServers, http_session: aiohttp.ClientSession
) -> None:
    server = shared_servers.postgres()
    account = _as(server, http_session)
    number = fresh_id_number()
    assert (await account.verify(number, name="诸葛亮", phone="13655556666"))[0] == 200
    rows = pg_query(database_name(server), "SELECT * FROM qunzu_identities WHERE user_id = %s", (account.user_id,))
    assert len(rows) == 1
    dump = repr(rows)
    for secret in (number, "诸葛亮", "13655556666"):
        assert secret not in dump
    room = await account.new_room()
    assert (await account.send_text(room, "on postgres"))[0] == 200
