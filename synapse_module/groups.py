"""Groups (群组): the registry, and the rules on joins, protected state and upgrades (Art. 7, 8, 9).

A group is a room with a unique code, a category and tiers. It is made at the
room's creation (`group_creation.py`), kept in step with the room afterwards
(`group_follower.py`) and over time (`group_maintenance.py`); the module's own
state in its room is written by `group_state.py`. Here: finding a group by its
code, a room's facts for the rules, joins exact under concurrency (Art. 8), the
state only the platform may change, upgrades, and the changes owners and staff
make (category, tier, retirement).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from synapse.module_api import EventBase
from synapse.module_api.errors import SynapseError

from policies import Decision, Reason, RoomFacts, UserFacts, decisions
from policies.constants import GROUP_STATE_TYPE
from policies.decisions import PROTECTED_STATE_TYPES, required_join_rule
from policies.roles import platform_shortfall, room_creators, version_change_keeps_creators
from policies.tiers import level_rules, scale_tier_of

from .errors import Refusal
from .store.groups import PENDING_MS, GroupRecord
from .texts import text

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .clock import Clock
    from .config import QunzuConfig
    from .facts import FactsSource
    from .group_records import GroupRecords
    from .group_state import GroupState
    from .store.audit import AuditStore
    from .store.groups import GroupStore

logger = logging.getLogger(__name__)


def _naming_inviter(decision: Decision, inviter: str | None) -> Decision:
    """A refusal for an invite still waiting for an admin names who invited (the text shows it)."""
    if inviter is None or decision.detail.get("via") != "invite":
        return decision
    return Decision(False, decision.reason, {**decision.detail, "inviter": inviter})


# Joins decided without holding a place only this far below a cap (see decide_join).
FAST_MARGIN = 50
# Remembered joins decided without holding a place, per process, before old ones are dropped.
_UNHELD_SWEEP_AT = 10_000


def predecessor_of(creation_content: object) -> str | None:
    """The predecessor room named in a create event's content, if any."""
    if not isinstance(creation_content, Mapping):
        return None
    predecessor = creation_content.get("predecessor")
    if not isinstance(predecessor, Mapping):
        return None
    room_id = predecessor.get("room_id")
    return room_id if isinstance(room_id, str) else None


def group_facts(record: GroupRecord, member_count: int, join_rule: str) -> RoomFacts:
    """The facts the rules read of a group, with the member count and join rule given."""
    return RoomFacts(
        room_id=record.room_id or "",
        category=record.category,
        member_count=member_count,
        tier=record.scale_tier,
        closed=record.retired,
        posting_suspended_until_ms=None,
        frozen=False,
        join_rule=join_rule,
        owner_level=None,
        granted_tier=record.granted_tier,
        verification_dm=record.verification_dm,
    )


class Groups:
    """The group registry, and the rules that decide joins, state changes and upgrades of groups."""

    def __init__(
        self,
        api: ModuleApi,
        clock: Clock,
        config: QunzuConfig,
        *,
        store: GroupStore,
        audit: AuditStore,
        records: GroupRecords,
        facts: FactsSource,
        state: GroupState,
    ) -> None:
        self._api = api
        self._clock = clock
        self._config = config
        self._policy = config.policy
        self._store = store
        self._audit = audit
        self._facts = facts
        self._state = state
        # Read by every message and join: the group of a room (group_records.py).
        self.record = records
        # Per person, the room and time of the last join this process let through without
        # holding a place (see decide_join); it counts for them until it lands or expires.
        self._unheld: dict[str, tuple[str, int]] = {}

    async def by_code(self, code: str) -> GroupRecord | None:
        """The group with this code, linking it first if its room is new (via the `#code` alias)."""
        record = await self._store.by_code(code)
        if record is None or record.room_id is not None or record.retired:
            return record
        try:
            room_id, _servers = await self._api.lookup_room_alias(f"#{code}:{self._api.server_name}")
        except SynapseError:
            # The creator chose an alias of their own: find the room by its group event.
            events = await self._store.current_group_events(GROUP_STATE_TYPE)
            rooms = [room for room, body in events if json.loads(body).get("content", {}).get("code") == code]
            if not rooms:
                return record  # the room is still being created
            room_id = rooms[0]
        await self.record.get(room_id)  # links through _load_record
        return await self._store.by_code(code)

    @property
    def service_account(self) -> str:
        return self._config.service_account

    async def vet_co_creators(self, named: object) -> Decision:
        """Everyone a creation or upgrade makes a creator besides its sender (docs/groups.md).

        `additional_creators` (room version 12) and the invitees of a
        `trusted_private_chat` preset get power nobody in the room can take away;
        each is vetted by `decisions.may_be_co_creator`. A list Synapse would
        reject anyway (not a list of user ids) is left to Synapse's own 400.
        """
        if not isinstance(named, list):
            return Decision.allow()
        service = self.service_account
        for user_id in dict.fromkeys(u for u in named if isinstance(u, str) and u != service):
            decision = decisions.may_be_co_creator(await self._facts.user(user_id), self._policy)
            if decision.reason is not None:
                explanation = text("co_creator_explanation", self._config.language, user=user_id)
                return Decision.refuse(decision.reason, **{**decision.detail, "explanation": explanation})
        return Decision.allow()

    # -- facts -----------------------------------------------------------------------

    async def room_facts(self, room_id: str, *, count_members: bool = False) -> RoomFacts:
        """Facts of a room; the member count is read only when asked (invites, the info page)."""
        record = await self.record.get(room_id) or await self.upgraded_from(room_id)
        members = await self._store.member_count(room_id, self.service_account) if count_members else 0
        creator = record.creator if record is not None else await self._store.room_creator(room_id)
        owner = await self._facts.user(creator) if creator is not None else None
        # Art. 8: the owner's level bounds the room, also in the moment before the code is
        # linked (so joins racing a creation on other processes see the same cap).
        owner_level = None if owner is None or owner.exempt else self._facts.level_of(owner)
        if record is None:
            return dataclasses.replace(self._ungoverned(room_id, members), owner_level=owner_level)
        facts = group_facts(record, members, join_rule="invite")
        return dataclasses.replace(facts, room_id=room_id, owner_level=owner_level)

    async def upgraded_from(self, room_id: str) -> GroupRecord | None:
        """The group of the room this one upgrades, while the group is being carried over.

        The follower moves the group a second after the tombstone; until then the new
        room is judged as its group (category freezes, join approval, the owner's bound).
        The move may commit between the look for the new room's own group and the look
        for its predecessor's: the new room is read again then, so no moment of the move
        judges it ungoverned.
        """
        state = await self._api.get_room_state(room_id, [("m.room.create", "")])
        create = state.get(("m.room.create", ""))
        predecessor = predecessor_of(create.content) if create is not None else None
        if predecessor is None:
            return None
        record = await self._store.by_room(predecessor) or await self._store.by_room(room_id)
        if record is None or not await self.is_upgrade_of(predecessor, room_id):
            return None
        return record

    def _ungoverned(self, room_id: str, members: int) -> RoomFacts:
        policy = self._policy
        return RoomFacts(
            room_id=room_id,
            category=policy.categories.default_category,
            member_count=members,
            tier=scale_tier_of(members, policy),
            closed=False,
            posting_suspended_until_ms=None,
            frozen=False,
            join_rule="invite",
            owner_level=None,
        )

    # -- joins -----------------------------------------------------------------------

    async def join_counts(self, room_id: str, user_id: str) -> tuple[int, int]:
        """(members joined to the room, rooms the user is in) now: one read, nothing held."""
        return await self._store.room_counts(room_id, user_id, self.service_account)

    async def decide_join(
        self,
        user: UserFacts,
        room: RoomFacts,
        is_invited: bool,
        counts: tuple[int, int] | None = None,
        *,
        pending_inviter: Callable[[], Awaitable[str | None]] | None = None,
    ) -> Decision:
        """`may_join`, exact under concurrent joins (Art. 8).

        Args:
            user: The joiner's facts.
            room: The room's facts.
            is_invited: Whether the joiner holds an invite.
            counts: `join_counts` read just before, if the caller already has them.
            pending_inviter: Who invited the joiner, when that invite still waits for an admin
                (`InviteConfirmation.pending_inviter`). Read only where the invite can decide
                the join; a refusal for it names the inviter.
        """
        policy = self._policy
        now = self._clock.now_ms()
        if user.exempt:
            return Decision.allow()
        # Far from every cap, one read decides. The room's member count can only be overtaken by
        # few joins meanwhile: Synapse admits one join per room at a time on each process. A
        # person's joins into different rooms have no such bound, so each process lets at most
        # one of theirs through unheld at a time and counts it in their next guarded check until
        # it lands: as for a room, fewer than FAST_MARGIN joins can be uncounted at once. Near a
        # cap, the guarded transaction counts and holds places exactly (Art. 8).
        members, rooms_joined = counts if counts is not None else await self.join_counts(room.room_id, user.user_id)
        level_cap = level_rules(self._facts.level_of(user), policy).rooms_joined
        room_cap = decisions.member_cap(room, policy)
        unheld = self._unheld_join(user.user_id, now)
        unguarded = members + FAST_MARGIN < room_cap and rooms_joined + FAST_MARGIN < level_cap and unheld is None
        # Art. 8 群聊邀请确认: the invite decides only where the room needs approval at the count
        # the join is decided on: the one just read, or near a cap at most the cap (a fuller room
        # is refused as full first).
        inviter = None
        if (
            is_invited
            and pending_inviter is not None
            and decisions.invite_may_need_confirmation(room, members if unguarded else room_cap, policy)
        ):
            inviter = await pending_inviter()

        def rule(members: int, rooms_joined: int) -> Decision:
            return decisions.may_join(
                dataclasses.replace(user, rooms_joined=rooms_joined),
                dataclasses.replace(room, member_count=members),
                is_invited,
                now,
                policy,
                invite_confirmed=inviter is None,
            )

        if unguarded:
            decision = rule(members, rooms_joined)
            if decision.allowed:
                self._remember_unheld(user.user_id, room.room_id, now)
            return _naming_inviter(decision, inviter)
        pending = () if unheld is None else (unheld,)
        decision = await self._store.check_join(room.room_id, user.user_id, self.service_account, rule, pending)
        return _naming_inviter(decision, inviter)

    def _unheld_join(self, user_id: str, now_ms: int) -> str | None:
        """The room of this person's join let through unheld here that may still be under way."""
        entry = self._unheld.get(user_id)
        if entry is None:
            return None
        if entry[1] <= now_ms - PENDING_MS:
            del self._unheld[user_id]  # landed long ago (or never will): the count has it
            return None
        return entry[0]

    def _remember_unheld(self, user_id: str, room_id: str, now_ms: int) -> None:
        if len(self._unheld) >= _UNHELD_SWEEP_AT:
            self._unheld = {user: e for user, e in self._unheld.items() if e[1] > now_ms - PENDING_MS}
        self._unheld[user_id] = (room_id, now_ms)

    # -- state protection ---------------------------------------------------------------

    def check_state_change(self, event: EventBase, room: RoomFacts) -> Decision:
        """Protected group state and the join rule a room needs (Art. 8)."""
        if event.type in PROTECTED_STATE_TYPES:
            if event.sender == self.service_account or self._state.is_own_write(event):
                return Decision.allow()
            return decisions.may_change_state(False, event.type)
        if event.type == "m.room.join_rules" and event.sender != self.service_account:
            wanted = dataclasses.replace(room, join_rule=str(event.content.get("join_rule", "")))
            if required_join_rule(wanted, self._policy) is not None:
                return Decision.refuse(Reason.JOIN_APPROVAL_REQUIRED, tier=room.tier, category=room.category)
        return Decision.allow()

    async def check_redaction(self, event: EventBase) -> Decision:
        """A redaction may not empty the state the platform keeps (binds everyone, as changing it does).

        Redacting the group state or the ACL strips their content: the room would lose its
        code for the bot and clients, and its partners their way in, until the daily repair.
        """
        redacts = event.redacts
        if event.sender == self.service_account or not isinstance(redacts, str):
            return Decision.allow()
        kind = await self._store.state_event_kind(redacts)
        if kind is None or kind[0] != event.room_id:
            return Decision.allow()
        return decisions.may_change_state(False, kind[1])

    async def check_power_levels(self, event: EventBase) -> Decision:
        """A power-levels change leaves the service account the powers the platform acts with (Art. 8, 11).

        Binds everyone, server admins and creators included: a group whose service account
        cannot kick, redact or switch its join rule is out of the platform's reach. Changes
        by the service account itself (the module's grants) pass.
        """
        service = self.service_account
        if event.sender == service or self._state.is_own_write(event):
            return Decision.allow()
        state = await self._api.get_room_state(event.room_id, [("m.room.create", ""), ("m.room.power_levels", "")])
        create = state.get(("m.room.create", ""))
        if create is None:
            return Decision.allow()
        creators = room_creators(create.sender, create.content)
        current = state.get(("m.room.power_levels", ""))
        before = platform_shortfall(service, create.content, creators, current.content if current is not None else None)
        after = platform_shortfall(service, create.content, creators, event.content)
        return self.judge_power_levels(before, after)

    def judge_power_levels(self, before: str | None, after: str | None) -> Decision:
        """`decisions.may_change_power_levels`, with the sentence that tells the person why."""
        explanation = (
            ""
            if after is None
            else text("service_power_explanation", self._config.language, service=self.service_account, action=after)
        )
        return decisions.may_change_power_levels(before, after, explanation)

    def check_requested_power_levels(self, config: Mapping[str, Any]) -> Decision:
        """The power levels a createRoom asks for leave the service account its platform powers.

        A room's first power levels pass Synapse's auth rules whatever they ask, so a
        creation could set what a kick or a join-rule change needs above the 100 the
        module gives the service account (its `users` entry is judged as that 100).
        """
        service = self.service_account
        levels: Any = config.get("power_level_content_override")
        for event in config.get("initial_state") or []:
            if isinstance(event, Mapping) and event.get("type") == "m.room.power_levels":
                levels = event.get("content")
        if not isinstance(levels, Mapping):
            return Decision.allow()
        users = levels.get("users")
        granted = {**levels, "users": {**(users if isinstance(users, Mapping) else {}), service: 100}}
        return self.judge_power_levels(None, platform_shortfall(service, {}, (), granted))

    # -- upgrades -----------------------------------------------------------------------------

    async def rooms_owned(self, user_id: str) -> int:
        """The groups the person owns now (open ones, and creations under way), as the caps count them."""
        return await self._store.owned(user_id)

    async def decide_upgrade(self, user_id: str, room_config: Mapping[str, Any]) -> Decision:
        """Decide a room upgrade before its new room or its tombstone exists (Art. 5, 8, 11).

        Synapse's upgrade calls `user_may_create_room` with the new room's
        `creation_content`, which names the predecessor, before it sends a new
        room's events or the old room's tombstone (and with no bypass for server
        admins); `on_create_room` is not called. A `createRoom` that names a
        predecessor itself is decided in `on_create_room` first and then here too.
        """
        creation = room_config.get("creation_content")
        predecessor = predecessor_of(creation)
        if predecessor is None:
            return Decision.allow()  # a plain createRoom: on_create_room decided it
        assert isinstance(creation, Mapping)
        state = await self._api.get_room_state(predecessor, [("m.room.create", "")])
        create = state.get(("m.room.create", ""))
        old_version = str(create.content.get("room_version", "1")) if create is not None else "1"
        if not version_change_keeps_creators(old_version, creation.get("room_version")):
            explanation = text("downgrade_explanation", self._config.language)
            return Decision.refuse(Reason.PROTECTED_STATE, setting="room_version", explanation=explanation)
        user = await self._facts.user(user_id)
        if not user.exempt and not (vetted := await self.vet_co_creators(creation.get("additional_creators"))).allowed:
            return vetted
        room = await self._facts.room(predecessor)
        owned = 0 if user.exempt else await self.rooms_owned(user_id)
        now = self._clock.now_ms()
        return decisions.may_upgrade(dataclasses.replace(user, rooms_owned=owned), room, now, self._policy)

    async def check_tombstone(self, event: EventBase) -> Decision:
        """A tombstone stands only for a real upgrade of this room (binds everyone).

        Synapse's own upgrade sends its tombstone without the spam check, so what
        reaches here is made by hand (`PUT /state`). A tombstone tells clients to
        leave for the replacement and moves the group in the registry: one naming a
        room that does not exist, or an unrelated room, would take the group out of
        its freezes, measures and join approval.
        """
        replacement = event.content.get("replacement_room")
        if isinstance(replacement, str) and await self.is_upgrade_of(event.room_id, replacement):
            return Decision.allow()
        explanation = text("tombstone_explanation", self._config.language)
        return Decision.refuse(Reason.PROTECTED_STATE, event_type=event.type, explanation=explanation)

    async def is_upgrade_of(self, old_room_id: str, new_room_id: str) -> bool:
        """Whether `new_room_id` exists as the upgrade of `old_room_id` and carries no group of its own.

        A room made with `createRoom` gets a group at creation; only Synapse's upgrade
        (decided in `decide_upgrade`) makes a room whose create event names a
        predecessor and which has no group yet.
        """
        if new_room_id == old_room_id:
            return False
        state = await self._api.get_room_state(new_room_id, [("m.room.create", ""), (GROUP_STATE_TYPE, "")])
        create = state.get(("m.room.create", ""))
        if create is None or predecessor_of(create.content) != old_room_id:
            return False
        if (GROUP_STATE_TYPE, "") not in state:
            return True
        # The group already carried over: the same room's repeated tombstone changes nothing.
        record = await self._store.by_room(new_room_id)
        return record is not None and record.predecessor_room_id == old_room_id

    # -- changes by owners and staff ---------------------------------------------------------

    async def set_category(self, actor: str, record: GroupRecord, category: str) -> GroupRecord:
        """The creator (or staff) changes the category; high-risk categories vet the creator (Art. 8)."""
        policy = self._policy
        owner = await self._facts.user(record.creator)
        if not (decision := decisions.may_change_category(owner, category, policy)).allowed:
            assert decision.reason is not None
            raise Refusal(decision.reason, decision.detail)
        updated = await self.change(record, category=category)
        await self._audit.append(actor, "group.category", record.code, {"from": record.category, "to": category})
        return updated

    async def change(
        self,
        record: GroupRecord,
        members: int = 0,
        *,
        category: str | None = None,
        activity_tier: str | None = None,
        scale_tier: str | None = None,
    ) -> GroupRecord:
        """A group's category or tiers change: stored, shown in its state event, enforced (Art. 7, 8).

        Where the changed group now needs approval to join, its public join rule is switched
        to knocking. The event follower (at a member change), the hourly tier job and
        the creator's category change all come here, whichever sees a change first.

        Args:
            record: The group as it was.
            members: Its member count, if known (the larger tier of the two decides).
            category: The new category, if it changes.
            activity_tier: The new activity tier, if it changes.
            scale_tier: The new scale tier, if it changes.
        """
        assert record.room_id is not None
        updated = dataclasses.replace(
            record,
            category=category or record.category,
            activity_tier=activity_tier or record.activity_tier,
            scale_tier=scale_tier or record.scale_tier,
        )
        changed = {
            field: getattr(updated, field)
            for field in ("category", "activity_tier", "scale_tier")
            if getattr(updated, field) != getattr(record, field)
        }
        if not changed:
            return record
        await self._store.update(record.code, **changed)
        await self.record.invalidate_everywhere(record.room_id)
        # The registry's record, not `updated`: `record` may predate another change of the group.
        await self._state.align_group_state(record.room_id, functools.partial(self.record.get, record.room_id))
        if decisions.needs_join_approval(group_facts(updated, members, "public"), self._policy):
            await self._state.ensure_knock(record.room_id)
        return updated

    async def retire(self, room_id: str) -> None:
        """The room was closed (关闭群组): its code is retired for good and never handed out again.

        Called from the sanctions follow-up, which may repeat: idempotent.
        """
        record = await self._store.by_room(room_id)
        if record is None or record.retired:
            return
        await self._store.update(record.code, retired_ts=self._clock.now_ms())
        await self.record.invalidate_everywhere(room_id)
        await self._audit.append("module:groups", "group.retire", record.code, {"room": room_id})

    async def reopen(self, room_id: str, closed_since_ms: int) -> None:
        """The room's closure was lifted (an appeal upheld, staff's decision): the group is back, code and all.

        Called from the measures service when no closure or blacklisting holds the room any
        more; the code goes back to the room it was retired with, never to another. A group
        retired before the closure began (dissolved by its owner) stays retired. Idempotent.
        """
        record = await self._store.by_room(room_id)
        if record is None or record.retired_ts is None or record.retired_ts < closed_since_ms:
            return
        await self._store.update(record.code, retired_ts=None)
        await self.record.invalidate_everywhere(room_id)
        await self._audit.append("module:groups", "group.reopen", record.code, {"room": room_id})

    async def grant_tier(self, actor: str, record: GroupRecord, tier: str, reason: str) -> GroupRecord:
        """A staff decision lets a room grow beyond its owner's bound (up to the ceiling)."""
        if not (decision := decisions.may_set_tier(None, tier, self._policy, staff_decision=True)).allowed:
            raise Refusal(Reason.TIER_NOT_ALLOWED, decision.detail)
        await self._store.update(record.code, granted_tier=tier)
        assert record.room_id is not None
        await self.record.invalidate_everywhere(record.room_id)
        await self._audit.append(actor, "group.grant_tier", record.code, {"tier": tier, "reason": reason})
        return dataclasses.replace(record, granted_tier=tier)

    async def link_pending(self) -> None:
        """Link every room created so far (before listing rooms by category, e.g. for notices)."""
        for code in await self._store.unlinked_before(self._clock.now_ms()):
            await self.by_code(code)
