"""An owner dissolves (解散群) or hands over (转让群主) their group (Art. 8, 9; DESIGN.md §6.4).

Dissolving closes the group the way a closure measure does (sanctions/followups.py
`remove_members`, groups.py `retire`): the code is retired and never handed out
again, nobody joins, posts or is invited any more (`room_closed`), every member is
removed, and the records stay. The owner's place under the rooms-created cap is
free at once (retired groups are not counted).

Handing over moves the group in the registry to the new owner, counted against
their cap in the same guarded transaction that frees the old owner's place
(`store/lifecycle.py`). In the room the new owner gets power 100 and the old owner
goes back to the default level, sent as the old owner (who may lower their own
level; nobody else may lower a 100). From room version 12 on (MSC4289) the room's
creators are fixed in its create event and have unbounded power that no event can
take away: there the old owner stays a creator by protocol, and what moves is the
platform's ownership — the rooms-created cap, the owner's commands (`!dissolve`,
`!transfer`, `POST /groups/{code}/category`), the information page's 群主 (`creator`) and whom
measures on the group hold responsible. docs/groups.md says so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synapse.module_api.errors import SynapseError

from policies import Decision, Reason
from policies.api import Dissolution, Transfer
from policies.lifecycle import may_act_as_owner, may_own_one_more, may_take_over
from policies.roles import room_creators

from .errors import Refusal
from .store.groups import GroupRecord
from .texts import text

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .config import QunzuConfig
    from .facts import FactsSource
    from .groups import Groups
    from .notices import Notifier
    from .sanctions.followups import FollowUps
    from .store.audit import AuditStore
    from .store.lifecycle import LifecycleStore

logger = logging.getLogger(__name__)

OWNER_LEVEL = 100


def _raise(decision: Decision) -> None:
    if not decision.allowed:
        assert decision.reason is not None
        raise Refusal(decision.reason, decision.detail)


class Lifecycle:
    """Dissolve and transfer, for a group's owner."""

    def __init__(
        self,
        api: ModuleApi,
        config: QunzuConfig,
        *,
        store: LifecycleStore,
        audit: AuditStore,
        facts: FactsSource,
        groups: Groups,
        followups: FollowUps,
        notifier: Notifier,
    ) -> None:
        self._api = api
        self._config = config
        self._store = store
        self._audit = audit
        self._facts = facts
        self._groups = groups
        self._followups = followups
        self._notifier = notifier

    def check_owner(self, actor: str, record: GroupRecord) -> None:
        """Refuse anyone but the owner of an open group.

        Raises:
            Refusal: not_owner; room_closed when the group is closed already.
        """
        _raise(may_act_as_owner(actor, record.creator, record.code))
        if record.retired:
            raise Refusal(Reason.ROOM_CLOSED)

    async def dissolve(self, actor: str, record: GroupRecord) -> Dissolution:
        """Close the owner's group for good; its code is retired and their place freed.

        Raises:
            Refusal: not_owner; room_closed when it is closed already.
        """
        self.check_owner(actor, record)
        assert record.room_id is not None
        room_id = record.room_id
        language = self._config.language
        # Closed first: from here nobody joins, posts or is invited, while members are removed.
        await self._groups.retire(room_id)
        await self._audit.append(actor, "group.dissolve", record.code, {"room": room_id})
        await self._notifier.to_room(room_id, text("group_dissolved_room", language, code=record.code))
        removed = await self._followups.remove_members(room_id)
        await self._notifier.to_user(actor, text("group_dissolved_owner", language, code=record.code))
        return Dissolution(code=record.code, dissolved=True, removed=removed)

    async def transfer(self, actor: str, record: GroupRecord, target: str, *, confirmed: bool) -> Transfer:
        """Hand the group to `target`, a verified member whose level allows its size and who has a place.

        Unconfirmed, only the checks run and nothing changes (``transferred`` false): the owner
        is asked to confirm a hand-over only they could undo, and only with the new owner's help.
        The place under the new owner's cap is counted again when it is confirmed.

        Raises:
            Refusal: not_owner, transfer_not_allowed, room_closed, or the new owner's
                create_limit / credit_insufficient / create_revoked.
        """
        self.check_owner(actor, record)
        assert record.room_id is not None
        room_id = record.room_id
        room = await self._facts.room(room_id, count_members=True)
        if room.closed:
            raise Refusal(Reason.ROOM_CLOSED)
        new_owner = await self._facts.user(target)
        state = await self._api.get_room_state(room_id, [("m.room.member", target)])
        member = state.get(("m.room.member", target))
        # The platform's account owns nothing: a group handed to it would have no 群主.
        is_member = (
            member is not None
            and member.membership == "join"
            and self._api.is_mine(target)
            and target != self._config.service_account
        )
        _raise(may_take_over(new_owner, room, record.creator, is_member=is_member, policy=self._config.policy))

        policy = self._config.policy

        def rule(owned: int) -> Decision:
            return may_own_one_more(new_owner, owned, record.category, policy)

        if not confirmed:
            if not new_owner.exempt:
                _raise(rule(await self._groups.rooms_owned(target)))
            return Transfer(code=record.code, owner=target, transferred=False)
        decision = await self._store.transfer(record.code, record.creator, target, None if new_owner.exempt else rule)
        _raise(decision)
        await self._groups.record.invalidate_everywhere(room_id)
        await self._audit.append(actor, "group.transfer", record.code, {"room": room_id, "to": target})
        power = await self._hand_over_power(room_id, actor, target)
        language = self._config.language
        await self._notifier.to_room(room_id, text("group_transferred_room", language, code=record.code, owner=target))
        await self._notifier.to_user(
            target, text("group_transferred_owner", language, code=record.code, previous=actor)
        )
        return Transfer(code=record.code, owner=target, previous=actor, power=power, transferred=True)

    async def _hand_over_power(self, room_id: str, old: str, new: str) -> str:
        """Power 100 to the new owner; the old owner back to the default unless a creator by protocol.

        Returns:
            `moved` (both changed), `granted` (the new owner's level only: the old owner
            is a creator of a version 12 room, or could not be lowered), `creator` (the
            new owner is a creator already), or `failed` (logged; the registry moved anyway).
        """
        state = await self._api.get_room_state(room_id, [("m.room.create", ""), ("m.room.power_levels", "")])
        create = state.get(("m.room.create", ""))
        levels = state.get(("m.room.power_levels", ""))
        if create is None or levels is None:
            return "failed"
        creators = room_creators(create.sender, create.content)
        if new in creators:
            return "creator"
        current = levels.content.get("users")
        users: dict[str, Any] = dict(current) if isinstance(current, Mapping) else {}
        granted = {**users, new: OWNER_LEVEL}
        if old not in creators and old in users:
            # The old owner may lower their own level; nobody else may lower a 100.
            moved = {user: level for user, level in granted.items() if user != old}
            if await self._send_levels(room_id, old, {**levels.content, "users": moved}):
                return "moved"
        if await self._send_levels(room_id, self._config.service_account, {**levels.content, "users": granted}):
            return "granted"
        logger.warning("qunzu: the new owner of a group could not be given power %d", OWNER_LEVEL)
        return "failed"

    async def _send_levels(self, room_id: str, sender: str, content: Mapping[str, Any]) -> bool:
        event = {"type": "m.room.power_levels", "state_key": "", "room_id": room_id, "sender": sender}
        try:
            await self._api.create_and_send_event_into_room({**event, "content": dict(content)})
        except SynapseError as exc:
            logger.info("qunzu: sending power levels for a new owner failed (%s)", exc.code)
            return False
        return True
