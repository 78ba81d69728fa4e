"""`/admin/rooms/{room_id}/…`: room admins' tools, used by the bot for the admin (Art. 9).

- `POST /admin/rooms/{room_id}/moderate {actor, action, target?, duration?, reason?}`
  — `warn`, `mute`, `unmute`, `kick`, `ban`, `unban`, `approve` (invite after a
  knock), `announce`: the module checks the acting admin's role and measures,
  acts as the service account and records the actor. Only the service account
  may name another `actor`; staff calling directly act as themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synapse.module_api import SynapseRequest
from synapse.module_api.errors import Codes, SynapseError

from .resource import Access, Caller, Route, json_body

if TYPE_CHECKING:
    from ..module import QunzuModule


def routes(module: QunzuModule) -> list[Route]:
    def room(params: Mapping[str, str]) -> str:
        room_id = params["room_id"]
        if not room_id.startswith("!"):
            raise SynapseError(400, "room_id must be a room id", Codes.INVALID_PARAM)
        return room_id

    async def moderate(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        assert caller.user_id is not None
        body = json_body(request)
        actor = body.get("actor", caller.user_id)
        if actor != caller.user_id and caller.user_id != module.config.service_account:
            raise SynapseError(403, "Only the service account may act for a room admin", Codes.FORBIDDEN)
        if not isinstance(actor, str) or not actor.startswith("@"):
            raise SynapseError(400, "'actor' must be a user id", Codes.INVALID_PARAM)
        action = body.get("action")
        if not isinstance(action, str):
            raise SynapseError(400, "'action' must be a string", Codes.BAD_JSON)
        target = body.get("target")
        reason = body.get("reason") or ""
        if not isinstance(reason, str):
            raise SynapseError(400, "'reason' must be text", Codes.BAD_JSON)
        return 200, await module.room_moderation.moderate(
            actor, room(params), action, target if isinstance(target, str) else None, body.get("duration"), reason
        )

    async def convention(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        # Art. 5, 12: what `!rules` shows and the categories `!report` offers, from the active policy.
        policy = module.config.policy
        language = module.config.language
        labels = {name: dict(c.labels) for name, c in policy.reports.categories.items()}
        return 200, {
            "version": policy.convention.version,
            "text": next(
                (text for lang, text in policy.convention.text.items() if lang == language),
                next(iter(policy.convention.text.values())),
            ),
            "report_categories": labels,
            "language": language,
        }

    return [
        Route("GET", "/convention", Access.USER, convention),
        Route("POST", "/admin/rooms/{room_id}/moderate", Access.STAFF, moderate),
    ]
