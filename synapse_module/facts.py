"""Gathers the facts the policy engine decides on, from Synapse and the module's tables.

Callbacks on hot paths (every message, every join) come through here, so
anything read per event must be cheap: cached, or one indexed query.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from policies import RoomFacts, UserFacts

if TYPE_CHECKING:
    from .module import QunzuModule


class FactsSource:
    """Builds `UserFacts` and `RoomFacts` for the decision functions."""

    def __init__(self, module: QunzuModule) -> None:
        self._module = module

    async def is_exempt(self, user_id: str) -> bool:
        """The service account and server admins are not gated (DESIGN.md §3.1)."""
        module = self._module
        if user_id == module.config.service_account:
            return True
        return module.api.is_mine(user_id) and await module.api.is_user_admin(user_id)

    async def user(self, user_id: str) -> UserFacts:
        """What the engine needs to know about a user."""
        exempt = await self.is_exempt(user_id)
        policy = self._module.config.policy
        # Identity, credit and sanctions are read from their tables as those
        # features land; until then every account counts as a fresh one.
        return UserFacts(
            user_id=user_id,
            exempt=exempt,
            verified=True,
            verification_level=1,
            convention_accepted=True,
            credit_score=policy.credit.initial,
            rooms_owned=0,
            rooms_joined=0,
            blacklisted=False,
            muted_until_ms=None,
            creation_revoked=False,
            admin_suspended=False,
        )

    async def room(self, room_id: str) -> RoomFacts:
        """What the engine needs to know about a room."""
        policy = self._module.config.policy
        return RoomFacts(
            room_id=room_id,
            category=policy.categories.default_category,
            member_count=0,
            tier=policy.scale_tiers.tiers[0].name,
            closed=False,
            posting_suspended_until_ms=None,
            frozen=False,
            join_rule="invite",
            owner_level=None,
        )
