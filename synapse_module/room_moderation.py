"""Room admins manage their rooms (Art. 9), through the bot, recorded by the module.

The bot asks the module to act for a room admin (`POST /admin/rooms/{room_id}/moderate`
with the acting admin); the module checks the admin's role from the room's
power levels and creators and the admin's measures (暂停管理权限, Art. 11),
acts as the service account, and writes the action with the acting admin to
the audit log.

A room admin's mute (禁言) is a posting ban in one room, not a power-level edit:
a `qunzu_sanctions` row with `subject_type = 'room_member'`, read in the
posting gate through a cluster-wide cache, so it holds when the bot is down
and costs one cached lookup per message. Like every sanction it binds the
person, not the account: the row carries the verified identity's fingerprint,
and the mute holds for every account of that identity in that room.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from policies import UserFacts, decisions
from policies.api import Moderation
from policies.constants import PERMANENT
from policies.numbers import duration_seconds
from policies.roles import RoomRole
from policies.timing import in_force

from .cache import ClusterCache
from .errors import Conflict, InvalidInput, NotPermitted, Refusal
from .report_texts import report_text
from .store.audit import AuditRecord

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .clock import Clock
    from .config import QunzuConfig
    from .content import ContentGuard
    from .facts import FactsSource
    from .invite_confirmation import InviteConfirmation
    from .room_mute_all import RoomMuteAll
    from .room_roles import RoomRoles
    from .sanctions.state import SanctionState
    from .store import QunzuStore
    from .store.identities import GateRecord

logger = logging.getLogger(__name__)

ACTIONS = ("warn", "mute", "unmute", "kick", "ban", "unban", "approve", "announce", "mute_all", "unmute_all")
TARGETED = ("warn", "mute", "unmute", "kick", "ban", "unban", "approve")
MAX_REASON_CHARS = 1000

_NO_MUTE = -2  # cached "not muted" (None cannot be told from a cache miss by the reader)


class RoomModeration:
    """Room admins' actions and room-scoped mutes."""

    def __init__(
        self,
        api: ModuleApi,
        clock: Clock,
        config: QunzuConfig,
        store: QunzuStore,
        *,
        gate: ClusterCache[str, GateRecord],
        roles: RoomRoles,
        facts: FactsSource,
        sanctions: SanctionState,
        content: ContentGuard,
        mute_all: RoomMuteAll,
        invite_confirmation: InviteConfirmation,
    ) -> None:
        """`gate` is the posting gate's cache of identity records (`RealnameService.gate`)."""
        self._api = api
        self._clock = clock
        self._config = config
        self._store = store.measures
        self._identities = store.identities
        self._audit = store.audit
        self._gate = gate
        self._roles = roles
        self._facts = facts
        self._sanctions = sanctions
        self._content = content
        self._mute_all = mute_all
        self._invite_confirmation = invite_confirmation
        # (room, account) -> (the identity it was read for, end of the mute or _NO_MUTE).
        self._mutes: ClusterCache[tuple[str, str], tuple[str | None, int]] = ClusterCache(
            api, "qunzu_room_mutes", self._load_mute
        )

    async def _identity(self, user_id: str) -> str | None:
        """The fingerprint of the account's verified identity (cached by the real-name gate)."""
        if not self._api.is_mine(user_id):
            return None
        gate = await self._gate.get(user_id)
        return gate.fingerprint if gate.status == "verified" else None

    async def _load_mute(self, key: tuple[str, str]) -> tuple[str | None, int]:
        room_id, user_id = key
        fingerprint = await self._identity(user_id)
        end = await self._store.room_mute_end(room_id, user_id, fingerprint)
        return fingerprint, _NO_MUTE if end is None else end

    async def invalidate_mute(self, room_id: str, user_id: str, fingerprint: str | None = None) -> None:
        """Drop the cached room mute in `room_id` of `user_id` and of every account of the identity, everywhere."""
        accounts = {user_id}
        if fingerprint is not None:
            accounts.update(await self._identities.accounts_of(fingerprint))
        for account in sorted(accounts):
            await self._mutes.invalidate_everywhere((room_id, account))

    # -- the posting gate (hot path) -------------------------------------------------------

    async def with_room_mute(self, user: UserFacts, room_id: str) -> UserFacts:
        """`user` with a room admin's active mute in `room_id` folded into `muted_until_ms`."""
        key = (room_id, user.user_id)
        fingerprint, end = await self._mutes.get(key)
        if user.verified and fingerprint != await self._identity(user.user_id):
            # Verified since the mute was read: the identity's mutes now bind this account too.
            self._mutes.invalidate((key,))
            fingerprint, end = await self._mutes.get(key)
        if end == _NO_MUTE:
            return user
        now = self._clock.now_ms()
        if not in_force(end, now):
            return user
        current = user.muted_until_ms
        if current == PERMANENT or (current is not None and end != PERMANENT and current >= end):
            return user
        return dataclasses.replace(user, muted_until_ms=end)

    # -- actions ------------------------------------------------------------------------------

    async def acting_admin(self, room_id: str, actor: str) -> RoomRole:
        """The actor's role, when they may act as the room's admin now.

        Raises:
            RequestError: 403 when the actor is not the room's creator or an admin.
            Refusal: ``decisions.may_moderate``'s reason (blacklisted, admin_suspended with its
                end, room_closed): the bot must not become a way around a measure (Art. 11).
        """
        role = await self._roles.role(room_id, actor)
        if not role.is_admin:
            raise NotPermitted(report_text("not_room_admin", self._config.language))
        user, room = await self._facts.user(actor), await self._facts.room(room_id)
        decision = decisions.may_moderate(user, room, self._config.policy)
        if not decision.allowed and decision.reason is not None:
            raise Refusal(decision.reason, decision.detail)
        return role

    async def moderate(
        self, actor: str, room_id: str, action: str, target: str | None, duration: object, reason: str
    ) -> Moderation:
        """Act for a room admin.

        Raises:
            Refusal: admin_suspended (Art. 11) for an admin whose powers are suspended.
            RequestError: 403 not an admin or a protected target; 400 bad input; 409 nothing to approve.
        """
        language = self._config.language
        if action not in ACTIONS:
            raise InvalidInput(f"'action' must be one of {', '.join(ACTIONS)}")
        if len(reason) > MAX_REASON_CHARS:
            raise InvalidInput("'reason' is too long")
        actor_role = await self.acting_admin(room_id, actor)
        # Art. 10: the service account publishes the reason in the room (kick, ban) in its own name,
        # where no callback sees it; it obeys the content rules like the admin's own message.
        if reason and not await self._facts.is_exempt(actor):
            refused = await self._content.check_text(actor, room_id, f"moderate.{action}", reason)
            if refused is not None and refused.reason is not None:
                raise Refusal(refused.reason, refused.detail)
        # What the action did; the answer carries exactly the fields set here.
        result: dict[str, object] = {"room_id": room_id, "action": action, "actor": actor}
        if action in TARGETED:
            if not isinstance(target, str) or not target.startswith("@") or ":" not in target:
                raise InvalidInput("'target' must be a user id")
            target_role = await self._roles.role(room_id, target)
            protected = target == self._config.service_account or (
                action not in ("approve", "unmute", "unban") and not actor_role.outranks(target_role)
            )
            if protected:
                raise NotPermitted(report_text("target_protected", language))
            result["target"] = target
        details: dict[str, Any] = {"target": target, "action": action}
        service = self._config.service_account
        if action == "mute":
            assert target is not None
            end = self._mute_end(duration, language)
            details["until"] = end
            audit = AuditRecord(actor, "room.mute", room_id, details)
            # Art. 9, 11: the mute binds the person behind the account (every account of the identity).
            fingerprint = await self._identity(target)
            result["id"] = await self._store.add_room_mute(room_id, target, fingerprint, actor, reason, end, audit)
            result["until"] = end
            await self.invalidate_mute(room_id, target, fingerprint)
        elif action == "mute_all":
            # Art. 9 全员禁言 (room_mute_all.py); absent duration: until an admin lifts it.
            started = await self._mute_all.start(actor, room_id, duration, reason)
            result.update(started.model_dump(exclude_unset=True))
        elif action == "unmute_all":
            lifted = await self._mute_all.lift(actor, room_id, reason)
            result.update(lifted.model_dump(exclude_unset=True))
        elif action == "unmute":
            assert target is not None
            audit = AuditRecord(actor, "room.unmute", room_id, details)
            fingerprint = await self._identity(target)
            result["lifted"] = await self._store.lift_room_mutes(room_id, target, fingerprint, actor, reason, audit)
            await self.invalidate_mute(room_id, target, fingerprint)
        else:
            if action in ("kick", "ban", "unban", "approve"):
                assert target is not None
                if action == "approve":
                    result["confirmed_invite"] = await self._approve(room_id, target, reason, language)
                else:
                    membership = {"kick": "leave", "ban": "ban", "unban": "leave"}[action]
                    content = {"reason": reason} if reason else {}
                    await self._api.update_room_membership(service, target, room_id, membership, content)
            await self._audit.append(actor, f"room.{action}", room_id, details)
        return Moderation.model_validate(result)

    async def _approve(self, room_id: str, target: str, reason: str, language: str) -> bool:
        """A knock is answered with an invite; a member's invite waiting for an admin is confirmed.

        Returns:
            True when a member's invite was confirmed (invite_confirmation.py), False for a knock.

        Raises:
            RequestError: 409 when the person neither knocks nor holds an invite waiting for an admin.
        """
        if await self._invite_confirmation.confirm(room_id, target):
            return True
        member = (await self._api.get_room_state(room_id, [("m.room.member", target)])).get(("m.room.member", target))
        if member is None or member.membership != "knock":
            raise Conflict(report_text("not_knocking", language))
        content = {"reason": reason} if reason else {}
        await self._api.update_room_membership(self._config.service_account, target, room_id, "invite", content)
        return False

    @staticmethod
    def _mute_end_from(seconds: int | None, now_ms: int) -> int | None:
        return None if seconds is None else now_ms + seconds * 1000

    def _mute_end(self, duration: object, language: str) -> int | None:
        if duration is None:
            raise InvalidInput(report_text("duration_required", language))
        # Bounded (ten years or perm): the end is a time every refusal text can show.
        seconds = duration_seconds(duration, "duration")
        return self._mute_end_from(seconds, self._clock.now_ms())
