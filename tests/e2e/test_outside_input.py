"""Input from outside, against a real Synapse: bounded numbers (DESIGN.md §6.1) and no personal data in logs.

- Every number a client sends is read by one bounded parser: hostile values are a 400
  `invalid_number`, never a 500, and a mute as long as allowed still refuses posts with
  its end time instead of "try again shortly".
- The verification form takes identity data from its POST body only and its one-time token
  from a parameter Synapse redacts: nothing of either reaches homeserver.log (PIPL, Art. 6).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlparse

import aiohttp

from devtools.homeserver import SynapseProcess
from policies.durations import MAX_SECONDS

from .bot_fixtures import SERVICE_USER_ID, _admin_login_as, service_account_fixture  # noqa: F401
from .conftest import fresh_localpart
from .identities import fresh_id_number
from .matrix import Matrix
from .sanction_helpers import verified

PREFIX = "/_synapse/client/qunzu/v1"
YEAR_10000_MS = 253_402_300_800_000

# The values as they travel: raw JSON literals (1e400 is a valid JSON number that Python reads
# as infinity) and the same values as query text.
HOSTILE_JSON = ["1e20", "-1", "0", "1e400", '"NaN"', "true", '"' + "1" * 24 + '"', "1" * 24, str(YEAR_10000_MS),
                str(2**63)]  # fmt: skip
HOSTILE_QUERY = ["1e20", "-1", "0", "1e400", "NaN", "true", "1" * 24, str(YEAR_10000_MS), str(2**63), "+5", " 5"]


async def raw_call(
    session: aiohttp.ClientSession, server: SynapseProcess, token: str, method: str, path: str, body: str | None
) -> tuple[int, Any]:
    """A call whose JSON body is sent exactly as written (no client-side float formatting)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with session.request(method, server.base_url + PREFIX + path, data=body, headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def test_hostile_numbers_are_400_invalid_number_on_every_route(
    synapse: SynapseProcess,
    staff: Matrix,
    member: Matrix,
    as_user: Callable[..., Matrix],
    http_session: aiohttp.ClientSession,
) -> None:
    room = await staff.new_room(name="numbers", preset="public_chat")
    target = member.user_id
    reporter = await verified(as_user, synapse, "rep")
    assert (await reporter.join(room))[0] == 200
    status, sent = await staff.send_text(room, "加群领红包")
    assert status == 200, sent
    report = {"room_id": room, "event_id": sent["event_id"], "category": "other", "reason": "广告"}
    status, filed = await reporter.qunzu("POST", "/reports", report)
    assert status == 200, filed
    ticket = filed["ticket"]
    subject = json.dumps({"type": "user", "id": target})
    # (method, path, body template with {v}, values that are fine for this field)
    bodies: list[tuple[str, str, str, set[str]]] = [
        ("POST", "/admin/sanctions", f'{{"subject": {subject}, "measure": "mute", "reason": "r", "duration": {{v}}}}',
         set()),
        ("POST", "/admin/sanctions",
         f'{{"subject": {subject}, "measure": "mute", "reason": "r", "duration": 60, "credit_delta": {{v}}}}',
         {"-1", "0"}),
        ("POST", f"/admin/users/{quote(target)}/credit", '{"reason": "r", "delta": {v}}', {"-1"}),
        ("POST", "/admin/blacklist", f'{{"subject": {subject}, "reason": "r", "until": {{v}}}}', set()),
        ("POST", f"/admin/rooms/{quote(room)}/moderate",
         f'{{"action": "mute", "target": "{target}", "reason": "r", "duration": {{v}}}}', set()),
        ("POST", f"/admin/reports/{ticket}/resolve",
         f'{{"outcome": "resolved", "reason": "r", "sanction": {{"measure": "mute", "subject": {subject}, '
         f'"duration": {{v}}}}}}', set()),
        ("POST", "/admin/export", '{"since": {v}}', set()),
        ("POST", "/admin/export", '{"since": 1700000000000, "until": {v}}', set()),
    ]  # fmt: skip
    queries = [
        "/admin/audit?since={v}",
        "/admin/audit?until={v}",
        "/admin/audit?limit={v}",
        "/admin/sanctions?limit={v}",
        "/admin/regulator-reports?since={v}",
        "/admin/regulator-reports?until={v}",
        "/admin/reports?since={v}",
        "/admin/reports?limit={v}",
        "/admin/reports/stats?since={v}",
        "/admin/blacklist?limit={v}",
        "/admin/appeals?limit={v}",
        "/admin/realname/pending?limit={v}",
        "/admin/export?since={v}",
    ]
    token = staff.account.access_token
    answers: list[tuple[str, int, Any]] = []
    for method, path, template, fine in bodies:
        for value in HOSTILE_JSON:
            if value not in fine:
                body = template.replace("{v}", value)
                answers.append(
                    (f"{method} {path} {body}", *await raw_call(http_session, synapse, token, method, path, body))
                )
    for template in queries:
        for value in HOSTILE_QUERY:
            path = template.replace("{v}", quote(value, safe=""))
            answers.append((f"GET {path}", *await raw_call(http_session, synapse, token, "GET", path, None)))

    wrong = [
        (what, status, reply)
        for what, status, reply in answers
        if (status, reply.get("errcode"), reply.get("cn.qunzu.reason")) != (400, "M_INVALID_PARAM", "invalid_number")
    ]
    assert not wrong, wrong[:5]
    assert len(answers) >= 200
    # The text names the field; nothing was taken against the member.
    assert all(reply["cn.qunzu.detail"]["field"] in reply["error"] for _what, _status, reply in answers)
    status, listed = await staff.qunzu("GET", f"/admin/sanctions?subject={quote(target)}")
    assert (status, listed["sanctions"]) == (200, [])
    status, blacklist = await staff.qunzu("GET", "/admin/blacklist")
    assert all(entry["subject"] != target for entry in blacklist["entries"])
    status, still = await staff.qunzu("GET", f"/admin/reports/{ticket}")
    assert (status, still["status"]) == (200, "open"), still


async def test_a_body_that_does_not_fit_its_route_is_400_invalid_request_and_nothing_is_done(
    synapse: SynapseProcess, staff: Matrix, as_user: Callable[..., Matrix]
) -> None:
    room = await staff.new_room(name="bodies", preset="public_chat")
    member = await verified(as_user, synapse, "bodies")
    assert (await member.join(room))[0] == 200
    status, sent = await member.send_text(room, "加群领红包")
    assert status == 200, sent
    subject = {"type": "user", "id": member.user_id}
    # (who, method, path, body, the field named, the problem)
    cases: list[tuple[Matrix, str, str, dict[str, Any], str, str]] = [
        # A misspelt key is not "no reason": nothing is filed.
        (member, "POST", "/reports", {"room_id": room, "event_id": sent["event_id"], "category": "spam",
                                      "reasn": "广告"}, "reasn", "unknown_field"),
        (member, "POST", "/appeals", {"text": "冤枉", "ref": 7}, "ref", "wrong_type"),
        (staff, "POST", "/admin/sanctions", {"subject": subject, "measure": "mute", "reason": "r", "blacklist": "yes"},
         "blacklist", "wrong_type"),
        (staff, "POST", "/admin/sanctions", {"subject": {"type": "group", "id": room}, "measure": "warning",
                                             "reason": "r"}, "subject.type", "not_allowed"),
        (staff, "POST", f"/admin/rooms/{quote(room)}/moderate", {"action": "mute", "target": [member.user_id],
                                                                 "duration": 60}, "target", "wrong_type"),
        (staff, "POST", f"/admin/users/{quote(member.user_id)}/credit", {"delta": -5, "reason": "r", "why": "x"},
         "why", "unknown_field"),
        (staff, "POST", "/admin/blacklist", {"subject": subject, "reason": "r", "permanent": True}, "permanent",
         "unknown_field"),
        (staff, "POST", f"/admin/rooms/{quote(room)}/announce", {"text": "公告", "pin": True}, "pin", "unknown_field"),
    ]  # fmt: skip
    for who, method, path, body, field, problem in cases:
        status, reply = await who.qunzu(method, path, body)
        assert (status, reply.get("errcode"), reply.get("cn.qunzu.reason")) == (
            400,
            "M_INVALID_PARAM",
            "invalid_request",
        ), (path, reply)
        assert reply["cn.qunzu.detail"] == {"field": field, "problem": problem}, (path, reply)
        assert reply["error"] == f"请求中的字段“{field}”无效（{problem}），没有执行任何操作。"
    # Nothing was filed, taken, listed or posted.
    status, queue = await staff.qunzu("GET", "/admin/reports?open=true")
    assert status == 200 and all(ticket["room_id"] != room for ticket in queue["tickets"]), queue
    status, listed = await staff.qunzu("GET", f"/admin/sanctions?subject={quote(member.user_id)}")
    assert (status, listed["sanctions"]) == (200, [])
    status, blacklist = await staff.qunzu("GET", "/admin/blacklist")
    assert member.user_id not in json.dumps(blacklist)
    assert (await member.send_text(room, "still here"))[0] == 200


async def test_a_mute_as_long_as_allowed_refuses_posts_with_its_end_time(
    synapse: SynapseProcess, staff: Matrix, as_user: Callable[..., Matrix]
) -> None:
    room = await staff.new_room(name="far future", preset="public_chat")
    muted = await verified(as_user, synapse, "far")
    assert (await muted.join(room))[0] == 200
    moderate = f"/admin/rooms/{quote(room)}/moderate"

    # Longer than allowed (ten years): refused, so no end time past what a text can show is ever stored.
    status, reply = await staff.qunzu(
        "POST", moderate, {"action": "mute", "target": muted.user_id, "duration": 10**12, "reason": "r"}
    )
    assert (status, reply["cn.qunzu.reason"]) == (400, "invalid_number"), reply
    assert (await muted.send_text(room, "still here"))[0] == 200

    status, mute = await staff.qunzu(
        "POST", moderate, {"action": "mute", "target": muted.user_id, "duration": MAX_SECONDS, "reason": "r"}
    )
    assert status == 200, mute
    status, refusal = await muted.send_text(room, "hello")
    assert status == 403
    assert refusal["cn.qunzu.reason"] == "posting_suspended_user", refusal
    assert refusal["cn.qunzu.detail"]["until"] == mute["until"]
    assert re.search(r"解除时间：20\d\d-\d\d-\d\d \d\d:\d\d（北京时间）", refusal["error"]), refusal["error"]

    # A warning takes no time: 0 stays what the ladder and /admin/sanctions/propose write for it.
    status, warned = await staff.qunzu(
        "POST",
        "/admin/sanctions",
        {"subject": {"type": "user", "id": muted.user_id}, "measure": "warning", "reason": "r", "duration": 0},
    )
    assert status == 200, warned

    # Permanent: told so, in words.
    status, _ = await staff.qunzu(
        "POST", moderate, {"action": "mute", "target": muted.user_id, "duration": "perm", "reason": "r"}
    )
    assert status == 200
    status, _ = await staff.qunzu("POST", moderate, {"action": "unmute", "target": muted.user_id, "reason": "r"})
    status, sanctioned = await staff.qunzu(
        "POST",
        "/admin/sanctions",
        {"subject": {"type": "user", "id": muted.user_id}, "measure": "mute", "reason": "r", "duration": "perm"},
    )
    assert status == 200, sanctioned
    status, refusal = await muted.send_text(room, "hello again")
    assert (status, refusal["cn.qunzu.reason"]) == (403, "posting_suspended_user"), refusal
    assert refusal["cn.qunzu.detail"]["permanent"] is True
    assert "永久" in refusal["error"]


def _hidden_inputs(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))


async def test_verification_form_keeps_identity_and_token_out_of_the_log(
    synapse: SynapseProcess,
    as_user: Callable[..., Matrix],
    http_session: aiohttp.ClientSession,
    service_account: dict[str, str],
) -> None:
    member = as_user(synapse.register(fresh_localpart("form")))
    # The link the bot sends for `!verify`: the service account asks for it.
    bot_token = service_account.get("access_token") or await _admin_login_as(synapse, SERVICE_USER_ID)
    status, link = await raw_call(
        http_session, synapse, bot_token, "POST", "/admin/realname/links", json.dumps({"user_id": member.user_id})
    )
    assert status == 200, link
    url = link["url"]
    token = re.search(r"client_secret=([^&]+)", url)
    assert token is not None, url
    secret = token.group(1)

    async with http_session.get(url) as response:
        page = await response.text()
    assert response.status == 200
    assert member.user_id in page  # the page names the account it verifies
    hidden = _hidden_inputs(page)
    assert hidden["client_secret"] == secret
    action = re.search(r'<form method="post" action="([^"]+)"', page)
    assert action is not None and "?" not in action.group(1)  # the request line carries nothing

    name, id_number, phone = "欧阳秀英", fresh_id_number(), "13912345678"
    identity = {"name": name, "id_number": id_number, "phone": phone}
    form_url = f"{url.split('?')[0]}"
    # Identity fields in the query string: a clean 400, nothing stored.
    async with http_session.get(f"{form_url}?{urlencode(identity)}&client_secret={secret}") as response:
        refused = await response.json(content_type=None)
    assert response.status == 400
    assert (refused["errcode"], refused["cn.qunzu.reason"]) == ("M_INVALID_PARAM", "invalid_identity")
    async with http_session.post(f"{form_url}?{urlencode(identity)}", data=hidden) as response:
        assert response.status == 400
    status, me = await member.qunzu("GET", "/me")
    assert me["verification"]["status"] == "unverified", me

    # The form as a browser submits it: everything in the body.
    fields = {**hidden, **identity, "accept_convention": "1"}
    async with http_session.post(form_url, data=fields) as response:
        done = await response.text()
    assert response.status == 200 and "认证成功" in done, done
    status, me = await member.qunzu("GET", "/me")
    assert me["verification"]["status"] == "verified", me

    # The JSON API: a malformed body (Synapse's own parser would log it whole) and a query string.
    other_id = fresh_id_number()
    broken = f'{{"name": "{name}", "id_number": "{other_id}", "phone": "{phone}",}}'
    status, reply = await raw_call(http_session, synapse, member.account.access_token, "POST", "/realname", broken)
    assert (status, reply["errcode"]) == (400, "M_NOT_JSON"), reply
    status, reply = await member.qunzu("GET", f"/me?id_number={other_id}")
    assert (status, reply["cn.qunzu.reason"]) == (400, "invalid_identity"), reply
    staff = synapse.register(fresh_localpart("staff"), admin=True)
    broken = f'{{"subject": {{"type": "identity", "id": "{other_id}"}}, "reason": "r",}}'
    status, reply = await raw_call(http_session, synapse, staff.access_token, "POST", "/admin/blacklist", broken)
    assert (status, reply["errcode"]) == (400, "M_NOT_JSON"), reply

    log = (Path(synapse.config_path).parent / "homeserver.log").read_text(encoding="utf-8", errors="replace")
    assert urlparse(form_url).path in log  # the requests are in the log
    for value in (id_number, other_id, name, quote(name), phone, secret):
        assert value not in log, f"{value[:4]}… is in homeserver.log"
