"""Thin adapters between Synapse's callbacks and the policy engine.

Each adapter gathers facts, asks `policies.decisions`, and turns the
`Decision` into what Synapse expects. Refusals of local users are raised as
`SynapseError` so the client sees our text in the configured language and the
`cn.qunzu.reason` field; remote events get the `(Codes, dict)` form, which
soft-fails them. Unexpected errors are caught here, logged, and fail closed
where the law requires a check (posting, creating, inviting) and open where it
does not (joining stays possible if the module has a fault).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal, ParamSpec

from synapse.module_api import NOT_SPAM, EventBase, Requester
from synapse.module_api.errors import Codes, SynapseError

from policies import Decision, Reason, decisions

from .errors import Refusal
from .refusals import refusal_error, refusal_fields
from .texts import text
from .verification_chat import VERIFICATION_DM_KEY, mark_verification_dm

if TYPE_CHECKING:
    from .module import QunzuModule

logger = logging.getLogger(__name__)

SpamResult = Literal["NOT_SPAM"] | tuple[Codes, dict[str, Any]]
P = ParamSpec("P")
Adapter = Callable[P, Awaitable[SpamResult]]


def boundary(*, fail_closed: bool) -> Callable[[Adapter[P]], Adapter[P]]:
    """Catch what escapes an adapter: log it, then refuse (fail closed) or allow."""

    def wrap(func: Adapter[P]) -> Adapter[P]:
        @functools.wraps(func)
        async def adapter(*args: P.args, **kwargs: P.kwargs) -> SpamResult:
            try:
                return await func(*args, **kwargs)
            except SynapseError:
                raise
            except Exception:
                logger.exception("qunzu: %s failed; %s", func.__name__, "refusing" if fail_closed else "allowing")
                if not fail_closed:
                    return NOT_SPAM
                callbacks = args[0]
                assert isinstance(callbacks, Callbacks)
                raise callbacks.unavailable() from None

        return adapter

    return wrap


_REALNAME_REASONS = (Reason.REALNAME_REQUIRED, Reason.REALNAME_LEVEL_INSUFFICIENT, Reason.CONVENTION_NOT_ACCEPTED)


class Callbacks:
    """The module's spam-checker and third-party-rules callbacks."""

    def __init__(self, module: QunzuModule) -> None:
        self._module = module
        self._api = module.api
        self._policy = module.config.policy

    def unavailable(self) -> SynapseError:
        message = text("unavailable", self._module.config.language)
        return SynapseError(403, message, Codes.FORBIDDEN, additional_fields={"cn.qunzu.detail": {"retry": True}})

    def _answer(self, decision: Decision, *, local: bool) -> SpamResult:
        if decision.allowed or decision.reason is None:
            return NOT_SPAM
        detail = dict(decision.detail)
        if decision.reason in _REALNAME_REASONS:
            # Tell the person where to verify (DESIGN.md §3.3).
            detail.update(form_url=self._module.realname.form_url, command="!verify")
        refusal = Refusal(decision.reason, detail)
        if local:
            raise refusal_error(refusal, self._module.config)
        return Codes.FORBIDDEN, refusal_fields(refusal)

    @boundary(fail_closed=True)
    async def check_event_for_spam(self, event: EventBase) -> SpamResult:
        await self._module.ready()
        user = await self._module.facts.user(event.sender)
        if user.exempt:
            return NOT_SPAM
        room = await self._module.facts.room(event.room_id)
        is_message = event.type == "m.room.message" and not event.is_state()
        decision = decisions.may_post(user, room, self._module.clock.now_ms(), self._policy, is_message=is_message)
        return self._answer(decision, local=self._api.is_mine(event.sender))

    @boundary(fail_closed=False)
    async def user_may_join_room(self, user_id: str, room_id: str, is_invited: bool) -> SpamResult:
        await self._module.ready()
        user = await self._module.facts.user(user_id)
        if user.exempt:
            return NOT_SPAM
        room = await self._module.facts.room(room_id)
        decision = decisions.may_join(user, room, is_invited, self._module.clock.now_ms(), self._policy)
        return self._answer(decision, local=True)

    @boundary(fail_closed=True)
    async def user_may_invite(self, inviter: str, invitee: str, room_id: str) -> SpamResult:
        if invitee == self._module.config.service_account:
            return NOT_SPAM  # the bot may always be invited: it is how people reach it
        await self._module.ready()
        user = await self._module.facts.user(inviter)
        if user.exempt:
            return NOT_SPAM
        room = await self._module.facts.room(room_id)
        return self._answer(decisions.may_invite(user, room, self._policy), local=True)

    @boundary(fail_closed=True)
    async def user_may_create_room(self, user_id: str, request_content: dict[str, Any]) -> SpamResult:
        await self._module.ready()
        user = await self._module.facts.user(user_id)
        if user.exempt:
            return NOT_SPAM
        creation = request_content.get("creation_content") or {}
        if creation.get(VERIFICATION_DM_KEY) is True:
            return self._answer(decisions.may_open_verification_chat(user), local=True)
        category = creation.get("cn.qunzu.category", self._policy.categories.default_category)
        if not isinstance(category, str):
            category = ""
        return self._answer(decisions.may_create(user, category, self._policy), local=True)

    async def on_user_deactivation_status_changed(self, user_id: str, deactivated: bool, by_admin: bool) -> None:
        """A deactivated account frees its place under the identity; records stay (Art. 13)."""
        if not deactivated or not self._api.is_mine(user_id):
            return
        try:
            await self._module.ready()
            await self._module.realname.deactivated(user_id)
        except Exception:
            logger.exception("qunzu: recording the deactivation of an account failed")

    async def on_create_room(self, requester: Requester, config: dict[str, Any], is_requester_admin: bool) -> None:
        """Shape the creation request before Synapse validates it (it is the real request dict)."""
        mark_verification_dm(config, self._module.config.service_account)
