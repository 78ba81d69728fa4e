"""`/admin/export`, `/admin/filing`, `/admin/emergency`: records for regulators and emergency handling.

Every call here is staff only and audited before it acts (resource.py); the
export and the emergency actions write their own audit rows as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synapse.module_api import SynapseRequest, respond_with_html
from synapse.module_api.errors import Codes, SynapseError

from policies.api import EmergencyRequest, ExportCheck, ExportRequest, FilingDocument, Freezes, ReasonedRequest

from ..export import Exporter, ExportError, parse_time, verify_bundle
from .resource import Access, Caller, Route, acting_staff, answer, query_str, read_body, required_reason

if TYPE_CHECKING:
    from ..clock import Clock
    from ..config import QunzuConfig
    from ..emergency import Emergency
    from ..filing import Filing
    from ..staff import Staff
    from ..store.emergency import EmergencyStore


def _optional_text(body: Mapping[str, Any], name: str, limit: int = 2000) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise SynapseError(400, f"'{name}' must be a string of at most {limit} characters", Codes.INVALID_PARAM)
    return value.strip() or None


def _respond_text(request: SynapseRequest, content_type: bytes, text: str) -> None:
    data = text.encode("utf-8")
    raw: Any = request  # Twisted's Request is untyped
    raw.setResponseCode(200)
    raw.setHeader(b"Content-Type", content_type)
    raw.setHeader(b"Content-Length", str(len(data)).encode("ascii"))
    raw.setHeader(b"Cache-Control", b"no-cache, no-store, must-revalidate")
    raw.write(data)
    raw.finish()


def routes(
    *,
    config: QunzuConfig,
    clock: Clock,
    staff: Staff,
    exporter: Exporter,
    filings: Filing,
    emergency: Emergency,
    emergency_records: EmergencyStore,
) -> list[Route]:

    async def _export(caller: Caller, since: Any, until: Any, subject: Any, legal_basis: str | None) -> tuple[int, Any]:
        assert caller.user_id is not None
        try:
            since_ms = parse_time(since, "since")
            until_ms = parse_time(until, "until") or clock.now_ms()
            if since_ms is None:
                raise ExportError("since is required (milliseconds since the epoch or ISO 8601)")
            if subject is not None and (not isinstance(subject, str) or len(subject) > 255):
                raise ExportError("subject must be a user id, a room id or a group code")
            bundle = await exporter.build(caller.user_id, since_ms, until_ms, subject or None, legal_basis)
        except ExportError as exc:
            raise SynapseError(400, str(exc), Codes.INVALID_PARAM) from None
        return 200, bundle.as_json()

    async def get_export(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        # Without a body there is no legal basis: identities are never in a GET export.
        return await _export(
            caller, query_str(request, "since"), query_str(request, "until"), query_str(request, "subject"), None
        )

    async def post_export(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        body = read_body(request, ExportRequest)
        legal_basis = (body.legal_basis or "").strip() or None
        return await _export(caller, body.since, body.until, body.subject, legal_basis)

    async def verify_export(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        body = read_body(request, ExportCheck)
        raw = {name: text.encode("utf-8") for name, text in body.files.items()}
        return 200, answer(verify_bundle(body.manifest, raw, config.key).record())

    async def filing(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any] | None:
        fmt = query_str(request, "format")
        accept = (request.getHeader("Accept") or "").lower()
        if fmt is None:
            fmt = "html" if "text/html" in accept else "json"
        if fmt not in ("json", "markdown", "html"):
            raise SynapseError(400, "format must be json, markdown or html", Codes.INVALID_PARAM)
        rendered, statistics = await filings.document("html" if fmt == "html" else "markdown")
        if fmt == "html":
            respond_with_html(request, 200, rendered)
            return None
        if fmt == "markdown":
            _respond_text(request, b"text/markdown; charset=utf-8", rendered)
            return None
        return 200, answer(FilingDocument(markdown=rendered, statistics=statistics))

    async def freeze(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        assert caller.user_id is not None
        body = read_body(request, EmergencyRequest).model_dump()
        scope = emergency.parse_scope(body["scope"])
        reason = required_reason(body, config.language)
        return 200, answer((await emergency.freeze(await acting_staff(staff, caller, body), scope, reason)).record())

    async def lift(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        assert caller.user_id is not None
        body = read_body(request, ReasonedRequest, empty_ok=True).model_dump()
        reason = _optional_text(body, "reason", 1000) or ""
        lifted = await emergency.lift(await acting_staff(staff, caller, body), params["id"], reason)
        if lifted is None:
            raise SynapseError(404, "No active emergency freeze with this id", Codes.NOT_FOUND)
        return 200, answer(lifted.record())

    async def list_freezes(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        active = await emergency.active()
        recent = await emergency_records.recent(100)
        return 200, answer(Freezes(active=[f.record() for f in active], recent=[f.record() for f in recent]))

    return [
        Route("GET", "/admin/export", Access.STAFF, get_export),
        Route("POST", "/admin/export", Access.STAFF, post_export),
        Route("POST", "/admin/export/verify", Access.STAFF, verify_export),
        Route("GET", "/admin/filing", Access.STAFF, filing),
        Route("POST", "/admin/emergency", Access.STAFF, freeze),
        Route("GET", "/admin/emergency", Access.STAFF, list_freezes),
        Route("DELETE", "/admin/emergency/{id}", Access.STAFF, lift),
    ]
