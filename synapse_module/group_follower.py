"""What follows a group's creation: the registry kept in step with the room (Art. 7, 8, 9).

Subscribed to Synapse's event stream (`event_stream.py`) on the background-task
instance, a fifth of a second behind: it links a new room's code to its room id and tells
the creator the code, joins the service account when it is invited, withdraws
invites of servers the policy does not admit, closes a bot chat its owner left,
keeps the scale tier in step with the membership and carries the group over on
upgrade. Every step is idempotent; `group_maintenance.py` repairs what a crash
leaves behind.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from synapse.module_api.errors import SynapseError

from policies import Reason, decisions
from policies.constants import GROUP_STATE_TYPE
from policies.federation import may_take_part
from policies.tiers import scale_tier_of

from .errors import Refusal
from .event_stream import StreamEvent
from .groups import group_facts
from .store.groups import GroupRecord
from .texts import text

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .clock import Clock
    from .config import QunzuConfig
    from .group_alias import CodeAliases
    from .group_records import GroupRecords
    from .group_state import GroupState
    from .groups import Groups
    from .refusal_notices import BotChatNotices
    from .store.audit import AuditStore
    from .store.groups import GroupStore

logger = logging.getLogger(__name__)


class GroupFollower:
    """Keeps the group registry in step with persisted events (an `EventStream` subscriber)."""

    def __init__(
        self,
        api: ModuleApi,
        clock: Clock,
        config: QunzuConfig,
        *,
        store: GroupStore,
        audit: AuditStore,
        records: GroupRecords,
        groups: Groups,
        state: GroupState,
        notices: BotChatNotices,
        code_aliases: CodeAliases,
    ) -> None:
        self._api = api
        self._clock = clock
        self._policy = config.policy
        self._config_language = config.language
        self._service = config.service_account
        self._store = store
        self._audit = audit
        self.record = records
        self._groups = groups
        self._state = state
        self._notices = notices
        self._code_aliases = code_aliases

    @property
    def service_account(self) -> str:
        return self._service

    async def on_events(self, events: list[StreamEvent]) -> None:
        """Keep the registry in step with persisted events (an `EventStream` subscriber).

        Runs on the background-task instance, a fifth of a second behind; every step is
        idempotent, and `refresh_tiers` repairs what a crash may leave behind.
        Membership changes are settled once per batch: one write releases every
        held place, and each room is counted once however many people came and went.
        """
        released: list[tuple[str, str]] = []
        recount: dict[str, None] = {}  # rooms whose membership changed, in order of first change
        for event in events:
            if not event.is_state():
                continue
            try:
                if event.type == GROUP_STATE_TYPE:
                    code = event.content.get("code")
                    if isinstance(code, str) and await self._store.link(code, event.room_id):
                        await self.record.invalidate_everywhere(event.room_id)
                    if isinstance(code, str):
                        await self._created(event)
                elif event.type == "m.room.tombstone":
                    await self._carry_over_upgrade(event)
                elif event.type == "m.room.member":
                    await self._membership_changed(event, released, recount)
            except Exception:
                # Per event: one room's trouble must not hold up the others.
                logger.exception("qunzu: updating the group registry after an event failed")
        try:
            if released:
                await self._store.release(released)
        except Exception:
            # A place left held expires by itself (PENDING_MS); the count stays exact meanwhile.
            logger.exception("qunzu: releasing %d held places failed", len(released))
        for room_id in recount:
            try:
                await self._refresh_scale_tier(room_id)
            except Exception:
                logger.exception("qunzu: updating the scale tier of %s failed", room_id)

    async def _created(self, event: StreamEvent) -> None:
        """DESIGN.md §6.3: the creator learns the code in their bot chat (once per group).

        The group event a creation carries is sent by the creator; later ones (a category
        change, a repair) come from the service account, an upgrade's names its predecessor.
        """
        record = await self.record.get(event.room_id)
        if (
            record is not None
            and record.room_id == event.room_id
            and record.creator == event.sender
            and record.predecessor_room_id is None
        ):
            self._notices.group_created(record, event.room_id)

    async def _membership_changed(
        self, event: StreamEvent, released: list[tuple[str, str]], recount: dict[str, None]
    ) -> None:
        service = self.service_account
        if event.state_key is not None and event.membership in ("join", "leave", "ban"):
            released.append((event.room_id, event.state_key))
        if event.state_key == service and event.membership == "invite":
            record = await self.record.get(event.room_id)
            group = record is not None and not record.verification_dm and not record.retired
            if group:
                # Before the join: once the service account is in, it already has its power.
                await self._state.ensure_service_power(event.room_id)
            # Join the service account at once: the room is governed even while the bot is down.
            await self._api.update_room_membership(service, service, event.room_id, "join")
            if group and record is not None and not record.private_chat:
                # A room whose creator chose an address of their own gets its #<code> too (Art. 8).
                await self._code_aliases.ensure(record.code, event.room_id)
            return
        if event.state_key == service and event.membership in ("leave", "ban") and event.sender != service:
            await self._service_removed(event)
            return
        if event.state_key != service:
            recount[event.room_id] = None
        if (
            event.membership == "invite"
            and event.state_key is not None
            and not may_take_part(event.state_key, self._api.server_name, self._policy).allowed
        ):
            # Art. 6: the invite of a person of a server the policy does not admit is withdrawn
            # at once: one by a server admin here (Synapse does not ask `user_may_invite`) or by
            # a partner's member (callbacks.py `_remote_entry`).
            try:
                await self._api.update_room_membership(service, event.state_key, event.room_id, "leave")
            except SynapseError as exc:
                logger.info("qunzu: withdrawing an invite of a non-admitted server failed (%s)", exc.code)
            return
        if event.state_key is not None and event.membership in ("leave", "ban"):
            record = await self.record.get(event.room_id)
            if record is not None and record.verification_dm and record.creator == event.state_key:
                await self._close_bot_chat(record)

    async def _service_removed(self, event: StreamEvent) -> None:
        """Someone kicked or banned the service account out of a group: it is brought back at once.

        Synapse asks no module before a kick or ban (`/kick`, `/ban`), so this is repaired
        after the fact (docs/perimeter.md): the remover (else the owner) lifts a ban and
        invites the service account again, and the invite's own path joins it with its power.
        A person's bot chat is theirs to leave; a retired group needs nobody.
        """
        record = await self.record.get(event.room_id)
        if record is None or record.retired or record.verification_dm or record.room_id != event.room_id:
            return
        service = self.service_account
        remover = event.sender
        last_error: SynapseError | None = None
        for acting in (user for user in dict.fromkeys((remover, record.creator)) if self._api.is_mine(user)):
            try:
                if event.membership == "ban":
                    await self._api.update_room_membership(acting, service, event.room_id, "leave")
                await self._api.update_room_membership(acting, service, event.room_id, "invite")
            except SynapseError as exc:
                last_error = exc
                continue
            last_error = None
            break
        if last_error is not None:
            logger.warning("qunzu: the service account could not be brought back into a group (%s)", last_error.code)
        await self._audit.append(
            remover,
            "group.service_restored",
            record.code,
            {"room_id": event.room_id, "membership": event.membership, "restored": last_error is None},
        )
        if self._api.is_mine(remover):
            explanation = text("service_restored_explanation", self._config_language, service=service)
            refusal = Refusal(Reason.PROTECTED_STATE, {"setting": "m.room.member", "explanation": explanation})
            self._notices.refused(remover, event.room_id, refusal, "member")

    async def _close_bot_chat(self, record: GroupRecord) -> None:
        """Its owner left their verification chat: it is over, and they may open a new one (Art. 6).

        The registry marks it retired, and the service account leaves, so the room is
        left empty and can never be entered again (it is invite-only).
        """
        assert record.room_id is not None
        if not record.retired:
            await self._store.update(record.code, retired_ts=self._clock.now_ms())
            await self.record.invalidate_everywhere(record.room_id)
        service = self.service_account
        try:
            await self._api.update_room_membership(service, service, record.room_id, "leave")
        except SynapseError as exc:
            logger.info("qunzu: the service account could not leave a closed bot chat (%s)", exc.code)

    async def _refresh_scale_tier(self, room_id: str) -> None:
        record = await self.record.get(room_id)
        if record is None or record.retired:
            return
        members = await self._store.member_count(room_id, self.service_account)
        tier = scale_tier_of(members, self._policy)
        if tier != record.scale_tier:
            await self._groups.change(record, members, scale_tier=tier)

    async def _carry_over_upgrade(self, tombstone: StreamEvent) -> None:
        """Room upgrades copy only Synapse's own state types: the group follows the room.

        Triggered by the old room's tombstone, which Synapse sends once the new room
        is set up and the upgrading user has joined it.
        """
        new_room_id = tombstone.content.get("replacement_room")
        if not isinstance(new_room_id, str):
            return
        # A tombstone that did not pass the spam check (initial state at creation, another
        # server) moves nothing unless it names a real upgrade of this room.
        if not await self._groups.is_upgrade_of(tombstone.room_id, new_room_id):
            logger.warning("qunzu: a tombstone that names no upgrade of its room left the group where it was")
            return
        record = await self._store.move_to_successor(tombstone.room_id, new_room_id)
        if record is None:
            return
        await self.record.invalidate_everywhere(tombstone.room_id)
        await self.record.invalidate_everywhere(new_room_id)
        await self._state.send_group_event_as(tombstone.sender, record)
        await self._api.update_room_membership(tombstone.sender, self.service_account, new_room_id, "invite")
        # Art. 8 join verification: a join rule opened in the new room before the group arrived.
        members = await self._store.member_count(new_room_id, self.service_account)
        if decisions.needs_join_approval(group_facts(record, members, "public"), self._policy):
            await self._state.ensure_knock(new_room_id)
        # Synapse copies the old room's ACL; the policy may have changed since it was written.
        await self._state.ensure_server_acl(new_room_id)
        await self._audit.append(
            tombstone.sender, "group.upgrade", record.code, {"from": tombstone.room_id, "to": new_room_id}
        )
