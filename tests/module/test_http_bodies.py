"""Request bodies at the HTTP boundary (policies/api): what a client is told when a body does not fit.

Through the module's real resource (`QunzuResource`: dispatch, refusal rendering) with the
request models the routes read; no Synapse needed. The routes' own checks (a known category,
a non-empty reason) are tested end to end with them.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any, cast

import pytest
from synapse.module_api.errors import SynapseError

from policies import InvalidNumber, default_policy
from policies.api import (
    AnnounceRequest,
    AppealRequest,
    BlacklistAdd,
    CreditRequest,
    ExportCheck,
    ExportRequest,
    JobRun,
    ModerateRequest,
    MuteAllEnded,
    PolicyListSync,
    RegulatorReportUpdate,
    ReportRequest,
    Request,
    ResolveRequest,
    SanctionApply,
    Stats,
    Ticket,
    TicketEvidence,
)
from synapse_module import QunzuModule
from synapse_module.http.resource import Access, Caller, QunzuResource, Route, answer, read_body
from synapse_module.store.reports import _stats_txn
from synapse_module.store.tickets import NewTicket

_POLICY = default_policy()


class _Request:
    """The part of Twisted's request the resource reads."""

    def __init__(self, path: str, body: bytes | None) -> None:
        self.uri = path.encode()
        self.method = b"POST"
        self.postpath = [part.encode() for part in path.strip("/").split("/")]
        self.content = None if body is None else io.BytesIO(body)
        self.args: dict[bytes, list[bytes]] = {}


def _resource(language: str, models: Mapping[str, type[Request]]) -> QunzuResource:
    config = SimpleNamespace(language=language, policy=_POLICY)
    parsed: list[Request] = []

    def handler(model: type[Request]) -> Any:
        async def handle(request: Any, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
            parsed.append(read_body(request, model, {"policy": _POLICY}))
            return 200, {}

        return handle

    routes = [Route("POST", path, Access.PUBLIC, handler(model), needs_ready=False) for path, model in models.items()]
    # Public routes that need no readiness: neither health, staff nor the audit log is asked.
    unused = cast(Any, None)
    return QunzuResource(unused, routes, config=cast(Any, config), health=unused, staff=unused, audit=unused)


_ROUTES: dict[str, type[Request]] = {
    "/reports": ReportRequest,
    "/admin/reports/T1/resolve": ResolveRequest,
    "/admin/sanctions": SanctionApply,
    "/admin/users/u/credit": CreditRequest,
    "/admin/blacklist": BlacklistAdd,
    "/admin/rooms/r/moderate": ModerateRequest,
    "/admin/rooms/r/announce": AnnounceRequest,
    "/appeals": AppealRequest,
    "/admin/export": ExportRequest,
    "/admin/export/verify": ExportCheck,
    "/admin/regulator-reports/rr": RegulatorReportUpdate,
}


async def _refused(path: str, body: bytes, language: str = "en") -> tuple[int, str, dict[str, Any]]:
    resource = _resource(language, _ROUTES)
    with pytest.raises(SynapseError) as refused:
        await resource._async_render(cast(Any, _Request(path, body)))
    error = refused.value
    fields = error.error_dict(None)
    return error.code, str(error.msg), fields


@pytest.mark.parametrize(
    ("path", "body", "field", "problem"),
    [
        # A typo is not "no reason": unknown keys are refused, nothing is done.
        ("/reports", b'{"room_id": "!r:x", "category": "spam", "reasn": "ad"}', "reasn", "unknown_field"),
        ("/reports", b'{"room_id": 5, "category": "spam"}', "room_id", "wrong_type"),
        ("/admin/reports/T1/resolve", b'{"reason": "r"}', "outcome", "missing"),
        ("/admin/reports/T1/resolve", b'{"outcome": "resolved", "takedown": 1}', "takedown", "wrong_type"),
        (
            "/admin/reports/T1/resolve",
            b'{"outcome": "resolved", "sanction": {"measure": "mute", "subject": {"type": "group", "id": "x"}}}',
            "sanction.subject.type",
            "not_allowed",
        ),
        ("/admin/sanctions", b'{"measure": "mute", "reason": "r"}', "subject", "missing"),
        ("/admin/sanctions", b'{"subject": {"type": "user", "id": "@a:x"}, "blacklist": 1}', "blacklist", "wrong_type"),
        ("/admin/users/u/credit", b'{"delta": -5, "reason": "r", "extra": true}', "extra", "unknown_field"),
        ("/admin/blacklist", b'{"subject": {"type": "user"}, "reason": "r"}', "subject.id", "missing"),
        ("/admin/rooms/r/moderate", b'{"action": "mute", "target": ["@a:x"]}', "target", "wrong_type"),
        ("/admin/rooms/r/announce", b'{"text": "' + b"x" * 10_001 + b'"}', "text", "too_long"),
        ("/appeals", b'{"text": "why", "ref": 7}', "ref", "wrong_type"),
        ("/admin/export", b'{"since": 1700000000000, "legal_basis": ["x"]}', "legal_basis", "wrong_type"),
        ("/admin/export/verify", b'{"manifest": {}, "files": {"a.jsonl": 1}}', "files.a.jsonl", "wrong_type"),
        ("/admin/export/verify", b'{"files": {}}', "manifest", "missing"),
        ("/admin/regulator-reports/rr", b'{"status": ["submitted"]}', "status", "wrong_type"),
        ("/admin/regulator-reports/rr", b'{"status": "submitted", "note": "x"}', "note", "unknown_field"),
    ],
)
async def test_a_body_that_does_not_fit_is_a_400_naming_the_field(
    path: str, body: bytes, field: str, problem: str
) -> None:
    status, text, fields = await _refused(path, body)
    assert (status, fields["errcode"]) == (400, "M_INVALID_PARAM")
    assert fields["cn.qunzu.reason"] == "invalid_request"
    assert fields["cn.qunzu.detail"] == {"field": field, "problem": problem}
    assert text == f'The request field "{field}" is not valid ({problem}); nothing was done.'


async def test_the_text_is_in_the_configured_language() -> None:
    _status, text, _fields = await _refused("/reports", b'{"room": "!r:x"}', "zh-CN")
    assert text == "请求中的字段“room”无效（unknown_field），没有执行任何操作。"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/admin/sanctions", b'{"subject": {"type": "user", "id": "@a:x"}, "duration": 1e400}', "duration"),
        ("/admin/sanctions", b'{"subject": {"type": "user", "id": "@a:x"}, "credit_delta": 5}', "credit_delta"),
        ("/admin/users/u/credit", b'{"delta": true, "reason": "r"}', "delta"),
        ("/admin/users/u/credit", b'{"delta": 0, "reason": "r"}', "delta"),
        ("/admin/blacklist", b'{"subject": {"type": "user", "id": "@a:x"}, "until": 5.0}', "until"),
        ("/admin/export", b'{"since": 1e20}', "since"),
        ("/admin/export", b'{"since": ["2026-01-01"]}', "since"),
        ("/admin/export", b'{"since": 1700000000000, "until": true}', "until"),
        ("/admin/regulator-reports/rr", b'{"status": "submitted", "submitted_at": 1.5}', "submitted_at"),
        ("/admin/rooms/r/moderate", b'{"action": "mute", "duration": "' + b"1" * 24 + b'"}', "duration"),
        (
            "/admin/reports/T1/resolve",
            b'{"outcome": "resolved", "sanction": {"measure": "mute", "duration": -1}}',
            "sanction.duration",
        ),
    ],
)
async def test_a_number_in_a_body_is_still_invalid_number_with_its_bounds(path: str, body: bytes, field: str) -> None:
    status, text, fields = await _refused(path, body)
    assert (status, fields["cn.qunzu.reason"]) == (400, "invalid_number")
    assert fields["cn.qunzu.detail"]["field"] == field
    assert field in text


@pytest.mark.parametrize(("body", "errcode"), [(b"{", "M_NOT_JSON"), (b"[1]", "M_BAD_JSON"), (b"NaN", "M_NOT_JSON")])
async def test_a_body_that_is_not_a_json_object_keeps_synapses_errcodes(body: bytes, errcode: str) -> None:
    status, _text, fields = await _refused("/reports", body)
    assert (status, fields["errcode"]) == (400, errcode)


async def test_a_body_that_fits_reaches_the_route_typed() -> None:
    body = b'{"outcome": "resolved", "sanction": {"measure": "mute", "duration": "7d"}, "actor": "@s:x"}'
    model = read_body(cast(Any, _Request("/x", body)), ResolveRequest)
    assert model.sanction is not None and model.sanction.duration == "7d"
    assert (model.outcome, model.actor, model.takedown, model.reason) == ("resolved", "@s:x", False, None)


async def test_the_queue_answers_every_field_of_the_ticket_record(module: QunzuModule, sqlite_db: Any) -> None:
    """`GET /admin/reports` answers the `Ticket` record the service fills: every field, the
    optional ones too (as null), so a reader never has to tell a missing key from an empty one."""
    stored = await module.store.tickets.open(
        NewTicket(source="user_report", category="spam", reason="ad", deadline_ts=2, room_id="!r:x", event_id="$e")
    )
    shown = answer(await module.reports.ticket_record(stored))
    assert set(shown) == set(Ticket.model_fields)
    assert set(shown["evidence"]) == set(TicketEvidence.model_fields)
    stats = sqlite_db.run(_stats_txn, 0, 1)
    assert set(answer(await module.reports.stats(0))) == set(Stats.model_fields) == {"since", *stats}


def test_the_module_judges_numbers_not_the_client_that_builds_the_body() -> None:
    # The bot builds bodies from the same models; an out-of-range duration reaches the module,
    # whose refusal (with the bounds in words) is what the person reads.
    assert ModerateRequest(action="mute", duration="99y").body() == {"action": "mute", "duration": "99y"}
    request = _Request("/admin/rooms/r/moderate", b'{"action": "mute", "duration": "99y"}')
    with pytest.raises(InvalidNumber) as refused:
        read_body(cast(Any, request), ModerateRequest)
    assert refused.value.detail["field"] == "duration"


def test_a_job_run_answers_the_counts_of_its_own_record() -> None:
    # `JobRun.result` is declared as the base record; the answer is that of the job's own record.
    ran = answer(JobRun(job="mute_all_ended", result=MuteAllEnded(ended=2, told=1)))
    assert ran == {"job": "mute_all_ended", "result": {"ended": 2, "told": 1}}
    # A field a service does not set is not in the answer.
    assert answer(PolicyListSync(published=0, withdrawn=0)) == {"published": 0, "withdrawn": 0}
