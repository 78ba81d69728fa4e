"""`/admin/sanctions`, credit, appeals and regulator reports (Art. 7, 11); `/sanctions/{id}/appeal` for subjects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synapse.module_api import SynapseRequest
from synapse.module_api.errors import Codes, SynapseError

from policies import Measure, SubjectKind
from policies.api import (
    AppealList,
    AppealRequest,
    CreditRequest,
    DecideAppealRequest,
    LiftRequest,
    ProposeRequest,
    RegulatorReportList,
    RegulatorReportUpdate,
    SanctionApply,
    SanctionList,
    SubjectRef,
)
from policies.constants import REPORT_STATUSES
from policies.numbers import duration_seconds

from ..sanctions.measures import TIMELESS_MEASURES, SanctionRequest, SanctionSubject, measure_of
from ..texts import text
from .resource import (
    Access,
    Caller,
    Route,
    acting_staff,
    answer,
    query_limit,
    query_str,
    query_time,
    read_body,
    required_reason,
)

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from policies import Policy

    from ..appeal_refs import AppealReferences
    from ..clock import Clock
    from ..policy_list import PolicyList
    from ..sanctions.appeals import Appeals
    from ..sanctions.measures import Measures
    from ..sanctions.regulator_reports import RegulatorReports
    from ..sanctions.standing import Standing
    from ..staff import Staff

MAX_APPEAL_CHARS = 2000


def _subject(subject: SubjectRef) -> tuple[SanctionSubject, str]:
    kind: SanctionSubject = "user" if subject.type == "user" else "room"
    return kind, subject.id


def _duration(value: object, measure: Measure) -> tuple[int | None, bool]:
    """`duration`: seconds, or text like `30m`, `7d`, `perm`; absent means the ladder's default."""
    if value is None:
        return None, False
    return duration_seconds(value, "duration", allow_zero=measure in TIMELESS_MEASURES), True


def _ladder(value: str | None) -> str | None:
    if value is not None and value not in {kind.value for kind in SubjectKind}:
        raise SynapseError(400, "'ladder' must be room, admin or member", Codes.INVALID_PARAM)
    return value


def routes(
    *,
    api: ModuleApi,
    language: str,
    policy: Policy,
    clock: Clock,
    staff: Staff,
    measures: Measures,
    standing: Standing,
    regulator_reports: RegulatorReports,
    appeal_service: Appeals,
    appeal_refs: AppealReferences,
    policy_list_service: PolicyList,
) -> list[Route]:

    def local_user(user_id: str) -> str:
        if not user_id.startswith("@") or not api.is_mine(user_id):
            raise SynapseError(400, text("not_local", language), Codes.INVALID_PARAM)
        return user_id

    async def apply(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        assert caller.user_id is not None
        body = read_body(request, SanctionApply, {"policy": policy})
        subject_type, subject = _subject(body.subject)
        reason = required_reason(body.model_dump(), language)
        measure = measure_of(body.measure)
        duration, given = _duration(body.duration, measure)
        sanction = SanctionRequest(
            subject_type=subject_type,
            subject=subject,
            measure=measure,
            reason=reason,
            duration_s=duration,
            duration_given=given,
            ladder=_ladder(body.ladder),
            category=body.category,
            evidence=tuple(body.evidence or ()),
            ticket_id=body.report,
            credit_delta=body.credit_delta,
            blacklist=body.blacklist,
        )
        outcome = await measures.apply(await acting_staff(staff, caller, body.model_dump()), sanction)
        return 200, answer(outcome.record(clock.now_ms()))

    async def listing(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        active_only = (query_str(request, "active") or "false").lower() == "true"
        limit = query_limit(request)
        found = await measures.listing(query_str(request, "subject"), active_only, limit)
        now = clock.now_ms()
        return 200, answer(SanctionList(sanctions=[sanction.record(now) for sanction in found]))

    async def get_one(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        found = await measures.get(params["sanction_id"])
        if found is None:
            raise SynapseError(404, "No such measure", Codes.NOT_FOUND)
        return 200, answer(found.record(clock.now_ms()))

    async def lift(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        assert caller.user_id is not None
        body = read_body(request, LiftRequest)
        reason = required_reason(body.model_dump(), language)
        actor = await acting_staff(staff, caller, body.model_dump())
        lifted = await measures.lift(actor, params["sanction_id"], reason, overturned=body.overturned)
        return 200, answer(lifted.record(clock.now_ms()))

    async def propose(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        body = read_body(request, ProposeRequest)
        subject_type, subject = _subject(body.subject)
        return 200, answer(await measures.propose(subject_type, subject, _ladder(body.ladder), body.category))

    async def credit(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        return 200, answer(await standing.credit_view(local_user(params["user_id"])))

    async def adjust(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        assert caller.user_id is not None
        body = read_body(request, CreditRequest, {"policy": policy})
        reason = required_reason(body.model_dump(), language)
        actor = await acting_staff(staff, caller, body.model_dump())
        return 200, answer(await standing.adjust_credit(actor, local_user(params["user_id"]), body.delta, reason))

    async def reports(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        since = query_time(request, "since")
        until = query_time(request, "until")
        limit = query_limit(request)
        status = query_str(request, "status")
        if status is not None and status not in REPORT_STATUSES:
            raise SynapseError(400, f"'status' must be one of {', '.join(REPORT_STATUSES)}", Codes.INVALID_PARAM)
        found = await regulator_reports.between(since, until, limit, status)
        return 200, answer(RegulatorReportList(reports=[report.record() for report in found]))

    async def report(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        return 200, answer((await regulator_reports.get(params["report_id"])).record())

    async def update_report(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        body = read_body(request, RegulatorReportUpdate)
        fields = body.model_dump()
        reason = required_reason(fields, language)
        actor = await acting_staff(staff, caller, fields)
        updated = await regulator_reports.update(actor, params["report_id"], body, reason)
        return 200, answer(updated.record())

    async def appeals(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        status = query_str(request, "status")
        if status is not None and status not in ("open", "upheld", "rejected"):
            raise SynapseError(400, "'status' must be open, upheld or rejected", Codes.INVALID_PARAM)
        limit = query_limit(request)
        listed = await appeal_service.listing(status, limit)
        return 200, answer(AppealList(appeals=[appeal.record() for appeal in listed]))

    async def decide(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        assert caller.user_id is not None
        body = read_body(request, DecideAppealRequest)
        reason = required_reason(body.model_dump(), language)
        outcome = body.outcome
        if outcome not in ("upheld", "rejected"):
            raise SynapseError(400, "'outcome' must be upheld or rejected", Codes.INVALID_PARAM)
        decided = await appeal_service.decide(caller.user_id, params["appeal_id"], outcome == "upheld", reason)
        return 200, answer(decided.record())

    def appeal_body(request: SynapseRequest, caller: Caller) -> tuple[str, str, AppealRequest]:
        assert caller.user_id is not None
        body = read_body(request, AppealRequest)
        body_text = body.text
        if body_text is None or not body_text.strip() or len(body_text) > MAX_APPEAL_CHARS:
            raise SynapseError(
                400, f"'text' must say why, in at most {MAX_APPEAL_CHARS} characters", Codes.MISSING_PARAM
            )
        appellant = caller.user_id
        on_behalf = body.appellant
        # The bot's `!appeal`: the service account files for the user who sent it.
        if on_behalf is not None and caller.user_id == staff.service_account:
            appellant = local_user(on_behalf)
        return appellant, body_text.strip(), body

    async def appeal(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        appellant, reasons, _ = appeal_body(request, caller)
        return 200, answer(await appeal_refs.appeal(appellant, params["sanction_id"], reasons))

    async def appeal_latest(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        """`POST /appeals {text, ref?}`: appeal `ref` (a measure or a refused message), else the latest decision."""
        appellant, reasons, body = appeal_body(request, caller)
        return 200, answer(await appeal_refs.appeal(appellant, body.ref, reasons))

    async def policy_list(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        room_id = await policy_list_service.room_id()
        synced = await policy_list_service.sync()
        return 200, answer(synced.model_copy(update={"room_id": room_id}))

    return [
        Route("POST", "/admin/sanctions/propose", Access.STAFF, propose),
        Route("POST", "/admin/sanctions", Access.STAFF, apply),
        Route("GET", "/admin/sanctions", Access.STAFF, listing),
        Route("GET", "/admin/sanctions/{sanction_id}", Access.STAFF, get_one),
        Route("DELETE", "/admin/sanctions/{sanction_id}", Access.STAFF, lift),
        Route("GET", "/admin/users/{user_id}/credit", Access.STAFF, credit),
        Route("POST", "/admin/users/{user_id}/credit", Access.STAFF, adjust),
        Route("GET", "/admin/regulator-reports", Access.STAFF, reports),
        Route("GET", "/admin/regulator-reports/{report_id}", Access.STAFF, report),
        Route("POST", "/admin/regulator-reports/{report_id}", Access.STAFF, update_report),
        Route("GET", "/admin/appeals", Access.STAFF, appeals),
        Route("POST", "/admin/appeals/{appeal_id}/decide", Access.STAFF, decide),
        Route("POST", "/admin/policy-list/sync", Access.STAFF, policy_list),
        Route("POST", "/sanctions/{sanction_id}/appeal", Access.USER, appeal),
        Route("POST", "/appeals", Access.USER, appeal_latest),
    ]
