"""`/realname`, `/realname/form`, `/convention/accept`: verification by the user (Art. 5, 6).

Personal data stays out of Synapse's logs (PIPL, Art. 6). Synapse writes the
request line of every request to its log, redacting only the values of
`access_token` and `client_secret` (synapse/http/__init__.py `redact_uri`). So:

- the one-time form token travels as `client_secret` in the link the bot sends,
  and in the form's body (a hidden field) when the form is submitted;
- name, ID number and phone are read from the POST body only; a request that
  carries any of them in its query string is refused (resource.py) before
  anything is read or stored, and its logged request line is scrubbed.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from synapse.module_api import SynapseRequest
from synapse.module_api.errors import Codes, SynapseError

from policies import Reason
from policies.api import ConventionAccept, ConventionAccepted

from ..errors import Refusal, RequestError
from ..realname import TOKEN_PARAM
from ..refusals import client_error, refusal_error
from ..texts import text
from .resource import Access, Caller, Route, answer, json_body, query_str, read_body, respond_page

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from ..config import QunzuConfig
    from ..realname import RealnameService

IDENTITY_FIELDS = ("name", "id_number", "phone")
# A filled form is a few hundred bytes; anything much larger is not our form.
MAX_FORM_BYTES = 8192


def form_fields(request: SynapseRequest) -> dict[str, str]:
    """The fields of an `application/x-www-form-urlencoded` POST body, never the query string.

    Twisted's `request.args` merges the query string into the body's fields; the
    identity fields must come from the body alone (the query string is logged).
    """
    content = request.content
    if content is None:
        return {}
    content.seek(0)
    raw = content.read(MAX_FORM_BYTES + 1)
    if len(raw) > MAX_FORM_BYTES:
        raise SynapseError(413, "The form is too large", Codes.TOO_LARGE)
    try:
        parsed = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise SynapseError(400, "The form could not be read", Codes.BAD_JSON) from None
    return {key: values[0] for key, values in parsed.items() if values}


def routes(*, api: ModuleApi, config: QunzuConfig, realname: RealnameService) -> list[Route]:

    async def submit(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        assert caller.user_id is not None
        status, view = await realname.submit(caller.user_id, json_body(request))
        return status, answer(view)

    async def accept(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        assert caller.user_id is not None
        version = read_body(request, ConventionAccept).version
        # The bot accepts for the person who sent it `!accept` in their bot chat (as for `GET /me`).
        subject = caller.user_id
        on_behalf = query_str(request, "user_id")
        if on_behalf is not None and on_behalf != caller.user_id:
            if caller.user_id != config.service_account:
                raise SynapseError(403, "Only the service account may accept for another user", Codes.FORBIDDEN)
            if not api.is_mine(on_behalf):
                raise SynapseError(400, "user_id must be a user of this server", Codes.INVALID_PARAM)
            subject = on_behalf
        await realname.accept_convention(subject, version)
        return 200, answer(ConventionAccepted(accepted=version))

    async def form(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> None:
        page = FormPage(config, query_str(request, "lang"))
        token = query_str(request, TOKEN_PARAM)
        owner = await realname.link_owner(token) if token else None
        if not token:
            page.message(text("form_no_token", page.language, bot=config.service_account))
        elif owner is None:
            page.message(text("form_link_invalid", page.language), error=True)
        elif await realname.is_verified(owner):
            page.convention_form(token, owner)  # a new convention version for a verified account
        else:
            page.form(token, owner)
        respond_page(request, 200, page.render())

    async def form_submit(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> None:
        fields = form_fields(request)
        page = FormPage(config, fields.get("lang") or query_str(request, "lang"))
        token = fields.get(TOKEN_PARAM) or query_str(request, TOKEN_PARAM) or ""
        owner = await realname.link_owner(token) if token else None
        if owner is None:
            page.message(text("form_link_invalid", page.language), error=True)
            respond_page(request, 200, page.render())
            return
        if await realname.is_verified(owner):
            await _accept_only(page, token, owner, bool(fields.get("accept_convention")))
            respond_page(request, 200, page.render())
            return
        values = {name: fields.get(name, "") for name in IDENTITY_FIELDS}
        body: dict[str, Any] = {"name": values["name"], "id_number": values["id_number"]}
        if values["phone"].strip():
            body["phone"] = values["phone"]
        consent = bool(fields.get("accept_convention"))
        if consent:
            body["convention_version"] = config.policy.convention.version
        try:
            status, _view = await realname.submit(owner, body)
        except Refusal as refusal:
            message = refusal_error(refusal, config, page.language).msg
            field = refusal.detail.get("field")
            if refusal.reason is Reason.INVALID_IDENTITY and field in IDENTITY_FIELDS and "problem" in refusal.detail:
                assert isinstance(field, str)
                page.form(token, owner, field_error=(field, message), values=values, consent=consent)
            else:
                page.form(token, owner, error=message, values=values, consent=consent)
        except (SynapseError, RequestError) as exc:
            page.form(token, owner, error=client_error(exc).msg, values=values, consent=consent)
        else:
            await realname.use_link(token)
            page.message(text("form_verified" if status == 200 else "form_pending", page.language))
        respond_page(request, 200, page.render())

    async def _accept_only(page: FormPage, token: str, owner: str, consent: bool) -> None:
        """Art. 5: a verified person accepts the current convention; no identity is asked again."""
        version = config.policy.convention.version
        if not consent:
            page.convention_form(token, owner, error=text("form_convention_required", page.language))
            return
        await realname.accept_convention(owner, version)
        await realname.use_link(token)
        page.message(text("form_convention_accepted", page.language, version=version))

    return [
        Route("POST", "/realname", Access.USER, submit),
        Route("GET", "/realname/form", Access.PUBLIC, form),
        Route("POST", "/realname/form", Access.PUBLIC, form_submit),
        Route("POST", "/convention/accept", Access.USER, accept),
    ]


class FormPage:
    """The verification page: small, readable on a phone, no scripts, nothing loaded from elsewhere."""

    def __init__(self, config: QunzuConfig, language: str | None) -> None:
        self._config = config
        self.language = language if language in ("zh-CN", "en") else config.language
        self._parts: list[str] = []

    def message(self, message: str, *, error: bool = False) -> None:
        css = "error" if error else "note"
        self._parts.append(f'<p class="{css}">{html.escape(message)}</p>')

    def form(
        self,
        token: str,
        owner: str,
        *,
        error: str | None = None,
        field_error: tuple[str, str] | None = None,
        values: Mapping[str, str] | None = None,
        consent: bool = False,
    ) -> None:
        """The form, refilled with what the person typed after a refusal.

        Args:
            token: the one-time link token (a hidden field).
            owner: the account the link verifies.
            error: a refusal that concerns no single field, shown above the form.
            field_error: (field, message): the refused field, its message shown right below it.
            values: the fields as typed. The ID number is put back too: it is the person's own
                input on their own connection, the page is never cached (no-store) and never logged.
            consent: the convention box was ticked; it stays ticked.
        """
        values = values or {}
        t = self.language
        policy = self._config.policy
        texts = policy.convention.text
        convention = next((body for lang, body in texts.items() if lang == self.language), texts["zh-CN"])
        if error:
            self.message(error, error=True)

        def field(name: str, label: str, kind: str, extra: str = "") -> str:
            value = html.escape(values.get(name, ""))
            problem = ""
            if field_error is not None and field_error[0] == name:
                extra += f' aria-invalid="true" aria-describedby="{name}-error"'
                problem = f'<p class="error" id="{name}-error">{html.escape(field_error[1])}</p>'
            return (
                f'<label for="{name}">{html.escape(label)}</label>'
                f'<input id="{name}" name="{name}" type="{kind}" value="{value}" {extra}>{problem}'
            )

        # The person sees which account the link verifies before typing anything (Art. 6).
        self.message(text("form_account", t, user_id=owner))
        # The token and the language go in the body: the action URL, which Synapse logs, carries nothing.
        self._parts.append(
            '<form method="post" action="form">'
            + f'<input type="hidden" name="{TOKEN_PARAM}" value="{html.escape(token)}">'
            + f'<input type="hidden" name="lang" value="{html.escape(t)}">'
            + field("name", text("form_name", t), "text", 'required autocomplete="name" maxlength="30"')
            + field("id_number", text("form_id_number", t), "text", 'required inputmode="text" maxlength="18"')
            + field("phone", text("form_phone", t), "tel", 'inputmode="tel" maxlength="14"')
            + f"<details><summary>{html.escape(text('form_convention', t, version=policy.convention.version))}"
            + f"</summary><pre>{html.escape(convention)}</pre></details>"
            + '<label class="check"><input type="checkbox" name="accept_convention" value="1" required'
            + (" checked" if consent else "")
            + "> "
            + f"{html.escape(text('form_convention', t, version=policy.convention.version))}</label>"
            + f'<button type="submit">{html.escape(text("form_submit", t))}</button></form>'
        )

    def convention_form(self, token: str, owner: str, *, error: str | None = None) -> None:
        """Only the convention, for a verified account whose accepted version is outdated."""
        t = self.language
        policy = self._config.policy
        texts = policy.convention.text
        convention = next((body for lang, body in texts.items() if lang == t), texts["zh-CN"])
        if error:
            self.message(error, error=True)
        self.message(text("form_convention_only", t, user_id=owner))
        label = html.escape(text("form_convention", t, version=policy.convention.version))
        self._parts.append(
            '<form method="post" action="form">'
            + f'<input type="hidden" name="{TOKEN_PARAM}" value="{html.escape(token)}">'
            + f'<input type="hidden" name="lang" value="{html.escape(t)}">'
            + f"<pre>{html.escape(convention)}</pre>"
            + '<label class="check"><input type="checkbox" name="accept_convention" value="1" required> '
            + f"{label}</label>"
            + f'<button type="submit">{html.escape(text("form_convention_accept", t))}</button></form>'
        )

    def render(self) -> str:
        t = self.language
        title = html.escape(text("form_title", t))
        return (
            f'<!DOCTYPE html><html lang="{t}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="referrer" content="no-referrer">'
            f"<title>{title}</title><style>{_CSS}</style></head><body><main>"
            f"<h1>{title}</h1><p>{html.escape(text('form_intro', t))}</p>"
            + "".join(self._parts)
            + "</main></body></html>"
        )


_CSS = (
    "body{font-family:system-ui,-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;margin:0;background:#f5f6f8}"
    "main{max-width:32rem;margin:0 auto;padding:1.25rem;background:#fff;min-height:100vh}"
    "h1{font-size:1.4rem}label{display:block;margin:.9rem 0 .3rem;font-weight:600}"
    "input[type=text],input[type=tel]{width:100%;box-sizing:border-box;padding:.7rem;font-size:1rem;"
    "border:1px solid #c5c9d0;border-radius:.4rem}"
    "label.check{font-weight:400}button{margin-top:1.2rem;width:100%;padding:.8rem;font-size:1.05rem;"
    "background:#0b6bcb;color:#fff;border:0;border-radius:.4rem}"
    ".error{color:#a1260d;background:#fdecea;padding:.7rem;border-radius:.4rem}"
    ".note{background:#eaf3fd;padding:.7rem;border-radius:.4rem}pre{white-space:pre-wrap;font-size:.9rem}"
)
