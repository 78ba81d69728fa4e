"""Notices in group rooms: a welcome for new members, and role changes (Art. 8, 9).

- Welcome: the room's group code, category and rules (the room topic), and how
  to report — in governed rooms only (those with ``cn.qunzu.group``), never in
  direct chats or the moderation room. No identity data: the user id only. A
  newcomer who may not post yet (not verified, or the current convention not
  accepted: ``GET /me`` on their behalf) is told to verify in a direct message
  with the bot instead of being told to send commands the room would refuse.
- Role labels: when power levels change, each member who became an admin
  (``policies.roles``: power ≥ 50, not a creator) or stopped being one is announced with the label (管理员 / 成员);
  the creator's label never changes (Art. 8 群主、管理员、成员 labels).
"""

from __future__ import annotations

import logging
from typing import Any

from bot.errors import QunzuApiError
from bot.events import RoomEvent
from bot.messages import t
from bot.services import Services
from policies.constants import Language
from policies.roles import room_admins

logger = logging.getLogger(__name__)

# Create-event keys the module puts on its direct chats (synapse_module/notices.py, verification_chat.py).
_NOTICE_CHAT = "cn.qunzu.notices"
_VERIFICATION_CHAT = "cn.qunzu.verification_dm"


class RoomNotices:
    """Reacts to joins and power-level changes delivered by the sync loop."""

    def __init__(self, services: Services, language: Language, direct_rooms: set[str]) -> None:
        self._services = services
        self._language = language
        self._direct_rooms = direct_rooms

    async def __call__(self, event: RoomEvent) -> None:
        if event.room_id in self._direct_rooms or event.room_id == self._services.moderation_room_id:
            return
        group = await self._services.group_state(event.room_id)
        if group is None or group.get("private_chat") is True:
            return  # not a governed group, or a private chat (no code, no welcome: DESIGN.md §6.2)
        create = await self._services.client.get_state_event(event.room_id, "m.room.create")
        content = (create or {}).get("content") or {}
        if content.get(_NOTICE_CHAT) or content.get(_VERIFICATION_CHAT) or event.room_id in self._direct_rooms:
            return  # the module's notice chats and verification chats are private conversations
        if event.kind == "member_join":
            await self._welcome(event, group)
        elif event.kind == "power_levels":
            await self._roles(event, (create or {}).get("sender"), content)

    async def _welcome(self, event: RoomEvent, group: dict[str, Any]) -> None:
        code = str(group.get("code"))
        category = str(group.get("category", ""))
        try:
            page = await self._services.api.group(code, self._language)
            category = page.category_label or category
        except QunzuApiError as exc:
            logger.info("group info for a welcome unavailable: %s", exc)
        topic = await self._services.client.get_state_event(event.room_id, "m.room.topic")
        rules = str(((topic or {}).get("content") or {}).get("topic") or "").strip() or t("rules_none", self._language)
        key = "welcome" if await self._may_post(event.state_key) else "welcome_unverified"
        bot = self._services.client.user_id
        text = t(key, self._language, user=event.state_key, code=code, category=category, rules=rules, bot=bot)
        await self._services.send(event.room_id, text)

    async def _may_post(self, user_id: str | None) -> bool:
        """Whether the newcomer has what posting needs (a verified real name, the current convention).

        When the module cannot say, the welcome points to the direct chat, which works for everyone.
        """
        if user_id is None:
            return False
        try:
            status = await self._services.api.me(as_user=user_id)
        except QunzuApiError as exc:
            logger.info("a newcomer's status for the welcome unavailable: %s", exc)
            return False
        if status.exempt:
            return True
        verified = status.verification is not None and status.verification.status == "verified"
        accepted = status.convention is not None and status.convention.accepted
        return verified and accepted

    async def _roles(self, event: RoomEvent, create_sender: str | None, create_content: dict[str, Any]) -> None:
        if event.prev_content is None:
            return  # the room's first power levels: nobody's role changed
        before = set(room_admins(create_sender, create_content, event.prev_content))
        after = set(room_admins(create_sender, create_content, event.content))
        bot = self._services.client.user_id
        for user in sorted(after - before - {bot}):
            await self._services.send(event.room_id, t("role_admin", self._language, user=user))
        for user in sorted(before - after - {bot}):
            await self._services.send(event.room_id, t("role_member", self._language, user=user))
