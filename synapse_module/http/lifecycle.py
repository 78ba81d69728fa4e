"""`/groups/{code}/dissolve` and `/groups/{code}/transfer`: the owner's lifecycle tools (Art. 8, 9).

- `POST /groups/{code}/dissolve {"confirm"?, "actor"?}` — without `confirm` nothing
  changes: the answer names the code to confirm with (`{"dissolved": false, "code"}`);
  with `confirm` equal to the code the group is dissolved. Any other `confirm`: 400.
- `POST /groups/{code}/transfer {"user_id", "actor"?}` — hands the group to `user_id`.

The owner calls them with their own token; the bot calls them as the service account
for the owner who typed the command (`actor`); nobody else may name an actor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synapse.module_api import SynapseRequest
from synapse.module_api.errors import Codes, SynapseError

from policies.api import Dissolution, DissolveRequest, TransferRequest
from policies.codes import is_valid_code

from ..store.groups import GroupRecord
from .resource import Access, Caller, Route, answer, read_body

if TYPE_CHECKING:
    from ..groups import Groups
    from ..lifecycle import Lifecycle


def routes(*, service_account: str, groups: Groups, lifecycle: Lifecycle) -> list[Route]:
    async def lookup(code: str) -> GroupRecord:
        record = await groups.by_code(code) if is_valid_code(code) else None
        # A private chat is no group (DESIGN.md §6.2): there is nothing to dissolve or hand over.
        if record is None or record.room_id is None or record.private_chat or record.verification_dm:
            raise SynapseError(404, "No group has this code", Codes.NOT_FOUND)
        return record

    def actor_of(caller: Caller, named: str | None) -> str:
        assert caller.user_id is not None
        actor = named or caller.user_id
        if actor != caller.user_id and caller.user_id != service_account:
            raise SynapseError(403, "Only the service account may act for a group's owner", Codes.FORBIDDEN)
        if not actor.startswith("@"):
            raise SynapseError(400, "'actor' must be a user id", Codes.INVALID_PARAM)
        return actor

    async def dissolve(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        body = read_body(request, DissolveRequest, empty_ok=True)
        actor = actor_of(caller, body.actor)
        record = await lookup(params["code"])
        confirm = body.confirm
        if confirm is None:
            # The confirmation step: the owner must name the code (checked as the owner first).
            lifecycle.check_owner(actor, record)
            return 200, answer(Dissolution(code=record.code, dissolved=False))
        if confirm != record.code:
            raise SynapseError(400, "'confirm' must be the group's code", Codes.INVALID_PARAM)
        return 200, answer(await lifecycle.dissolve(actor, record))

    async def transfer(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        body = read_body(request, TransferRequest)
        actor = actor_of(caller, body.actor)
        target = body.user_id
        if not target.startswith("@") or ":" not in target:
            raise SynapseError(400, "'user_id' must be a user id", Codes.INVALID_PARAM)
        record = await lookup(params["code"])
        confirm = body.confirm
        if confirm is not None and confirm != record.code:
            raise SynapseError(400, "'confirm' must be the group's code", Codes.INVALID_PARAM)
        return 200, answer(await lifecycle.transfer(actor, record, target, confirmed=confirm is not None))

    return [
        Route("POST", "/groups/{code}/dissolve", Access.USER, dissolve),
        Route("POST", "/groups/{code}/transfer", Access.USER, transfer),
    ]
