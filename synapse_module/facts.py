"""Gathers the facts the policy engine decides on, from Synapse and the module's tables.

Callbacks on hot paths (every message, every join) come through here, so
anything read per event must be cheap: cached, or one indexed query.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from policies import RoomFacts, UserFacts
from policies.decisions import user_level
from policies.federation import is_partner, server_of
from policies.timing import in_force

from .cache import InvalidatableCache
from .verification_chat import VERIFICATION_DM_KEY, bot_chat_owner

if TYPE_CHECKING:
    from .module import QunzuModule


class FactsSource:
    """Builds `UserFacts` and `RoomFacts` for the decision functions."""

    def __init__(self, module: QunzuModule) -> None:
        self._module = module
        # A room's create event never changes: a per-process cache needs no invalidation.
        self._creation: InvalidatableCache[str, tuple[dict[str, Any], str | None]] = InvalidatableCache(
            "qunzu_room_creation", self._load_creation
        )

    async def _load_creation(self, room_id: str) -> tuple[dict[str, Any], str | None]:
        """The create event's content and the bot chat owner it names (never changes)."""
        module = self._module
        state = await module.api.get_room_state(room_id, [("m.room.create", "")])
        event = state.get(("m.room.create", ""))
        if event is None:
            return {}, None
        content = dict(event.content)
        owner = bot_chat_owner(content, event.sender, module.config.service_account)
        if owner is True:
            owner = await module.store.notice_rooms.owner(room_id)
        return content, owner if isinstance(owner, str) else None

    async def is_exempt(self, user_id: str) -> bool:
        """The service account and server admins are not gated (DESIGN.md §3.1)."""
        module = self._module
        if user_id == module.config.service_account:
            return True
        return module.api.is_mine(user_id) and await module.api.is_user_admin(user_id)

    async def user(self, user_id: str) -> UserFacts:
        """What the engine needs to know about a user (cached; invalidated on every change)."""
        module = self._module
        policy = module.config.policy
        exempt = await self.is_exempt(user_id)
        if not module.api.is_mine(user_id):
            return await self._remote_user(user_id, exempt)
        record = await module.realname.gate.get(user_id)
        verified = record.status == "verified"
        # Art. 7, 11: credit (tied to the identity) and active measures, cached cluster-wide.
        sanctions = await module.sanctions.user_state(user_id)
        return UserFacts(
            user_id=user_id,
            exempt=exempt,
            verified=verified,
            verification_level=record.level,
            convention_accepted=record.convention_version == policy.convention.version,
            credit_score=sanctions.credit_score,
            rooms_owned=0,
            rooms_joined=0,
            blacklisted=in_force(record.blacklist_until, module.clock.now_ms()),
            muted_until_ms=sanctions.muted_until_ms,
            creation_revoked=sanctions.creation_revoked,
            admin_suspended=sanctions.admin_suspended,
        )

    async def _remote_user(self, user_id: str, exempt: bool) -> UserFacts:
        """People on other servers cannot be verified here; partner servers verify their own.

        Whether their server is admitted at all is decided before (policies/federation.py);
        a blacklist entry by user id binds them like anyone (Art. 11).
        """
        module = self._module
        policy = module.config.policy
        partner = is_partner(server_of(user_id), policy)
        record = await module.realname.gate.get(user_id)
        return UserFacts(
            user_id=user_id,
            exempt=exempt,
            verified=partner,
            verification_level=policy.realname.required_level if partner else 0,
            convention_accepted=partner,
            credit_score=policy.credit.initial if partner else None,
            rooms_owned=0,
            rooms_joined=0,
            blacklisted=in_force(record.blacklist_until, module.clock.now_ms()),
            muted_until_ms=None,
            creation_revoked=False,
            admin_suspended=False,
        )

    async def room(self, room_id: str, *, count_members: bool = False) -> RoomFacts:
        """What the engine needs to know about a room.

        Args:
            room_id: the room.
            count_members: read the exact joined-member count (invites, pages). Joins
                count inside their guarded transaction instead; posting needs no count,
                so ``member_count`` is 0 unless asked for.
        """
        facts = await self._module.groups.room_facts(room_id, count_members=count_members)
        # The bot chat must work before the registry has linked the room.
        creation, owner = await self._creation.get(room_id)
        # Art. 5 应急处置: an active freeze of the server, the category or the room (cached).
        frozen = await self._module.emergency.is_frozen(room_id, facts.category)
        # Art. 11: 暂停发布 and 关闭群组 (cached; measures end by themselves at their end time).
        measures = await self._module.sanctions.room_state(room_id)
        return dataclasses.replace(
            facts,
            verification_dm=creation.get(VERIFICATION_DM_KEY) is True,
            bot_chat_owner=owner,
            frozen=frozen,
            closed=facts.closed or measures.closed,
            posting_suspended_until_ms=measures.posting_suspended_until_ms,
        )

    def level_of(self, user: UserFacts) -> str:
        """The credit level of a user; an unverified account counts at the initial score."""
        return user_level(user, self._module.config.policy)
