"""The module's own state in governed rooms: the group event, the server ACL, the join rule, the service's power.

The service account writes these (Art. 6, 7, 8); where it cannot yet (invited at
creation and not joined, or not yet given its power), it first takes what the
room's creator granted it. A write the module makes as another member (an
upgrade's group event as the upgrader, a backfilled room's state as its creator)
is marked as its own while it is sent, so the protected-state check lets exactly
that one pass.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from synapse.module_api import EventBase
from synapse.module_api.errors import SynapseError

from policies.constants import GROUP_STATE_TYPE, SERVER_ACL_STATE_TYPE
from policies.federation import acl_matches_policy, server_acl_content
from policies.roles import room_creators

from .store.groups import GroupRecord

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .config import QunzuConfig

logger = logging.getLogger(__name__)

# Rounds of sending a group event while its record keeps changing (each racing change costs one more).
_ALIGN_ATTEMPTS = 3


def group_content(record: GroupRecord) -> dict[str, Any]:
    """The content of the `cn.qunzu.group` state event (DESIGN.md §3.2); a private chat is marked (§6.2)."""
    content = {
        "code": record.code,
        "category": record.category,
        "tier": record.scale_tier,
        "activity_tier": record.activity_tier,
        "created_at": record.created_ts,
    }
    return {**content, "private_chat": True} if record.private_chat else content


class GroupState:
    """Writes the group event, the server ACL and the join rule into rooms; gives the service account power."""

    def __init__(self, api: ModuleApi, config: QunzuConfig) -> None:
        self._api = api
        self._config = config
        self._policy = config.policy
        # (room_id, code) of group events, and (room_id, ACL type) of ACLs, the module itself is
        # about to send as another member (upgrades, backfill).
        self._own_writes: set[tuple[str, str]] = set()

    @property
    def service_account(self) -> str:
        return self._config.service_account

    def is_own_write(self, event: EventBase) -> bool:
        """A group event or server ACL the module itself is sending as a room's creator or upgrader right now."""
        if event.type == SERVER_ACL_STATE_TYPE:
            return (event.room_id, SERVER_ACL_STATE_TYPE) in self._own_writes
        return (
            event.type == GROUP_STATE_TYPE and (event.room_id, str(event.content.get("code", ""))) in self._own_writes
        )

    def server_acl(self) -> dict[str, Any]:
        """The `m.room.server_acl` content the policy asks of every governed room."""
        return server_acl_content(self._api.server_name, self._policy)

    async def send_group_state(self, record: GroupRecord) -> None:
        """Send the group event of `record` into its room as the service account."""
        assert record.room_id is not None
        await self.send_as_service(record.room_id, GROUP_STATE_TYPE, group_content(record))

    async def ensure_group_state(self, record: GroupRecord) -> bool:
        """Send the group event as the service account unless the room's one is the registry's.

        Returns:
            Whether it was sent.
        """
        assert record.room_id is not None
        state = await self._api.get_room_state(record.room_id, [(GROUP_STATE_TYPE, "")])
        current = state.get((GROUP_STATE_TYPE, ""))
        if current is not None and dict(current.content) == group_content(record):
            return False
        await self.send_group_state(record)
        return True

    async def align_group_state(self, room_id: str, current: Callable[[], Awaitable[GroupRecord | None]]) -> None:
        """Make the room's group event the registry's record, without undoing a change made meanwhile.

        Whoever changes a group writes the registry first and sends the event after; two of
        them (a change and the federation sweep's restore, or two changes) can overlap so that
        the older record is sent last. The registry is read again after each send, and while
        it moved, its newer record is sent in turn.

        Args:
            room_id: The group's room.
            current: Reads the registry's record of the room as it is now.
        """
        for _attempt in range(_ALIGN_ATTEMPTS):
            record = await current()
            if record is None or not await self.ensure_group_state(record):
                return
            if await current() == record:
                return
        logger.warning("qunzu: the group event of %s kept changing while sent; the next change resends it", room_id)

    async def ensure_server_acl(self, room_id: str) -> bool:
        """Send the policy's ACL into the room as the service account unless it is there already.

        Returns:
            Whether an ACL was sent.
        """
        state = await self._api.get_room_state(room_id, [(SERVER_ACL_STATE_TYPE, "")])
        current = state.get((SERVER_ACL_STATE_TYPE, ""))
        if current is not None and acl_matches_policy(current.content, self._api.server_name, self._policy):
            return False
        await self.send_as_service(room_id, SERVER_ACL_STATE_TYPE, self.server_acl())
        return True

    async def ensure_knock(self, room_id: str) -> None:
        """Art. 8 join verification: a public room that needs approval is switched to knocking."""
        state = await self._api.get_room_state(room_id, [("m.room.join_rules", "")])
        rules = state.get(("m.room.join_rules", ""))
        if rules is not None and rules.content.get("join_rule") == "public":
            await self.send_as_service(room_id, "m.room.join_rules", {"join_rule": "knock"})

    async def send_as_service(self, room_id: str, event_type: str, content: Mapping[str, Any]) -> None:
        """Send a state event as the service account; a refusal is logged, not raised."""
        event = {
            "type": event_type,
            "state_key": "",
            "room_id": room_id,
            "sender": self.service_account,
            "content": dict(content),
        }
        try:
            try:
                await self._api.create_and_send_event_into_room(event)
            except SynapseError as exc:
                if exc.code != 403:
                    raise
                # Invited at creation but not joined yet, or not yet given its power by the
                # creator (a creation that named no room version): both come a moment later.
                await self.ensure_service_power(room_id)
                await self._api.update_room_membership(self.service_account, self.service_account, room_id, "join")
                await self._api.create_and_send_event_into_room(event)
        except SynapseError as exc:
            # No invite or no power: a room from before Qunzu whose creator never let the service in.
            logger.warning("qunzu: could not update %s in a room: %s", event_type, exc.msg)

    async def send_group_event_as(self, sender: str, record: GroupRecord) -> None:
        """Send the group event as a member with power (upgrader, creator), marked as the module's own."""
        assert record.room_id is not None
        await self._send_own(sender, record.room_id, GROUP_STATE_TYPE, group_content(record), record.code)

    async def send_acl_as(self, sender: str, room_id: str) -> None:
        """Send the ACL as a member with power (a backfilled room's creator), marked as the module's own."""
        await self._send_own(sender, room_id, SERVER_ACL_STATE_TYPE, self.server_acl(), SERVER_ACL_STATE_TYPE)

    async def _send_own(self, sender: str, room_id: str, event_type: str, content: dict[str, Any], mark: str) -> None:
        own = (room_id, mark)
        self._own_writes.add(own)
        try:
            await self._api.create_and_send_event_into_room(
                {"type": event_type, "state_key": "", "room_id": room_id, "sender": sender, "content": content}
            )
        finally:
            self._own_writes.discard(own)

    async def ensure_service_power(self, room_id: str) -> None:
        """Give the service account power 100 in a group, as the room's creator.

        The creator of the room (the create event's sender: the group's owner, or
        the upgrader of an upgraded room) may change power levels in every room
        version. Runs when the service account's invite is persisted, before it
        joins, and again when a write of the service account is refused in the
        moment between creation and that grant. Nothing is sent when the service
        account has the power already, was never let in, or the creator is not of this server.
        """
        service = self.service_account
        wanted = [("m.room.create", ""), ("m.room.power_levels", ""), ("m.room.member", service)]
        state = await self._api.get_room_state(room_id, wanted)
        create = state.get(("m.room.create", ""))
        levels = state.get(("m.room.power_levels", ""))
        member = state.get(("m.room.member", service))
        if create is None or levels is None or create.sender == service or not self._api.is_mine(create.sender):
            return
        if member is None or member.membership not in ("invite", "join"):
            return  # a room whose creator never let the service account in keeps its power levels
        if service in room_creators(create.sender, create.content):
            return  # a creator itself (room version 12, trusted private chat): unbounded power, not in `users`
        users = levels.content.get("users")
        users = dict(users) if isinstance(users, Mapping) else {}
        level = users.get(service)
        if isinstance(level, int) and level >= 100:
            return
        event = {
            "type": "m.room.power_levels",
            "state_key": "",
            "room_id": room_id,
            "sender": create.sender,
            "content": {**levels.content, "users": {**users, service: 100}},
        }
        try:
            await self._api.create_and_send_event_into_room(event)
        except SynapseError as exc:
            logger.warning("qunzu: could not give the service account power in a group (%s)", exc.code)
