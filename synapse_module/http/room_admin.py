"""`/admin/rooms/{room_id}/…`: room admins' tools, used by the bot for the admin (Art. 9).

- `POST /admin/rooms/{room_id}/moderate {actor, action, target?, duration?, reason?}`
  — `warn`, `mute`, `unmute`, `kick`, `ban`, `unban`, `approve` (invite after a
  knock), `announce`: the module checks the acting admin's role and measures,
  acts as the service account and records the actor. Only the service account
  may name another `actor`; staff calling directly act as themselves.
- `GET /convention` (public): the platform convention and the report categories
  (`!rules`, `!report`); a page for browsers.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synapse.module_api import SynapseRequest
from synapse.module_api.errors import Codes, SynapseError

from policies.api import Convention, ModerateRequest

from .resource import Access, Caller, Route, answer, page_document, page_language, read_body, respond_page, wants_html

if TYPE_CHECKING:
    from ..config import QunzuConfig
    from ..room_moderation import RoomModeration


def routes(*, config: QunzuConfig, room_moderation: RoomModeration) -> list[Route]:
    def room(params: Mapping[str, str]) -> str:
        room_id = params["room_id"]
        if not room_id.startswith("!"):
            raise SynapseError(400, "room_id must be a room id", Codes.INVALID_PARAM)
        return room_id

    async def moderate(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        assert caller.user_id is not None
        body = read_body(request, ModerateRequest)
        actor = body.actor or caller.user_id
        if actor != caller.user_id and caller.user_id != config.service_account:
            raise SynapseError(403, "Only the service account may act for a room admin", Codes.FORBIDDEN)
        if not actor.startswith("@"):
            raise SynapseError(400, "'actor' must be a user id", Codes.INVALID_PARAM)
        done = await room_moderation.moderate(
            actor, room(params), body.action, body.target, body.duration, body.reason or ""
        )
        return 200, answer(done)

    async def convention(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any] | None:
        # Art. 5, 12: what `!rules` shows and the categories `!report` offers, from the active policy;
        # public, so anyone can read the rules before signing up.
        policy = config.policy
        browser = wants_html(request)
        language = page_language(request, config.language) if browser else config.language
        body = next(
            (text for lang, text in policy.convention.text.items() if lang == language),
            next(iter(policy.convention.text.values())),
        )
        if browser:
            respond_page(request, 200, convention_page(policy.convention.version, body, language))
            return None
        categories = policy.reports.categories
        labels = {name: {str(lang): label for lang, label in c.labels.items()} for name, c in categories.items()}
        return 200, answer(
            Convention(version=policy.convention.version, text=body, report_categories=labels, language=language)
        )

    return [
        Route("GET", "/convention", Access.ANYONE, convention),
        Route("POST", "/admin/rooms/{room_id}/moderate", Access.STAFF, moderate),
    ]


def convention_page(version: str, body: str, language: str) -> str:
    """The platform convention as a web page (Art. 5)."""
    title = _CONVENTION_TITLE.get(language, _CONVENTION_TITLE["zh-CN"]).format(version=version)
    content = f'<h1>{html.escape(title)}</h1><div id="convention" class="text">{html.escape(body)}</div>'
    return page_document(title, content, language)


_CONVENTION_TITLE = {"zh-CN": "平台公约（第 {version} 版）", "en": "Platform convention (version {version})"}
