"""Private chats (私聊) are not groups, until a third person comes (DESIGN.md §6.2; Art. 2, 8).

A private chat is registered like every room (real name, content, sanctions and
records apply as anywhere: the registry row is what ties measures to the room),
but it has no `#<code>` alias, no information page for anyone outside it, and it
does not count against its owner's rooms-created cap or in the filing statistics.
Its registry number stays out of sight until the chat becomes a group, when it
becomes the group's code.

It becomes a group the moment a third person would enter (an invite, an invite by
e-mail or phone, a join without an invite) or its door opens (a join rule other
than `invite`). That is decided in the callback that would let them in, against
the owner's cap in one guarded transaction (`store/lifecycle.py`), and refused
with `create_limit` when the owner has no place left. What follows the decision
(the group event, the alias, telling the owner) runs a moment later from the event
stream, outside any event's creation, and is idempotent.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from typing import TYPE_CHECKING

from policies import Decision, decisions
from policies.constants import GROUP_STATE_TYPE
from policies.private_chats import keeps_private, third_person_enters

from .errors import Refusal
from .event_stream import StreamEvent
from .store.groups import GroupRecord
from .texts import text

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .config import QunzuConfig
    from .facts import FactsSource
    from .group_alias import CodeAliases
    from .group_records import GroupRecords
    from .group_state import GroupState
    from .notices import Notifier
    from .store.audit import AuditStore
    from .store.lifecycle import LifecycleStore

logger = logging.getLogger(__name__)

# The marker in a private chat's `cn.qunzu.group` event (clients may read it; the module sets it).
PRIVATE_KEY = "private_chat"
_ENTERING = ("join", "invite", "knock")


class PrivateChats:
    """Turns a private chat into a group when a third person comes (DESIGN.md §6.2)."""

    def __init__(
        self,
        api: ModuleApi,
        config: QunzuConfig,
        *,
        store: LifecycleStore,
        audit: AuditStore,
        facts: FactsSource,
        records: GroupRecords,
        group_state: GroupState,
        code_aliases: CodeAliases,
        notifier: Notifier,
    ) -> None:
        self._api = api
        self._config = config
        self._store = store
        self._audit = audit
        self._facts = facts
        self._records = records
        self._group_state = group_state
        self._code_aliases = code_aliases
        self._notifier = notifier

    async def before_entry(self, room_id: str, entrant: str | None) -> Decision:
        """Decide a person's way in: a third person makes the chat a group, if the owner has a place.

        Args:
            room_id: the room.
            entrant: the person invited or joining; None for an invite by e-mail or phone number.

        Returns:
            Allowed (nothing to do, or converted), or refused like a creation (`create_limit`, …).
        """
        record = await self._records.get(room_id)
        if record is None or not record.private_chat or record.retired:
            return Decision.allow()
        service = self._config.service_account
        if entrant in (record.creator, service):
            return Decision.allow()
        if entrant is not None and await self._facts.is_exempt(entrant):
            return Decision.allow()  # staff looking into a chat make no group of it
        others = await self._people_in(room_id, exclude={record.creator, service})
        if not third_person_enters(others, entrant):
            return Decision.allow()
        return await self.become_group(record)

    async def before_join_rule(self, room_id: str, join_rule: str) -> Decision:
        """A join rule that lets people in without an invite makes the chat a group (the same cap)."""
        if keeps_private(join_rule):
            return Decision.allow()
        record = await self._records.get(room_id)
        if record is None or not record.private_chat or record.retired:
            return Decision.allow()
        return await self.become_group(record)

    async def become_group(self, record: GroupRecord) -> Decision:
        """Count the chat against its owner's cap and mark it a group in the registry (Art. 8)."""
        owner = await self._facts.user(record.creator)
        policy = self._config.policy

        def rule(owned: int) -> Decision:
            return decisions.may_create(dataclasses.replace(owner, rooms_owned=owned), record.category, policy)

        decision = await self._store.become_group(record.code, record.creator, None if owner.exempt else rule)
        if decision.allowed and record.room_id is not None:
            await self._records.invalidate_everywhere(record.room_id)
        return decision

    async def before_category(self, record: GroupRecord) -> GroupRecord:
        """A category is chosen for groups: choosing one makes a private chat a group first (its cap).

        Raises:
            Refusal: the owner has no place left (create_limit, …).
        """
        if not record.private_chat:
            return record
        decision = await self.become_group(record)
        if not decision.allowed:
            assert decision.reason is not None
            raise Refusal(decision.reason, decision.detail)
        converted = dataclasses.replace(record, private_chat=False)
        await self.publish(converted)
        return converted

    async def _people_in(self, room_id: str, exclude: set[str]) -> set[str]:
        state = await self._api.get_room_state(room_id)
        return {
            key
            for (event_type, key), event in state.items()
            if event_type == "m.room.member" and key not in exclude and event.membership in _ENTERING
        }

    # -- after persistence ---------------------------------------------------------------

    async def on_events(self, events: list[StreamEvent]) -> None:
        """A chat the registry made a group gets its group event, its alias, and its owner is told.

        An `EventStream` subscriber: the membership or join rule change that made the
        group is persisted by now. Idempotent: a room whose group event says it is a
        group already is left alone.
        """
        seen: set[str] = set()
        for event in events:
            if event.room_id in seen or event.type not in ("m.room.member", "m.room.join_rules"):
                continue
            seen.add(event.room_id)
            try:
                await self._publish_if_converted(event.room_id)
            except Exception:
                # Per room: one room's trouble must not hold up the others.
                logger.exception("qunzu: publishing a private chat that became a group failed")

    async def _publish_if_converted(self, room_id: str) -> None:
        record = await self._records.get(room_id)
        if record is None or record.private_chat or record.retired or record.verification_dm:
            return
        state = await self._api.get_room_state(room_id, [(GROUP_STATE_TYPE, "")])
        current = state.get((GROUP_STATE_TYPE, ""))
        if current is None or current.content.get(PRIVATE_KEY) is not True:
            return
        await self.publish(record)

    async def publish(self, record: GroupRecord) -> None:
        """The chat is a group now: its group event without the mark, its alias, its owner told."""
        assert record.room_id is not None
        room_id = record.room_id
        # The registry's record as it is now: `record` may predate another change of the group.
        await self._group_state.align_group_state(room_id, functools.partial(self._records.get, room_id))
        await self._code_aliases.ensure(record.code, room_id)
        await self._audit.append("module:groups", "group.from_private_chat", record.code, {"room": room_id})
        language = self._config.language
        await self._notifier.to_user(record.creator, text("private_chat_became_group", language, code=record.code))
