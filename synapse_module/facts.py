"""Gathers the facts the policy engine decides on, from Synapse and the module's tables.

Callbacks on hot paths (every message, every join) come through here, so
anything read per event must be cheap: cached, or one indexed query.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Protocol

from policies import RoomFacts, UserFacts
from policies.decisions import user_level
from policies.federation import is_partner, server_of
from policies.timing import in_force

from .cache import InvalidatableCache
from .verification_chat import VERIFICATION_DM_KEY, bot_chat_owner

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .cache import ClusterCache
    from .clock import Clock
    from .config import QunzuConfig
    from .sanctions.state import SanctionState
    from .store.identities import GateRecord
    from .store.notice_rooms import NoticeRoomStore


class RoomRegistry(Protocol):
    """The group registry's part of a room's facts (`Groups.room_facts`)."""

    async def room_facts(self, room_id: str, *, count_members: bool = False) -> RoomFacts: ...


class Freezes(Protocol):
    """Whether an emergency freeze covers a room (`Emergency.is_frozen`)."""

    async def is_frozen(self, room_id: str, category: str | None) -> bool: ...


class FactsSource:
    """Builds `UserFacts` and `RoomFacts` for the decision functions."""

    def __init__(
        self,
        api: ModuleApi,
        clock: Clock,
        config: QunzuConfig,
        *,
        gate: ClusterCache[str, GateRecord],
        sanctions: SanctionState,
        notice_rooms: NoticeRoomStore,
    ) -> None:
        """`gate` is the posting gate's cache of identity records (`RealnameService.gate`)."""
        self._api = api
        self._clock = clock
        self._config = config
        self._gate = gate
        self._sanctions = sanctions
        self._notice_rooms = notice_rooms
        self._registry: RoomRegistry | None = None
        self._freezes: Freezes | None = None
        # A room's create event never changes: a per-process cache needs no invalidation.
        self._creation: InvalidatableCache[str, tuple[dict[str, Any], str | None]] = InvalidatableCache(
            "qunzu_room_creation", self._load_creation
        )

    async def _load_creation(self, room_id: str) -> tuple[dict[str, Any], str | None]:
        """The create event's content and the bot chat owner it names (never changes)."""
        state = await self._api.get_room_state(room_id, [("m.room.create", "")])
        event = state.get(("m.room.create", ""))
        if event is None:
            return {}, None
        content = dict(event.content)
        owner = bot_chat_owner(content, event.sender, self._config.service_account)
        if owner is True:
            owner = await self._notice_rooms.owner(room_id)
        return content, owner if isinstance(owner, str) else None

    def read_rooms_from(self, registry: RoomRegistry, freezes: Freezes) -> None:
        """Complete the room facts with the registry and the freezes, once they are built.

        The registry asks these facts about a group's owner, so it cannot be built before them.
        """
        self._registry = registry
        self._freezes = freezes

    async def is_exempt(self, user_id: str) -> bool:
        """The service account and server admins are not gated (DESIGN.md §3.1)."""
        if user_id == self._config.service_account:
            return True
        return self._api.is_mine(user_id) and await self._api.is_user_admin(user_id)

    async def user(self, user_id: str) -> UserFacts:
        """What the engine needs to know about a user (cached; invalidated on every change)."""
        policy = self._config.policy
        exempt = await self.is_exempt(user_id)
        if not self._api.is_mine(user_id):
            return await self._remote_user(user_id, exempt)
        # Art. 7, 11: credit (tied to the identity) and active measures, cached cluster-wide. Read
        # first: for an account not cached yet, that one read brings its gate record too.
        sanctions = await self._sanctions.user_state(user_id)
        record = await self._gate.get(user_id)
        verified = record.status == "verified"
        return UserFacts(
            user_id=user_id,
            exempt=exempt,
            verified=verified,
            verification_level=record.level,
            convention_accepted=record.convention_version == policy.convention.version,
            credit_score=sanctions.credit_score,
            rooms_owned=0,
            rooms_joined=0,
            blacklisted=in_force(record.blacklist_until, self._clock.now_ms()),
            muted_until_ms=sanctions.muted_until_ms,
            creation_revoked=sanctions.creation_revoked,
            admin_suspended=sanctions.admin_suspended,
            creation_revoked_until_ms=sanctions.creation_revoked_until_ms,
            blacklisted_until_ms=record.blacklist_until,
            admin_suspended_until_ms=sanctions.admin_suspended_until_ms,
        )

    async def _remote_user(self, user_id: str, exempt: bool) -> UserFacts:
        """People on other servers cannot be verified here; partner servers verify their own.

        Whether their server is admitted at all is decided before (policies/federation.py);
        a blacklist entry by user id binds them like anyone (Art. 11).
        """
        policy = self._config.policy
        partner = is_partner(server_of(user_id), policy)
        record = await self._gate.get(user_id)
        return UserFacts(
            user_id=user_id,
            exempt=exempt,
            verified=partner,
            verification_level=policy.realname.required_level if partner else 0,
            convention_accepted=partner,
            credit_score=policy.credit.initial if partner else None,
            rooms_owned=0,
            rooms_joined=0,
            blacklisted=in_force(record.blacklist_until, self._clock.now_ms()),
            muted_until_ms=None,
            creation_revoked=False,
            admin_suspended=False,
            blacklisted_until_ms=record.blacklist_until,
        )

    async def room(self, room_id: str, *, count_members: bool = False) -> RoomFacts:
        """What the engine needs to know about a room.

        Args:
            room_id: the room.
            count_members: read the exact joined-member count (invites, pages). Joins
                count inside their guarded transaction instead; posting needs no count,
                so ``member_count`` is 0 unless asked for.
        """
        assert self._registry is not None and self._freezes is not None, "read_rooms_from was not called"
        facts = await self._registry.room_facts(room_id, count_members=count_members)
        # The bot chat must work before the registry has linked the room.
        creation, owner = await self._creation.get(room_id)
        # Art. 5 应急处置: an active freeze of the server, the category or the room (cached).
        frozen = await self._freezes.is_frozen(room_id, facts.category)
        # Art. 11: 暂停发布 and 关闭群组 (cached; measures end by themselves at their end time).
        measures = await self._sanctions.room_state(room_id)
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
        return user_level(user, self._config.policy)
