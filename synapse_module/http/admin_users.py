"""Staff view of users' verification: masked status, audited reveal, manual decisions, form links."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synapse.module_api import SynapseRequest
from synapse.module_api.errors import Codes, SynapseError

from policies.api import RealnameLinkRequest, ReasonOnly

from ..texts import text
from .resource import Access, Caller, Route, answer, query_limit, read_body, required_reason

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from ..account_status import AccountStatus
    from ..realname import RealnameService


def routes(*, api: ModuleApi, language: str, realname: RealnameService, account_status: AccountStatus) -> list[Route]:

    def local_user(user_id: str) -> str:
        if not user_id.startswith("@") or not api.is_mine(user_id):
            raise SynapseError(400, text("not_local", language), Codes.INVALID_PARAM)
        return user_id

    async def status(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        user_id = local_user(params["user_id"])
        return 200, answer(await account_status.of(user_id))

    async def reveal(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        assert caller.user_id is not None
        reason = required_reason(read_body(request, ReasonOnly).model_dump(), language)
        return 200, answer(await realname.reveal(caller.user_id, local_user(params["user_id"]), reason))

    async def pending(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        limit = query_limit(request, maximum=500)
        return 200, answer(await realname.pending(limit))

    async def approve(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        assert caller.user_id is not None
        reason = read_body(request, ReasonOnly, empty_ok=True).reason
        view = await realname.decide(caller.user_id, local_user(params["user_id"]), True, reason)
        return 200, answer(view)

    async def reject(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        assert caller.user_id is not None
        reason = required_reason(read_body(request, ReasonOnly).model_dump(), language)
        return 200, answer(await realname.decide(caller.user_id, local_user(params["user_id"]), False, reason))

    async def link(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        user_id = read_body(request, RealnameLinkRequest).user_id
        return 200, answer(await realname.create_link(local_user(user_id)))

    return [
        Route("GET", "/admin/users/{user_id}", Access.STAFF, status),
        Route("POST", "/admin/users/{user_id}/reveal", Access.STAFF, reveal),
        Route("GET", "/admin/realname/pending", Access.STAFF, pending),
        Route("POST", "/admin/realname/{user_id}/approve", Access.STAFF, approve),
        Route("POST", "/admin/realname/{user_id}/reject", Access.STAFF, reject),
        Route("POST", "/admin/realname/links", Access.STAFF, link),
    ]
