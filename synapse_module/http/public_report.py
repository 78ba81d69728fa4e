"""`/public/report`: the report entry for people without an account (Art. 12; public_reports.py).

- `GET /public/report[?code=&lang=]`: the HTML form (JSON with `Accept: application/json`:
  the categories and the limit).
- `POST /public/report`: a form post (HTML answer) or JSON
  `{"code" | "room_id", "category", "reason", "contact"?}` → the ticket and its follow-up token.
- `GET /public/report/{ticket}?token=`: that ticket's status only (HTML or JSON).

No token, no account. The page is small, readable at phone width, has no scripts
and loads nothing from elsewhere; every value is escaped. The follow-up token is
scrubbed from the request line Synapse logs (resource.py). The client address
comes from Synapse (`get_client_ip_if_available`: the socket's peer, or the
`X-Forwarded-For` address when the listener has `x_forwarded: true`).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

from synapse.module_api import SynapseRequest, respond_with_html
from synapse.module_api.errors import Codes, SynapseError

from policies.api import PublicReceipt, PublicReportForm, PublicTicketStatus, ReportCategory

from ..errors import RequestError
from ..evidence_texts import evidence_text
from ..public_reports import MAX_CONTACT_CHARS, MAX_REASON_CHARS, PER_HOUR
from ..refusals import client_error
from .resource import Access, Caller, Route, answer, json_body, query_str

if TYPE_CHECKING:
    from ..public_reports import PublicReports

LANGUAGES = ("zh-CN", "en")
# A full form: 1000 Chinese characters percent-encoded are 9000 bytes, plus the other fields.
MAX_FORM_BYTES = 16384


def form_fields(request: SynapseRequest) -> dict[str, str]:
    """The fields of an `application/x-www-form-urlencoded` POST body (never the query string)."""
    content = request.content
    if content is None:
        return {}
    content.seek(0)
    raw = content.read(MAX_FORM_BYTES + 1)
    if len(raw) > MAX_FORM_BYTES:
        raise SynapseError(413, "The form is too large", Codes.TOO_LARGE)
    try:
        parsed = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        raise SynapseError(400, "The form could not be read", Codes.BAD_JSON) from None
    return {key: values[0] for key, values in parsed.items() if values}


def _wants_html(request: SynapseRequest) -> bool:
    accept = (request.getHeader("Accept") or "").lower()
    return "text/html" in accept or "application/json" not in accept


def _is_json(request: SynapseRequest) -> bool:
    return "application/json" in (request.getHeader("Content-Type") or "").lower()


def routes(*, default_language: str, public_reports: PublicReports) -> list[Route]:
    service = public_reports

    def language_of(value: str | None) -> str:
        return value if value in LANGUAGES else default_language

    def address(request: SynapseRequest) -> str:
        return str(request.get_client_ip_if_available())

    async def form(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any] | None:
        language = language_of(query_str(request, "lang"))
        if not _wants_html(request):
            return 200, answer(PublicReportForm(categories=service.categories(language), per_hour=PER_HOUR))
        page = ReportPage(service.categories(language), language)
        page.form({"code": query_str(request, "code") or ""})
        respond_with_html(request, 200, page.render())
        return None

    async def submit(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any] | None:
        if _is_json(request):
            body = json_body(request)
            language = language_of(body.get("lang") if isinstance(body.get("lang"), str) else None)
            return 200, answer(await service.file(address(request), body, language))
        fields = form_fields(request)
        language = language_of(fields.get("lang"))
        page = ReportPage(service.categories(language), language)
        try:
            receipt = await service.file(address(request), fields, language)
        except (SynapseError, RequestError) as exc:
            error = client_error(exc)
            page.form(fields, error=error.msg)
            respond_with_html(request, error.code, page.render())
            return None
        page.filed(receipt)
        respond_with_html(request, 200, page.render())
        return None

    async def status(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any] | None:
        language = language_of(query_str(request, "lang"))
        raw: Any = request  # Twisted's Request is untyped
        raw.setHeader(b"Cache-Control", b"no-store")
        try:
            shown = await service.status(params["ticket"], query_str(request, "token"), language)
        except (SynapseError, RequestError) as exc:
            if not _wants_html(request):
                raise
            error = client_error(exc)
            page = ReportPage(service.categories(language), language, title_key="status_title")
            page.message(error.msg, error=True)
            respond_with_html(request, error.code, page.render())
            return None
        if not _wants_html(request):
            return 200, answer(shown)
        page = ReportPage(service.categories(language), language, title_key="status_title")
        page.status(shown)
        respond_with_html(request, 200, page.render())
        return None

    return [
        Route("GET", "/public/report", Access.PUBLIC, form),
        Route("POST", "/public/report", Access.PUBLIC, submit),
        Route("GET", "/public/report/{ticket}", Access.PUBLIC, status),
    ]


class ReportPage:
    """The public report page: no scripts, nothing loaded from elsewhere, every value escaped."""

    def __init__(self, categories: list[ReportCategory], language: str, title_key: str = "title") -> None:
        self._categories = categories
        self.language = language
        self._title_key = title_key
        self._parts: list[str] = []

    def _t(self, key: str, **values: object) -> str:
        return html.escape(evidence_text(key, self.language, **values))

    def message(self, message: str, *, error: bool = False) -> None:
        css = "error" if error else "note"
        self._parts.append(f'<p class="{css}" role="{"alert" if error else "status"}">{html.escape(message)}</p>')

    def form(self, values: Mapping[str, str], *, error: str | None = None) -> None:
        """The form, refilled with what the person typed after a refusal."""
        if error:
            self.message(error, error=True)
        self._parts.append(f"<p>{self._t('intro')}</p>")
        chosen = values.get("category", "")
        options = "".join(
            f'<option value="{html.escape(c.id)}"{" selected" if c.id == chosen else ""}>'
            f"{html.escape(c.label)}</option>"
            for c in self._categories
        )
        target = values.get("code") or values.get("room_id") or ""
        self._parts.append(
            '<form method="post" action="report">'
            f'<input type="hidden" name="lang" value="{html.escape(self.language)}">'
            f'<label for="code">{self._t("field_code")}</label>'
            f'<input id="code" name="code" type="text" required maxlength="255" value="{html.escape(target)}">'
            f'<label for="category">{self._t("field_category")}</label>'
            f'<select id="category" name="category" required>{options}</select>'
            f'<label for="reason">{self._t("field_reason")}</label>'
            f'<textarea id="reason" name="reason" required rows="6" maxlength="{MAX_REASON_CHARS}">'
            f"{html.escape(values.get('reason', ''))}</textarea>"
            f'<label for="contact">{self._t("field_contact")}</label>'
            f'<input id="contact" name="contact" type="text" maxlength="{MAX_CONTACT_CHARS}"'
            f' value="{html.escape(values.get("contact", ""))}">'
            f'<button type="submit">{self._t("submit")}</button></form>'
            f'<p class="small">{self._t("also_12377")}</p>'
        )

    def filed(self, receipt: PublicReceipt) -> None:
        """The ticket number and the link to follow it."""
        self.message(
            evidence_text(
                "filed",
                self.language,
                ticket=receipt.ticket,
                category=receipt.category_label,
                deadline=receipt.deadline,
            )
        )
        link = (
            f"report/{quote(receipt.ticket, safe='')}?token={quote(receipt.token, safe='')}"
            f"&lang={quote(self.language, safe='')}"
        )
        self._parts.append(
            f'<p>{self._t("follow")}</p><p class="link"><a href="{html.escape(link)}">{html.escape(link)}</a></p>'
        )

    def status(self, shown: PublicTicketStatus) -> None:
        self.message(
            evidence_text(
                "status_line",
                self.language,
                ticket=shown.ticket,
                category=shown.category_label,
                status=shown.status_label,
            )
        )
        if shown.status in ("open", "in_review"):
            self._parts.append(f"<p>{self._t('deadline_line', deadline=shown.deadline)}</p>")

    def render(self) -> str:
        title = self._t(self._title_key)
        return (
            f'<!DOCTYPE html><html lang="{html.escape(self.language)}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="referrer" content="no-referrer">'
            f"<title>{title}</title><style>{_CSS}</style></head><body><main>"
            f"<h1>{title}</h1>" + "".join(self._parts) + "</main></body></html>"
        )


_CSS = (
    "body{font-family:system-ui,-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;margin:0;background:#f5f6f8}"
    "main{max-width:32rem;margin:0 auto;padding:1.25rem;background:#fff;min-height:100vh;box-sizing:border-box}"
    "h1{font-size:1.4rem}label{display:block;margin:.9rem 0 .3rem;font-weight:600}"
    "input,select,textarea{width:100%;box-sizing:border-box;padding:.7rem;font-size:1rem;"
    "border:1px solid #c5c9d0;border-radius:.4rem;font-family:inherit}"
    "button{margin-top:1.2rem;width:100%;padding:.8rem;font-size:1.05rem;"
    "background:#0b6bcb;color:#fff;border:0;border-radius:.4rem}"
    ".error{color:#a1260d;background:#fdecea;padding:.7rem;border-radius:.4rem}"
    ".note{background:#eaf3fd;padding:.7rem;border-radius:.4rem}"
    ".link{word-break:break-all}.small{font-size:.85rem;color:#555}"
)
