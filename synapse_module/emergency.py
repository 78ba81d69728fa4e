"""Emergency handling (Art. 5 应急处置): freeze posting server-wide, by category or by room.

A freeze is a row in `qunzu_emergency`. Every process keeps the active freezes
in a `ClusterCache` (one key), which the freezing process invalidates through
Synapse's replication stream: the next message on any process is refused with
`emergency_freeze` within moments. The posting gate reads it through
`RoomFacts.frozen` (`facts.room`). Exempt accounts (server admins, the service
account) are not frozen: staff must be able to speak during an emergency.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .cache import ClusterCache
from .errors import InvalidInput
from .store.emergency import Freeze, NoticeTargets

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .clock import Clock
    from .config import QunzuConfig
    from .store.audit import AuditStore
    from .store.emergency import EmergencyStore

logger = logging.getLogger(__name__)

_ACTIVE_KEY = "active"
_ROOM_ID = re.compile(r"^![^\s/]{1,254}$")

_NOTICES = {
    "zh-CN": {
        "freeze": (
            "【平台应急处置】根据《互联网群组信息服务管理规定》，平台正在进行应急处置，"
            "本群暂停发言、加入和邀请成员。处置结束后将自动恢复。"
        ),
        "lift": "【平台应急处置】应急处置已结束，本群已恢复正常。",
    },
    "en": {
        "freeze": (
            "[Platform emergency] The platform is handling an emergency: posting, joining and inviting "
            "are paused in this room. They resume automatically afterwards."
        ),
        "lift": "[Platform emergency] The emergency is over; this room is back to normal.",
    },
}


class Emergency:
    """Freezes, lifts and the cached question `is_frozen(room, category)`."""

    def __init__(
        self,
        api: ModuleApi,
        clock: Clock,
        config: QunzuConfig,
        *,
        store: EmergencyStore,
        audit: AuditStore,
        link_pending: Callable[[], Awaitable[None]],
    ) -> None:
        """`link_pending` links rooms created a moment ago to their groups (`Groups.link_pending`)."""
        self._api = api
        self._clock = clock
        self._config = config
        self._store = store
        self._audit = audit
        self._link_pending = link_pending
        self._targets = NoticeTargets(api)
        self._active: ClusterCache[str, tuple[Freeze, ...]] = ClusterCache(api, "qunzu_emergency_active", self._load)

    async def _load(self, _key: str) -> tuple[Freeze, ...]:
        return tuple(await self._store.active())

    async def active(self) -> tuple[Freeze, ...]:
        return await self._active.get(_ACTIVE_KEY)

    async def is_frozen(self, room_id: str, category: str | None) -> bool:
        """Does an active freeze cover this room (read on every message; cached)?"""
        freezes = await self._active.get(_ACTIVE_KEY)
        if not freezes:
            return False
        scopes = {"all", f"room:{room_id}"}
        if category:
            scopes.add(f"category:{category}")
        return any(freeze.scope in scopes for freeze in freezes)

    def parse_scope(self, scope: Any) -> str:
        """`all`, `category:<known category>` or `room:<room id>`; anything else is a 400."""
        if isinstance(scope, str):
            text: str = scope.strip()
            kind, _, value = text.partition(":")
            if (
                text == "all"
                or (kind == "category" and value in self._config.policy.categories.known)
                or (kind == "room" and _ROOM_ID.match(value))
            ):
                return text
        known = ", ".join(sorted(self._config.policy.categories.known))
        raise InvalidInput(f"scope must be 'all', 'category:<category>' (one of {known}) or 'room:<room id>'")

    async def freeze(self, actor: str, scope: str, reason: str) -> Freeze:
        """Freeze `scope` now; audited; notices go out in the background."""
        freeze = Freeze(
            id=f"EM{secrets.token_hex(5).upper()}",
            scope=scope,
            reason=reason,
            actor=actor,
            created_ts=self._clock.now_ms(),
        )
        await self._store.add(freeze)
        await self._audit.append(actor, "emergency.freeze", scope, {"id": freeze.id, "reason": reason})
        await self._active.invalidate_everywhere(_ACTIVE_KEY)
        self._api.run_as_background_process("qunzu_emergency_notice", self._notify, scope, "freeze")
        return freeze

    async def lift(self, actor: str, freeze_id: str, reason: str) -> Freeze | None:
        """Lift an active freeze; None when there is none with this id."""
        freeze = await self._store.lift(freeze_id, actor, reason)
        if freeze is None:
            return None
        await self._audit.append(actor, "emergency.lift", freeze.scope, {"id": freeze.id, "reason": reason})
        await self._active.invalidate_everywhere(_ACTIVE_KEY)
        self._api.run_as_background_process("qunzu_emergency_notice", self._notify, freeze.scope, "lift")
        return freeze

    async def _notify(self, scope: str, which: str) -> None:
        """Tell the affected rooms (as the service account, which is exempt from the freeze)."""
        service = self._config.service_account
        kind, _, value = scope.partition(":")
        try:
            if kind == "room":
                rooms = [value]
            else:
                await self._link_pending()  # rooms created a moment ago count too
                rooms = await self._targets.rooms(service, value if kind == "category" else None)
        except Exception:
            logger.exception("qunzu: could not list the rooms to notify of an emergency %s", which)
            return
        body = _NOTICES.get(self._config.language, _NOTICES["zh-CN"])[which]
        sent = 0
        for room_id in rooms:
            if await self._send_notice(service, room_id, body):
                sent += 1
        logger.info("qunzu: emergency %s notice sent to %d of %d rooms", which, sent, len(rooms))

    async def _send_notice(self, service: str, room_id: str, body: str) -> bool:
        api = self._api
        event = {
            "type": "m.room.message",
            "room_id": room_id,
            "sender": service,
            "content": {"msgtype": "m.notice", "body": body, "cn.qunzu.emergency": True},
        }
        try:
            await api.create_and_send_event_into_room(event)
            return True
        except Exception:
            logger.debug("qunzu: the service account is not in a room to notify; trying to join it")
        try:
            # Invited (every governed room invites it) or a public room: join, then tell.
            await api.update_room_membership(service, service, room_id, "join")
            await api.create_and_send_event_into_room(event)
            return True
        except Exception:
            logger.warning("qunzu: could not post the emergency notice into a room (service account not there)")
            return False
