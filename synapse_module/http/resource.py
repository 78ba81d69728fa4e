"""The module's HTTP API under /_synapse/client/qunzu/v1: one leaf resource, a route table.

Each endpoint family (me, admin/audit, …) contributes `Route`s; this file
authenticates, dispatches and turns a `Refusal` into the error form of
DESIGN.md §3.3 in one place. Synapse's `DirectServeJsonResource` already turns
a `SynapseError` into JSON and anything unexpected into a logged 500.
"""

from __future__ import annotations

import contextlib
import enum
import html
import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import unquote, unquote_plus

from synapse.module_api import DirectServeJsonResource, ModuleApi, SynapseRequest
from synapse.module_api.errors import Codes, SynapseError

from policies import InvalidNumber, InvalidRequest, Reason
from policies.api.base import Record, RequestT, parse_request
from policies.api.paths import API_PREFIX
from policies.constants import LANGUAGES
from policies.numbers import MAX_PAGE, Bounds, optional_int, time_ms

from ..errors import Refusal, RequestError
from ..refusals import refusal_error, refusal_fields, request_error
from ..texts import text

if TYPE_CHECKING:
    from ..config import QunzuConfig
    from ..health import Health
    from ..staff import Staff
    from ..store.audit import AuditStore

PREFIX = API_PREFIX


class Access(enum.Enum):
    PUBLIC = "public"  # no token (health, the verification form reached by one-time link)
    ANYONE = "anyone"  # no token needed; a token, when sent, names the caller (public pages members see more of)
    USER = "user"  # any local user with an access token
    STAFF = "staff"  # server admins, configured staff, the service account


@dataclass(frozen=True)
class Caller:
    """Who is calling: `user_id` is None for public routes."""

    user_id: str | None
    is_staff: bool


async def acting_staff(staff: Staff, caller: Caller, body: Mapping[str, Any]) -> str:
    """Who the record names: the caller, or the staff member the service account acts for (`actor`).

    The bot's moderation desk runs staff commands for the person who typed them, so measures,
    lifts, blacklist entries, credit changes and freezes name that person, not the bot.

    Raises:
        SynapseError: 403 when a caller other than the service account names another actor, or
            the named actor is not staff.
    """
    assert caller.user_id is not None
    acting_for = body.get("actor")
    if acting_for is None or acting_for == caller.user_id:
        return caller.user_id
    if caller.user_id != staff.service_account:
        raise SynapseError(403, "Only the service account may act for someone else", Codes.FORBIDDEN)
    if not isinstance(acting_for, str) or not await staff.is_staff(acting_for):
        raise SynapseError(403, "'actor' must be compliance staff", Codes.FORBIDDEN)
    return acting_for


# A handler returns (status, JSON), or None after writing the response itself (HTML pages).
Handler = Callable[[SynapseRequest, Caller, Mapping[str, str]], Awaitable[tuple[int, Any] | None]]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str  # e.g. "/admin/users/{user_id}/reveal"
    access: Access
    handler: Handler
    # False only for routes that must answer while the module is starting.
    needs_ready: bool = True

    def match(self, path: str) -> dict[str, str] | None:
        found = _compile(self.pattern).fullmatch(path)
        return None if found is None else {k: unquote(v) for k, v in found.groupdict().items()}


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _compile(pattern: str) -> re.Pattern[str]:
    if pattern not in _PATTERNS:
        regex = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(pattern))
        _PATTERNS[pattern] = re.compile(regex)
    return _PATTERNS[pattern]


class QunzuResource(DirectServeJsonResource):
    """Serves every route below PREFIX."""

    isLeaf = True

    def __init__(
        self,
        api: ModuleApi,
        routes: Sequence[Route],
        *,
        config: QunzuConfig,
        health: Health,
        staff: Staff,
        audit: AuditStore,
    ) -> None:
        super().__init__()
        self._api = api
        self._routes = tuple(routes)
        self._config = config
        self._health = health
        self._staff = staff
        self._audit = audit

    async def _async_render(self, request: SynapseRequest) -> tuple[int, Any] | None:
        if personal := scrub_logged_query(request):
            # PIPL, Art. 6: identity data comes in request bodies only; a query string is
            # logged. Refused before anything is read, authenticated or stored.
            refusal = Refusal(Reason.INVALID_IDENTITY, {"field": personal[0], "in_query": True})
            raise SynapseError(
                400,
                text("form_query_refused", self._config.language),
                Codes.INVALID_PARAM,
                additional_fields=refusal_fields(refusal),
            )
        method = request.method.decode("ascii")
        method = "GET" if method == "HEAD" else method
        path = "/" + "/".join(segment.decode("utf-8", "replace") for segment in request.postpath or [])
        path = path.rstrip("/") or "/"
        allowed_methods = []
        for route in self._routes:
            params = route.match(path)
            if params is None:
                continue
            if route.method != method:
                allowed_methods.append(route.method)
                continue
            try:
                caller = await self._authenticate(request, route.access)
                if route.needs_ready:
                    await self._health.ready()
                if route.access is Access.STAFF:
                    # DESIGN.md §3.4: every staff call is on the record, before it acts.
                    assert caller.user_id is not None
                    await self._audit.append(
                        caller.user_id, f"api.{method} {route.pattern}", path, {"query": _query_keys(request)}
                    )
                return await route.handler(request, caller, params)
            except RequestError as error:
                raise request_error(error) from None
            except Refusal as refusal:
                raise refusal_error(refusal, self._config) from None
            except InvalidNumber as exc:
                # DESIGN.md §6.1: numbers from outside are bounded; out of range is a 400.
                invalid = Refusal(Reason.INVALID_NUMBER, exc.detail)
                raise refusal_error(invalid, self._config) from None
            except InvalidRequest as exc:
                # A body that does not fit its model (policies/api): which field, what is wrong.
                raise refusal_error(Refusal(Reason.INVALID_REQUEST, exc.detail), self._config) from None
        if allowed_methods:
            raise SynapseError(405, f"Use {', '.join(sorted(set(allowed_methods)))} here", Codes.UNRECOGNIZED)
        raise SynapseError(404, "Unknown Qunzu endpoint", Codes.UNRECOGNIZED)

    async def _authenticate(self, request: SynapseRequest, access: Access) -> Caller:
        if access is Access.PUBLIC or (access is Access.ANYONE and not _has_token(request)):
            return Caller(None, False)
        requester = await self._api.get_user_by_req(request)
        user_id = requester.user.to_string()
        is_staff = await self._staff.is_staff(user_id)
        if access is Access.STAFF and not is_staff:
            # A stable reason for every staff-only route (sealed evidence, holds, the queue).
            raise refusal_error(Refusal(Reason.STAFF_ONLY, {}), self._config)
        return Caller(user_id, is_staff)


def _has_token(request: SynapseRequest) -> bool:
    # Where Synapse reads an access token from (synapse/api/auth: the header, or the query string).
    raw: Any = request  # Twisted's Request is untyped
    return bool(raw.requestHeaders.hasHeader(b"Authorization") or b"access_token" in (request.args or {}))


# Query parameters that may carry personal data (PIPL, Art. 6) or a secret that Synapse
# does not redact itself (`t`, the form token of older links; `token`, a public report's
# follow-up token).
PERSONAL_QUERY_KEYS: frozenset[str] = frozenset({"name", "id_number", "phone"})
_SCRUBBED_QUERY_KEYS: frozenset[str] = PERSONAL_QUERY_KEYS | {"t", "token"}


def scrub_logged_query(request: SynapseRequest) -> list[str]:
    """Blank personal values in the request line Synapse logs when the request ends.

    Synapse writes "Processed request: … <method> <uri>" from `request.uri` as it is when
    the response is sent, redacting only `access_token` and `client_secret`. Rewriting the
    values of personal parameters here keeps them out of that line.

    Returns:
        The personal parameter names found in the query string (sorted), for the refusal.
    """
    raw: bytes = request.uri
    path, sep, query = raw.partition(b"?")
    if not sep:
        return []
    found: set[str] = set()
    parts = []
    for pair in query.split(b"&"):
        key = pair.partition(b"=")[0]
        name = unquote_plus(key.decode("ascii", "replace")).lower()
        if name in _SCRUBBED_QUERY_KEYS:
            parts.append(key + b"=<redacted>")
            if name in PERSONAL_QUERY_KEYS:
                found.add(name)
        else:
            parts.append(pair)
    request.uri = path + b"?" + b"&".join(parts)
    return sorted(found)


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


# As Synapse's own decoder: NaN and the infinities are not JSON.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def json_body(request: SynapseRequest) -> dict[str, Any]:
    """The request's JSON object; malformed JSON is a 400 (M_NOT_JSON / M_BAD_JSON).

    Parsed here, not with Synapse's `parse_json_object_from_request`: that one writes the
    whole body of a malformed request to the log at WARNING, and bodies here carry names,
    ID numbers and phone numbers (PIPL, Art. 6). Nothing of the body is logged.
    """
    content = request.content
    if content is None:
        raise SynapseError(400, "Content not JSON.", Codes.NOT_JSON)
    content.seek(0)
    try:
        value = _DECODER.decode(content.read().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise SynapseError(400, "Content not JSON.", Codes.NOT_JSON) from None
    if not isinstance(value, dict):
        raise SynapseError(400, "Content must be a JSON object.", Codes.BAD_JSON)
    return value


def read_body(
    request: SynapseRequest,
    model: type[RequestT],
    context: Mapping[str, Any] | None = None,
    *,
    empty_ok: bool = False,
) -> RequestT:
    """The request's JSON object read as `model` (policies/api): strict, no unknown keys.

    Args:
        request: the request.
        model: the body's model.
        context: what number bounds depend on (``{"policy": …}`` for credit changes).
        empty_ok: an empty body reads as ``{}`` (bodies whose every key is optional).

    Raises:
        SynapseError: 400 ``M_NOT_JSON`` / ``M_BAD_JSON`` for malformed JSON.
        InvalidRequest: a field is missing, unknown, of the wrong type or too long (a 400
            ``invalid_request`` with ``detail.field`` and ``detail.problem``).
        InvalidNumber: a number field is malformed or out of range (a 400 ``invalid_number``).
    """
    body: dict[str, Any] = {}
    if not (empty_ok and _is_empty(request)):
        body = json_body(request)
    return parse_request(model, body, context)


def answer(record: Record) -> dict[str, Any]:
    """A service's record as the JSON the route answers: the fields the service set, as it set them."""
    return record.model_dump(mode="json", exclude_unset=True)


def _is_empty(request: SynapseRequest) -> bool:
    content = request.content
    if content is None:
        return True
    content.seek(0)
    empty = not content.read(1)
    content.seek(0)
    return empty


def required_reason(body: Mapping[str, Any], language: str) -> str:
    """The non-empty `reason` staff must give for actions that are audited with it."""
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 1000:
        raise SynapseError(400, text("reason_required", language), Codes.MISSING_PARAM)
    return reason.strip()


def _query_keys(request: SynapseRequest) -> list[str]:
    # Only the names: values may carry personal data.
    return sorted(key.decode("utf-8", "replace") for key in (request.args or {}))


def query_str(request: SynapseRequest, name: str) -> str | None:
    """The first value of a query parameter, or None."""
    values = request.args.get(name.encode("ascii"))
    return values[0].decode("utf-8", "replace") if values else None


def query_int(request: SynapseRequest, name: str, bounds: Bounds) -> int | None:
    """An integer query parameter within `bounds`, or None when absent.

    Raises:
        InvalidNumber: malformed or out of range (a 400 ``invalid_number``, never a 500).
    """
    return optional_int(query_str(request, name), name, bounds)


def query_time(request: SynapseRequest, name: str) -> int | None:
    """A time query parameter (ms since the epoch, years 2000 to 9999), or None when absent.

    Raises:
        InvalidNumber: malformed or out of range.
    """
    value = query_str(request, name)
    return None if value is None or value == "" else time_ms(value, name)


def query_limit(request: SynapseRequest, default: int = 100, maximum: int = MAX_PAGE) -> int:
    """The page size `limit` (1 to `maximum`), `default` when absent.

    Raises:
        InvalidNumber: malformed or out of range.
    """
    value = query_int(request, "limit", Bounds(1, maximum))
    return default if value is None else value


# Pages hold no scripts and load nothing from elsewhere; they post forms only to themselves.
PAGE_CSP = b"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"


def wants_html(request: SynapseRequest) -> bool:
    """True when the client asks for a web page (a browser's `Accept: text/html, …`), not JSON."""
    accept = (request.getHeader("Accept") or "").lower()
    return "text/html" in accept


def page_language(request: SynapseRequest, default: str) -> str:
    """The language of a page: `?lang=`, else the browser's first of zh/en, else `default`."""
    wanted = query_str(request, "lang")
    if wanted in LANGUAGES:
        return wanted
    for part in (request.getHeader("Accept-Language") or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return default


def respond_page(request: SynapseRequest, status: int, page: str) -> None:
    """Send an HTML page with headers that keep it a plain document.

    Synapse's `respond_with_html` sets only the anti-framing headers; a page that shows
    room names and topics, which anyone may set, also gets a policy that runs no script
    and loads nothing, and no MIME sniffing. Pages are never stored: the form holds what a
    person typed, and a member sees more of a small group's page than the public.
    """
    raw: Any = request  # Twisted's Request is untyped
    body = page.encode("utf-8")
    request.setResponseCode(status)
    raw.setHeader(b"Content-Type", b"text/html; charset=utf-8")
    raw.setHeader(b"Content-Length", b"%d" % len(body))
    raw.setHeader(b"Content-Security-Policy", PAGE_CSP)
    raw.setHeader(b"X-Frame-Options", b"DENY")
    raw.setHeader(b"X-Content-Type-Options", b"nosniff")
    raw.setHeader(b"Referrer-Policy", b"no-referrer")
    raw.setHeader(b"Cache-Control", b"no-cache, no-store, must-revalidate")
    if raw._disconnected:  # as Synapse's own respond_with_html: nothing to write to
        return
    raw.write(body)
    with contextlib.suppress(RuntimeError):  # the client went away while the page was written
        raw.finish()


_PAGE_CSS = (
    "body{font-family:system-ui,-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;margin:0;background:#f5f6f8;"
    "color:#1d2129}main{max-width:36rem;margin:0 auto;padding:1.25rem;background:#fff;min-height:100vh;"
    "box-sizing:border-box;overflow-wrap:anywhere}h1{font-size:1.5rem}h2{font-size:1.1rem;margin-top:1.5rem}"
    "table{border-collapse:collapse;width:100%}th{text-align:left;padding:.35rem 1rem .35rem 0;color:#555;"
    "white-space:nowrap;vertical-align:top}td{padding:.35rem 0}code{background:#f0f2f5;padding:.1rem .3rem;"
    "border-radius:.25rem}.note{color:#555;font-size:.9rem}a{color:#0b6bcb}.text{white-space:pre-wrap}"
)


def page_document(title: str, body: str, language: str) -> str:
    """A whole page in the style of the info pages: `body` is HTML, the title is escaped here."""
    return (
        f'<!DOCTYPE html><html lang="{html.escape(language)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{html.escape(title)}</title><style>{_PAGE_CSS}</style></head><body><main>{body}</main></body></html>"
    )
