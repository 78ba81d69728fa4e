"""Invite confirmation in rooms that need join approval (群聊邀请确认, Art. 8 join verification).

A room that needs approval (the approval tier and up, high-risk categories at any
size: `policies.decisions.needs_join_approval`) is made a knock room, but Matrix lets
anyone with invite power invite, and `private_chat` rooms give every member that
power (invite level 0). An invite by a plain member therefore does not let its
invitee in by itself:

- the invite event is allowed: the invitee sees it, and the room sees who asked;
- the invitee's join is refused with `join_approval_required` and
  `{"via": "invite"}` until an admin confirms (`policies.decisions.invite_is_approval`);
- the room is told at once that an admin must confirm (`!approve @u` / `!同意 @u`);
- an admin confirms with the approval command or `POST /admin/rooms/{room}/moderate`
  with `action: approve`: the service account invites the person again, and that
  invite, by the platform, is the approval. The invitee then joins with the invite
  they already see.

Nothing is stored: the sender of the invitee's current invite event is the state,
so a confirmation survives restarts and a withdrawn invite needs no clean-up.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from synapse.module_api.errors import SynapseError

from policies import decisions

from .errors import RequestError
from .event_stream import StreamEvent
from .refusals import client_error
from .texts import text

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .cache import ClusterCache
    from .config import QunzuConfig
    from .facts import FactsSource
    from .notices import Notifier
    from .room_roles import RoomRoles
    from .sanctions.state import SanctionState
    from .store.groups import GroupRecord

logger = logging.getLogger(__name__)


class InviteConfirmation:
    """Decides whether a held invite is the approval, asks admins to confirm the others, confirms."""

    def __init__(
        self,
        api: ModuleApi,
        config: QunzuConfig,
        *,
        facts: FactsSource,
        roles: RoomRoles,
        sanctions: SanctionState,
        group_records: ClusterCache[str, GroupRecord | None],
        notifier: Notifier,
    ) -> None:
        """`group_records` is the registry's cache of a room's group (`Groups.record`)."""
        self._api = api
        self._config = config
        self._facts = facts
        self._roles = roles
        self._sanctions = sanctions
        self._group_records = group_records
        self._notifier = notifier
        self._service = config.service_account

    async def _is_approval(self, room_id: str, inviter: str) -> bool:
        if inviter == self._service or await self._facts.is_exempt(inviter):
            return decisions.invite_is_approval(inviter_is_admin=False, inviter_is_platform=True)
        role = await self._roles.role(room_id, inviter)
        if not role.is_admin:
            return decisions.invite_is_approval(inviter_is_admin=False, inviter_is_platform=False)
        suspended = (await self._sanctions.user_state(inviter)).admin_suspended
        return decisions.invite_is_approval(
            inviter_is_admin=True, inviter_is_platform=False, inviter_suspended=suspended
        )

    async def pending_inviter(self, room_id: str, user_id: str) -> str | None:
        """Who invited `user_id` into `room_id`, when that invite still waits for an admin.

        None when the person holds no invite, or holds one that is the approval itself.
        """
        state = await self._api.get_room_state(room_id, [("m.room.member", user_id)])
        member = state.get(("m.room.member", user_id))
        if member is None or member.membership != "invite":
            return None
        return None if await self._is_approval(room_id, member.sender) else member.sender

    async def confirm(self, room_id: str, user_id: str) -> bool:
        """An admin confirms a member's invite: the service account invites again (the approval).

        Returns:
            False when the person holds no invite waiting for confirmation.
        """
        if await self.pending_inviter(room_id, user_id) is None:
            return False
        await self._api.update_room_membership(self._service, user_id, room_id, "invite")
        return True

    # -- the request, told in the room (an EventStream subscriber) ---------------------------------

    async def on_events(self, events: list[StreamEvent]) -> None:
        for event in events:
            if event.type != "m.room.member" or event.membership != "invite" or event.state_key is None:
                continue
            if event.sender == self._service or not self._api.is_mine(event.sender):
                continue
            try:
                await self._ask_admins(event.room_id, event.sender, event.state_key)
            except (SynapseError, RequestError) as exc:
                logger.info("qunzu: could not ask the admins to confirm an invite (%s)", client_error(exc).code)
            except Exception:
                # One event's fault must not stop the others; the join stays refused meanwhile.
                logger.exception("qunzu: asking the admins to confirm an invite failed")

    async def _ask_admins(self, room_id: str, inviter: str, invitee: str) -> None:
        record = await self._group_records.get(room_id)
        if record is None or record.verification_dm:
            return
        room = await self._facts.room(room_id)
        if not decisions.needs_join_approval(room, self._config.policy):
            return
        if await self.pending_inviter(room_id, invitee) != inviter:
            return  # an admin's invite, or already confirmed or withdrawn
        body = text("invite_needs_confirmation", self._config.language, inviter=inviter, invitee=invitee)
        await self._notifier.to_room(room_id, body)
