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

from synapse.module_api.errors import Codes, SynapseError

from policies import PERMANENT, Reason, UserFacts
from policies.numbers import duration_seconds

from .cache import ClusterCache
from .errors import Refusal
from .report_texts import report_text
from .store.audit import AuditRecord

if TYPE_CHECKING:
    from .module import QunzuModule

logger = logging.getLogger(__name__)

#: Power level from which a member is a room admin (管理员), as on the info page.
ADMIN_LEVEL = 50
#: Marks a creator's (unbounded) power in room versions 12 and later.
CREATOR_POWER = 1 << 62
ACTIONS = ("warn", "mute", "unmute", "kick", "ban", "unban", "approve", "announce")
TARGETED = ("warn", "mute", "unmute", "kick", "ban", "unban", "approve")
MAX_REASON_CHARS = 1000

_NO_MUTE = -2  # cached "not muted" (None cannot be told from a cache miss by the reader)


@dataclasses.dataclass(frozen=True)
class RoomRole:
    """A user's role in a room: creator (群主), admin (管理员), member (成员) or none."""

    role: str
    power: int
    joined: bool

    @property
    def is_admin(self) -> bool:
        return self.role in ("creator", "admin")


class RoomModeration:
    """Room admins' actions and room-scoped mutes."""

    def __init__(self, module: QunzuModule) -> None:
        self._module = module
        self._api = module.api
        self._store = module.store.measures
        # (room, account) -> (the identity it was read for, end of the mute or _NO_MUTE).
        self._mutes: ClusterCache[tuple[str, str], tuple[str | None, int]] = ClusterCache(
            module.api, "qunzu_room_mutes", self._load_mute
        )

    async def _identity(self, user_id: str) -> str | None:
        """The fingerprint of the account's verified identity (cached by the real-name gate)."""
        if not self._api.is_mine(user_id):
            return None
        gate = await self._module.realname.gate.get(user_id)
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
            accounts.update(await self._module.store.identities.accounts_of(fingerprint))
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
        now = self._module.clock.now_ms()
        if end != PERMANENT and end <= now:
            return user
        current = user.muted_until_ms
        if current == PERMANENT or (current is not None and end != PERMANENT and current >= end):
            return user
        return dataclasses.replace(user, muted_until_ms=end)

    # -- roles --------------------------------------------------------------------------------

    async def role(self, room_id: str, user_id: str) -> RoomRole:
        """The user's role from the room's create event and power levels."""
        state = await self._api.get_room_state(
            room_id, [("m.room.create", ""), ("m.room.power_levels", ""), ("m.room.member", user_id)]
        )
        create = state.get(("m.room.create", ""))
        if create is None:
            raise SynapseError(404, "Unknown room", Codes.NOT_FOUND)
        member = state.get(("m.room.member", user_id))
        joined = member is not None and member.membership == "join"
        version = str(create.content.get("room_version", "1"))
        creators = {create.sender} | {c for c in create.content.get("additional_creators", []) if isinstance(c, str)}
        levels_event = state.get(("m.room.power_levels", ""))
        levels = levels_event.content if levels_event is not None else {}
        users = levels.get("users") or {}
        default = levels.get("users_default", 0)
        power = users.get(user_id, default if levels_event is not None else (100 if user_id == create.sender else 0))
        if not isinstance(power, int):
            power = 0
        # Room versions 12+ give creators unbounded power; older ones use their power level.
        if user_id in creators and ((version.isdigit() and int(version) >= 12) or power >= 100):
            return RoomRole("creator", CREATOR_POWER, joined)
        if user_id in creators:
            return RoomRole("creator", power, joined)
        if power >= ADMIN_LEVEL:
            return RoomRole("admin", power, joined)
        return RoomRole("member" if joined else "none", power, joined)

    async def role_view(self, room_id: str, user_id: str) -> dict[str, Any]:
        """What the bot needs to grant room-admin commands (`GET /admin/rooms/{room}/roles/{user}`)."""
        role = await self.role(room_id, user_id)
        state = await self._module.sanctions.user_state(user_id) if self._api.is_mine(user_id) else None
        return {
            "room_id": room_id,
            "user_id": user_id,
            "role": role.role,
            "admin": role.is_admin,
            "joined": role.joined,
            "admin_suspended": bool(state and state.admin_suspended),
            "admin_suspended_until": state.admin_suspended_until_ms if state else None,
            "staff": await self._module.is_staff(user_id),
        }

    # -- actions ------------------------------------------------------------------------------

    async def moderate(
        self, actor: str, room_id: str, action: str, target: str | None, duration: object, reason: str
    ) -> dict[str, Any]:
        """Act for a room admin.

        Raises:
            Refusal: admin_suspended (Art. 11) for an admin whose powers are suspended.
            SynapseError: 403 not an admin or a protected target; 400 bad input; 409 nothing to approve.
        """
        language = self._module.config.language
        if action not in ACTIONS:
            raise SynapseError(400, f"'action' must be one of {', '.join(ACTIONS)}", Codes.INVALID_PARAM)
        if len(reason) > MAX_REASON_CHARS:
            raise SynapseError(400, "'reason' is too long", Codes.INVALID_PARAM)
        actor_role = await self.role(room_id, actor)
        if not actor_role.is_admin:
            raise SynapseError(403, report_text("not_room_admin", language), Codes.FORBIDDEN)
        # Art. 11 暂停管理权限: the bot must not become a way around the suspension.
        state = await self._module.sanctions.user_state(actor)
        if state.admin_suspended:
            end = state.admin_suspended_until_ms
            permanent = end is None or end == PERMANENT
            raise Refusal(Reason.ADMIN_SUSPENDED, {"until": None if permanent else end, "permanent": permanent})
        # Art. 10: the service account publishes the reason in the room (kick, ban) in its own name,
        # where no callback sees it; it obeys the content rules like the admin's own message.
        if reason and not await self._module.facts.is_exempt(actor):
            refused = await self._module.content.check_text(actor, room_id, f"moderate.{action}", reason)
            if refused is not None and refused.reason is not None:
                raise Refusal(refused.reason, refused.detail)
        result: dict[str, Any] = {"room_id": room_id, "action": action, "actor": actor}
        if action in TARGETED:
            if not isinstance(target, str) or not target.startswith("@") or ":" not in target:
                raise SynapseError(400, "'target' must be a user id", Codes.INVALID_PARAM)
            target_role = await self.role(room_id, target)
            protected = target == self._module.config.service_account or (
                action not in ("approve", "unmute", "unban")
                and (target_role.role == "creator" or target_role.power >= actor_role.power)
            )
            if protected:
                raise SynapseError(403, report_text("target_protected", language), Codes.FORBIDDEN)
            result["target"] = target
        details: dict[str, Any] = {"target": target, "action": action}
        service = self._module.config.service_account
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
                    member = (await self._api.get_room_state(room_id, [("m.room.member", target)])).get(
                        ("m.room.member", target)
                    )
                    if member is None or member.membership != "knock":
                        raise SynapseError(409, report_text("not_knocking", language), Codes.UNKNOWN)
                membership = {"kick": "leave", "ban": "ban", "unban": "leave", "approve": "invite"}[action]
                content = {"reason": reason} if reason else {}
                await self._api.update_room_membership(service, target, room_id, membership, content)
            await self._module.store.audit.append(actor, f"room.{action}", room_id, details)
        return result

    @staticmethod
    def _mute_end_from(seconds: int | None, now_ms: int) -> int | None:
        return None if seconds is None else now_ms + seconds * 1000

    def _mute_end(self, duration: object, language: str) -> int | None:
        if duration is None:
            raise SynapseError(400, report_text("duration_required", language), Codes.INVALID_PARAM)
        # Bounded (ten years or perm): the end is a time every refusal text can show.
        seconds = duration_seconds(duration, "duration")
        return self._mute_end_from(seconds, self._module.clock.now_ms())
