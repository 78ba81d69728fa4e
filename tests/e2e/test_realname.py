"""Real-name verification (Art. 6) as people meet it, against a real Synapse with the module."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from urllib.parse import urlparse

import aiohttp
import pytest

from devtools.homeserver import SynapseProcess
from policies.identity import id_check_character

from .conftest import fresh_localpart
from .identities import fresh_id_number
from .matrix import Matrix


def identity_rows(server: SynapseProcess, user_id: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(server.config_path.parent / "homeserver.db") as connection:
        return list(connection.execute("SELECT status FROM qunzu_identities WHERE user_id = ?", (user_id,)))


async def test_unverified_member_joins_but_cannot_post_and_is_told_how_to_verify(
    member: Matrix, synapse: SynapseProcess, as_user: Callable[..., Matrix]
) -> None:
    host = as_user(synapse.register(fresh_localpart("host")))
    assert (await host.verify())[0] == 200
    room = await host.new_room(name="读书会", preset="public_chat")
    status, reply = await member.join(room)
    assert status == 200, reply
    status, reply = await member.send_text(room, "大家好")
    assert status == 403
    assert reply["errcode"] == "M_FORBIDDEN"
    assert reply["cn.qunzu.reason"] == "realname_required"
    assert "实名" in reply["error"]
    assert "!verify" in reply["error"] or "!实名" in reply["error"]
    assert reply["cn.qunzu.detail"]["form_url"].endswith("/_synapse/client/qunzu/v1/realname/form")


async def test_unverified_member_cannot_create_a_room(member: Matrix) -> None:
    status, reply = await member.create_room(name="读书会")
    assert status == 403
    assert reply["cn.qunzu.reason"] == "realname_required"


async def test_after_verification_the_same_member_posts(member: Matrix) -> None:
    status, reply = await member.verify(phone="13800000000")
    assert status == 200, reply
    assert reply["status"] == "verified"
    room = await member.new_room(name="读书会")
    status, reply = await member.send_text(room, "大家好")
    assert status == 200, reply
    assert reply["event_id"].startswith("$")


async def test_me_shows_only_masked_identity(member: Matrix) -> None:
    number = fresh_id_number()
    await member.verify(number, name="欧阳娜娜", phone="13912345678")
    status, me = await member.qunzu("GET", "/me")
    assert status == 200
    verification = me["verification"]
    assert verification["name"] == "欧***"
    assert verification["id_number"] == number[:4] + "*" * 10 + number[-4:]
    assert verification["phone"] == "139****5678"
    assert number not in str(me)


@pytest.mark.parametrize(
    ("id_number", "field"),
    [
        ("110105194912310021", "id_number"),  # wrong check character (valid is X)
        ("11010520991231" + "002", "id_number"),  # born in the future; completed below
        ("990105194912310028", "id_number"),  # no such province
        ("1101051949123100", "id_number"),  # too short
    ],
    ids=["bad-checksum", "future-birth-date", "unknown-province", "too-short"],
)
async def test_invalid_identity_is_refused_and_nothing_is_stored(
    synapse: SynapseProcess, member: Matrix, id_number: str, field: str
) -> None:
    if len(id_number) == 17:
        id_number += id_check_character(id_number)
    status, reply = await member.verify(id_number)
    assert status == 400
    assert reply["errcode"] == "M_INVALID_PARAM"
    assert reply["cn.qunzu.reason"] == "invalid_identity"
    assert reply["cn.qunzu.detail"]["field"] == field
    assert id_number not in reply["error"]
    assert identity_rows(synapse, member.user_id) == []


async def test_valid_sample_number_from_the_standard_is_accepted(member: Matrix) -> None:
    # The GB 11643 example; shared by tests, so the account cap may already be reached.
    status, reply = await member.verify("11010519491231002X")
    assert status in (200, 409), reply
    if status == 409:
        assert reply["cn.qunzu.reason"] == "identity_in_use"


async def test_a_fourth_account_with_the_same_identity_is_refused(
    synapse: SynapseProcess, as_user: Callable[..., Matrix]
) -> None:
    number = fresh_id_number()
    accounts = [as_user(synapse.register(fresh_localpart("same"))) for _ in range(4)]
    for account in accounts[:3]:
        status, reply = await account.verify(number)
        assert status == 200, reply
    status, reply = await accounts[3].verify(number)
    assert status == 409
    assert reply["cn.qunzu.reason"] == "identity_in_use"
    assert reply["cn.qunzu.detail"] == {"cap": 3, "count": 3}
    assert identity_rows(synapse, accounts[3].user_id) == []


async def test_blacklisted_identity_cannot_verify_a_fresh_account(member: Matrix, staff: Matrix) -> None:
    number = fresh_id_number()
    status, entry = await staff.qunzu(
        "POST", "/admin/blacklist", {"subject": {"type": "identity", "id": number}, "reason": "fraud ring"}
    )
    assert status == 200, entry
    assert number not in str(entry)
    status, reply = await member.verify(number)
    assert status == 403
    assert reply["cn.qunzu.reason"] == "blacklisted"


async def test_blacklisting_a_user_blocks_every_account_of_that_identity(
    synapse: SynapseProcess, as_user: Callable[..., Matrix], staff: Matrix
) -> None:
    number = fresh_id_number()
    first, second = (as_user(synapse.register(fresh_localpart("twin"))) for _ in range(2))
    for account in (first, second):
        assert (await account.verify(number))[0] == 200
    room = await second.new_room()
    assert (await second.send_text(room, "before"))[0] == 200

    status, entry = await staff.qunzu(
        "POST", "/admin/blacklist", {"subject": {"type": "user", "id": first.user_id}, "reason": "spam", "until": "7d"}
    )
    assert status == 200, entry
    assert entry["covers_identity"] is True
    status, reply = await second.send_text(room, "after")
    assert status == 403
    assert reply["cn.qunzu.reason"] == "blacklisted"

    status, _ = await staff.qunzu("DELETE", f"/admin/blacklist/{entry['id']}", {"reason": "appeal upheld"})
    assert status == 200
    assert (await second.send_text(room, "lifted"))[0] == 200


async def test_identity_data_is_never_stored_in_clear(synapse: SynapseProcess, member: Matrix) -> None:
    number = fresh_id_number()
    assert (await member.verify(number, name="司马相如", phone="13700001111"))[0] == 200
    database = (synapse.config_path.parent / "homeserver.db").read_bytes()
    for secret in (number, "司马相如", "13700001111"):
        assert secret.encode() not in database
        assert secret.encode("utf-16-le") not in database


async def test_reveal_is_for_staff_only_and_leaves_an_audit_record(member: Matrix, staff: Matrix) -> None:
    number = fresh_id_number()
    assert (await member.verify(number, name="李白"))[0] == 200

    status, reply = await member.qunzu("POST", f"/admin/users/{member.user_id}/reveal", {"reason": "curious"})
    assert status == 403

    status, reply = await staff.qunzu("POST", f"/admin/users/{member.user_id}/reveal", {})
    assert status == 400
    assert reply["errcode"] == "M_MISSING_PARAM"

    status, reply = await staff.qunzu("POST", f"/admin/users/{member.user_id}/reveal", {"reason": "police request 42"})
    assert status == 200
    assert (reply["name"], reply["id_number"]) == ("李白", number)

    status, audit = await staff.qunzu("GET", f"/admin/audit?subject={member.user_id}")
    actions = [(e["actor"], e["action"], e["details"]) for e in audit["entries"]]
    assert (staff.user_id, "identity.reveal", {"reason": "police request 42"}) in actions
    assert number not in str(audit)


async def test_convention_must_be_accepted_before_posting(member: Matrix) -> None:
    status, health = await member.qunzu("GET", "/health")
    body = {"name": "王五", "id_number": fresh_id_number()}
    assert (await member.qunzu("POST", "/realname", body))[0] == 200
    room = await member.new_room()
    status, reply = await member.send_text(room, "hi")
    assert status == 403
    assert reply["cn.qunzu.reason"] == "convention_not_accepted"

    status, reply = await member.qunzu("POST", "/convention/accept", {"version": "not-this-one"})
    assert status == 400
    status, reply = await member.qunzu("POST", "/convention/accept", {"version": health["convention_version"]})
    assert status == 200
    assert (await member.send_text(room, "hi"))[0] == 200


async def test_attempts_are_limited_per_day(member: Matrix) -> None:
    # Submissions that reach the provider count (here: one that verifies, then resubmissions);
    # format errors do not (test_realname_form_errors.py).
    number = fresh_id_number()
    for _ in range(5):
        status, reply = await member.verify(number)
        assert status == 200, reply
    status, reply = await member.verify(number)
    assert status == 429
    assert reply["errcode"] == "M_LIMIT_EXCEEDED"


async def test_malformed_submission_is_a_400_not_a_500(member: Matrix) -> None:
    status, reply = await member.qunzu("POST", "/realname", {"name": 42, "id_number": []})
    assert status == 400
    assert reply["errcode"] == "M_BAD_JSON"


async def test_one_time_form_link_verifies_once(
    member: Matrix, staff: Matrix, http_session: aiohttp.ClientSession
) -> None:
    status, link = await staff.qunzu("POST", "/admin/realname/links", {"user_id": member.user_id})
    assert status == 200, link
    url = link["url"]
    async with http_session.get(url) as page:
        html = await page.text()
    assert page.status == 200
    assert 'name="id_number"' in html and "<form" in html

    # As a browser submits it: the hidden fields (the one-time token) and the typed ones, all in the body.
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    form = {**hidden, "name": "赵六", "id_number": fresh_id_number(), "phone": "", "accept_convention": "1"}
    action = re.search(r'action="([^"]+)"', html)
    assert action is not None
    parsed = urlparse(url)
    post_url = f"{parsed.scheme}://{parsed.netloc}{parsed.path.rsplit('/', 1)[0]}/{action.group(1)}"
    async with http_session.post(post_url, data=form) as result:
        done = await result.text()
    assert "认证成功" in done
    assert form["id_number"] not in done

    room = await member.new_room()
    assert (await member.send_text(room, "via the form"))[0] == 200
    async with http_session.get(url) as again:
        assert "已使用或已过期" in await again.text()


async def test_staff_endpoints_reject_members(member: Matrix) -> None:
    for method, path, body in (
        ("GET", "/admin/blacklist", None),
        ("POST", "/admin/realname/links", {"user_id": member.user_id}),
        ("GET", f"/admin/users/{member.user_id}", None),
        ("GET", "/admin/realname/pending", None),
    ):
        status, reply = await member.qunzu(method, path, body)
        assert (status, reply["errcode"]) == (403, "M_FORBIDDEN"), path


async def test_service_account_asks_me_on_behalf_of_a_user_others_cannot(member: Matrix, staff: Matrix) -> None:
    status, reply = await staff.qunzu("GET", f"/me?user_id={member.user_id}")
    assert (status, reply["errcode"]) == (403, "M_FORBIDDEN")
    status, own = await staff.qunzu("GET", f"/me?user_id={staff.user_id}")
    assert (status, own["user_id"]) == (200, staff.user_id)


async def test_deactivated_account_frees_its_place_and_is_purged_after_retention(
    synapse: SynapseProcess, as_user: Callable[..., Matrix], staff: Matrix
) -> None:
    number = fresh_id_number()
    accounts = [as_user(synapse.register(fresh_localpart("life"))) for _ in range(4)]
    for account in accounts[:3]:
        assert (await account.verify(number))[0] == 200
    gone = accounts[0].user_id
    status, reply = await staff.call("POST", f"/_synapse/admin/v1/deactivate/{gone}", {"erase": False})
    assert status == 200, reply

    # The deactivated account no longer holds a place, so a fourth account may verify.
    status, reply = await accounts[3].verify(number)
    assert status == 200, reply
    assert identity_rows(synapse, gone) == [("verified",)]  # kept for the retention period

    status, result = await staff.qunzu("POST", "/admin/jobs/purge_deactivated_identities", {})
    assert status == 200
    assert identity_rows(synapse, gone) == [("verified",)]  # still inside retention

    with sqlite3.connect(synapse.config_path.parent / "homeserver.db") as connection:
        connection.execute("UPDATE qunzu_identities SET deactivated_ts = 1 WHERE user_id = ?", (gone,))
    status, result = await staff.qunzu("POST", "/admin/jobs/purge_deactivated_identities", {})
    assert status == 200
    assert result["result"]["purged"] >= 1
    assert identity_rows(synapse, gone) == []


async def test_unknown_job_is_a_clean_404(staff: Matrix) -> None:
    status, reply = await staff.qunzu("POST", "/admin/jobs/no_such_job", {})
    assert status == 404
    assert "purge_deactivated_identities" in reply["error"]


SERVICE = "@qunzu:localhost"


async def test_unverified_user_may_open_a_direct_chat_with_the_bot_and_write_there(member: Matrix) -> None:
    status, reply = await member.create_room(is_direct=True, invite=[SERVICE], preset="public_chat")
    assert status == 200, reply
    room = reply["room_id"]
    status, reply = await member.send_text(room, "!verify")
    assert status == 200, reply
    # Only plain messages: the channel cannot be turned into something else.
    status, reply = await member.send_state(room, "m.room.topic", {"topic": "anything"})
    assert status == 403
    assert reply["cn.qunzu.reason"] == "realname_required"
    status, join_rules = await member.call("GET", f"/_matrix/client/v3/rooms/{room}/state/m.room.join_rules/")
    assert join_rules["join_rule"] == "invite"  # forced private whatever the preset asked


async def test_a_forged_verification_mark_is_ignored(member: Matrix, synapse: SynapseProcess) -> None:
    other = synapse.register(fresh_localpart("other")).user_id
    status, reply = await member.create_room(
        is_direct=True, invite=[SERVICE, other], creation_content={"cn.qunzu.verification_dm": True}
    )
    assert status == 403
    assert reply["cn.qunzu.reason"] == "realname_required"
