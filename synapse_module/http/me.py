"""`GET /me`: the caller's own status.

The service account (the bot) may ask on behalf of a user with `?user_id=`,
the usual Matrix convention for a trusted service; nobody else may.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synapse.module_api import SynapseRequest
from synapse.module_api.errors import Codes, SynapseError

from .resource import Access, Caller, Route, answer, query_str

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from ..account_status import AccountStatus


def routes(*, api: ModuleApi, service_account: str, account_status: AccountStatus) -> list[Route]:
    async def get_me(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        assert caller.user_id is not None
        subject = caller.user_id
        on_behalf = query_str(request, "user_id")
        if on_behalf is not None and on_behalf != caller.user_id:
            if caller.user_id != service_account:
                raise SynapseError(403, "Only the service account may ask for another user", Codes.FORBIDDEN)
            if not api.is_mine(on_behalf):
                raise SynapseError(400, "user_id must be a user of this server", Codes.INVALID_PARAM)
            subject = on_behalf
        return 200, answer(await account_status.of(subject))

    return [Route("GET", "/me", Access.USER, get_me)]
