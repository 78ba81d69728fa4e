"""Groups (群组): codes, categories, tiers, caps, join approval, upgrades (Art. 7, 8, 9).

Every room created on the server becomes a governed group at creation
(`shape_new_room`, called from `on_create_room` with the real request dict):
it gets a unique code in the `cn.qunzu.group` state event and as the alias
`#<code>:<server>`, the service account is invited with the power to act, and
the creator's right to create it is decided with an exact count of the rooms
they own. Afterwards, following Synapse's event stream (`event_stream.py`), it
links the code to the room id, keeps the scale tier in step with the membership
and carries the group over on upgrade.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synapse.module_api import EventBase
from synapse.module_api.errors import Codes, SynapseError

from policies import Decision, Reason, RoomFacts, UserFacts, decisions
from policies.codes import new_code
from policies.constants import DAY_MS, GROUP_STATE_TYPE, SERVER_ACL_STATE_TYPE
from policies.decisions import PROTECTED_STATE_TYPES, required_join_rule
from policies.federation import acl_matches_policy, may_take_part, server_acl_content
from policies.private_chats import is_private_chat_request
from policies.roles import override_names_creator, room_creators, version_change_keeps_creators
from policies.tiers import activity_tier_of, level_rules, scale_tier_of

from .errors import Refusal
from .event_stream import StreamEvent
from .refusals import refusal_error
from .room_versions import DefaultRoomVersion
from .store.groups import PENDING_MS, GroupRecord, NewGroup, Reservation
from .texts import text
from .verification_chat import shape_bot_chat

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .clock import Clock
    from .config import QunzuConfig
    from .facts import FactsSource
    from .group_alias import CodeAliases
    from .group_records import GroupRecords
    from .notices import Notifier
    from .refusal_notices import BotChatNotices
    from .store.audit import AuditStore
    from .store.groups import GroupStore

logger = logging.getLogger(__name__)

CATEGORY_KEY = "cn.qunzu.category"
_CODE_CANDIDATES = 5
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


def _check_override_shape(config: Mapping[str, Any]) -> None:
    """Power levels in a creation request and their `users` must be objects (else Synapse answers 500).

    Raises:
        SynapseError: 400 M_BAD_JSON, before anything is reserved or created.
    """
    override = config.get("power_level_content_override")
    if override is not None and not isinstance(override, Mapping):
        raise SynapseError(400, "power_level_content_override must be an object", Codes.BAD_JSON)
    if override is not None and not _is_users_map(override.get("users")):
        raise SynapseError(400, "power_level_content_override.users must be an object", Codes.BAD_JSON)
    for event in config.get("initial_state") or []:
        if isinstance(event, Mapping) and event.get("type") == "m.room.power_levels":
            content = event.get("content")
            if not isinstance(content, Mapping) or not _is_users_map(content.get("users")):
                raise SynapseError(400, "m.room.power_levels in initial_state must be an object", Codes.BAD_JSON)


def _is_users_map(users: object) -> bool:
    return users is None or (isinstance(users, Mapping) and all(isinstance(user, str) for user in users))


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


class Groups:
    """The group registry and the rules that keep rooms in step with it."""

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
        code_aliases: CodeAliases,
        notices: BotChatNotices,
        notifier: Notifier,
    ) -> None:
        self._api = api
        self._clock = clock
        self._config = config
        self._policy = config.policy
        self._store = store
        self._audit = audit
        self._facts = facts
        self._code_aliases = code_aliases
        self._notices = notices
        self._notifier = notifier
        # Read by every message and join: the group of a room (group_records.py).
        self.record = records
        # (room_id, code) of group events the module itself is about to send as a
        # room's creator (upgrades, backfill): the protected-state check lets exactly those pass.
        self._own_writes: set[tuple[str, str]] = set()
        # Per person, the room and time of the last join this process let through without
        # holding a place (see decide_join); it counts for them until it lands or expires.
        self._unheld: dict[str, tuple[str, int]] = {}
        self.default_room_version = DefaultRoomVersion(api, clock, config)

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

    # -- creation ------------------------------------------------------------------------

    async def shape_new_room(self, user_id: str, config: dict[str, Any]) -> None:
        """Decide a creation and shape the request into a governed group.

        Raises:
            SynapseError: the creation is refused (invalid_category, create_limit, …).
        """
        policy = self._policy
        service = self.service_account
        # Art. 6: a bot chat (registered, but not a group) is forced closed before anything reads the request.
        owner = shape_bot_chat(config, user_id, service)
        verification_dm = owner is not None
        _check_override_shape(config)
        initial = [
            event
            for event in config.get("initial_state") or []
            if not (isinstance(event, dict) and event.get("type") in PROTECTED_STATE_TYPES)
        ]
        # Art. 8: code-shaped addresses belong to the groups (group_alias.py); refused before anything exists.
        alias_name = config.get("room_alias_name")
        if (
            isinstance(alias_name, str)
            and not (alias := decisions.may_create_alias(alias_name, group_alias_by_module=False)).allowed
        ):
            raise self._refusal(alias)
        # DESIGN.md §6.2: a direct chat nobody else can reach is a private chat, not a group.
        private = not verification_dm and is_private_chat_request(
            config, user_id, service, policy.categories.default_category
        )
        creation = config.get("creation_content") or {}
        category = creation.pop(CATEGORY_KEY, policy.categories.default_category)
        if not isinstance(category, str):
            category = repr(category)
        if not (decision := decisions.may_set_category(category, policy)).allowed:
            raise self._refusal(decision)

        user = await self._facts.user(user_id)
        if not verification_dm and not user.exempt:
            # Named creators are the request's own choice: refused when one may not hold the power.
            if not (decision := await self.vet_co_creators(creation.get("additional_creators"))).allowed:
                raise self._refusal(decision)
            # The preset's creators are a client's convenience (direct chats): plain members instead.
            if (
                config.get("preset") == "trusted_private_chat"
                and not (await self.vet_co_creators(list(config.get("invite") or []))).allowed
            ):
                config["preset"] = "private_chat"
        rule = None
        enter = None
        if verification_dm:
            # The bot chat stays open to everyone (DESIGN.md §6.1): no cap applies to it.
            if not (decision := decisions.may_open_verification_chat(user)).allowed:
                raise self._refusal(decision)
        elif not user.exempt:

            def rule(owned: int) -> Decision:
                # No cap counts a private chat (DESIGN.md §6.2); all else a creation needs holds.
                counted = 0 if private else owned
                return decisions.may_create(dataclasses.replace(user, rooms_owned=counted), category, policy)

            def enter(rooms: int) -> Decision:
                return decisions.may_be_in_one_more_room(dataclasses.replace(user, rooms_joined=rooms), policy)

        first_tier = policy.scale_tiers.tiers[0].name
        group = NewGroup(
            codes=tuple(new_code() for _ in range(_CODE_CANDIDATES)),
            category=category,
            creator=user_id,
            scale_tier=first_tier,
            activity_tier=activity_tier_of(0, policy),
            verification_dm=verification_dm,
            private_chat=private,
        )
        if owner == user_id and not user.exempt:
            reservation = await self._store.reserve_bot_chat(
                group, lambda room, has_open: decisions.may_open_verification_chat(user, room, has_open=has_open)
            )
        else:
            reservation = await self._store.reserve(group, rule, enter)
        if reservation.decision.reason is Reason.BOT_CHAT_EXISTS:
            raise await self._back_to_bot_chat(user_id, reservation)
        if not reservation.decision.allowed or reservation.code is None:
            raise self._refusal(reservation.decision)
        code = reservation.code
        record = GroupRecord(
            code,
            None,
            category,
            user_id,
            self._clock.now_ms(),
            first_tier,
            group.activity_tier,
            None,
            verification_dm,
            None,
            None,
            private_chat=private,
        )
        initial.append({"type": GROUP_STATE_TYPE, "state_key": "", "content": group_content(record)})
        # Art. 6: other servers' people are kept out at the protocol level (this server and partners).
        initial.append({"type": SERVER_ACL_STATE_TYPE, "state_key": "", "content": self.server_acl()})
        facts = self._facts_of(record, member_count=0, join_rule="invite")
        if not verification_dm and decisions.needs_join_approval(facts, policy):
            # Art. 8 join verification: high-risk categories need approval at any size.
            initial = [e for e in initial if not (isinstance(e, dict) and e.get("type") == "m.room.join_rules")]
            initial.append({"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}})
        config["initial_state"] = initial
        if creation:
            config["creation_content"] = creation
        invites = list(config.get("invite") or [])
        if service not in invites and user_id != service:
            config["invite"] = [*invites, service]
        await self._grant_service_power(config, user_id)
        if not config.get("room_alias_name") and not verification_dm and not private:
            config["room_alias_name"] = code
            self._code_aliases.expect(user_id, code)

    async def _back_to_bot_chat(self, user_id: str, reservation: Reservation) -> SynapseError:
        """A second verification chat: the person is sent back to theirs (Art. 6).

        Clients may hide the refusal's text (DESIGN.md §6.3), so the bot also says
        so in the chat they have: it comes up with an unread message.
        """
        room_id = reservation.decision.detail.get("room_id")
        if room_id is None and reservation.existing_code is not None:
            record = await self.by_code(reservation.existing_code)  # created a moment ago: link it
            room_id = record.room_id if record is not None else None
        if isinstance(room_id, str):
            language = self._config.language
            await self._notifier.to_room(room_id, text("bot_chat_here", language))
            logger.info("qunzu: a second verification chat was refused; the person was pointed to theirs")
        return self._refusal(Decision.refuse(Reason.BOT_CHAT_EXISTS, room_id=room_id))

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

    async def _grant_service_power(self, config: dict[str, Any], creator: str) -> None:
        """The service account acts for the platform in every room (kicks, state, tiers).

        The override gets the service account in the shape the room's version needs:
        before version 12 an override's `users` must name the creator, from version 12
        (MSC4289) it must not. The version is the one the request names, else the
        server's `default_room_version` as Synapse announces it (room_versions.py).
        While neither is known (the look-up failed, or a version unknown to Synapse
        1.163), no `users` map of the module's making is added, Synapse's own defaults
        give the creator their power, and the creator grants the service account its
        power right after creation (`ensure_service_power`). docs/groups.md.
        """
        service = self.service_account
        if creator == service or config.get("preset") == "trusted_private_chat":
            return  # invitees of a trusted private chat are creators (v12) or get 100 already
        for event in config.get("initial_state") or []:
            if isinstance(event, dict) and event.get("type") == "m.room.power_levels":
                content = event.setdefault("content", {})
                content["users"] = {**(content.get("users") or {}), service: 100}
                return
        override = dict(config.get("power_level_content_override") or {})  # its shape: _check_override_shape
        users = override.get("users")
        version = config["room_version"] if "room_version" in config else await self.default_room_version.get()
        names_creator = override_names_creator(version)
        if names_creator is False:
            users = {user: level for user, level in dict(users or {}).items() if user != creator}
        elif names_creator is True:
            users = {creator: 100, **dict(users or {})}
        elif not isinstance(users, dict):
            return  # the server's default version decides the shape: granted after creation
        override["users"] = {**users, service: 100}
        config["power_level_content_override"] = override

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

    def _refusal(self, decision: Decision) -> SynapseError:
        assert decision.reason is not None
        return refusal_error(Refusal(decision.reason, decision.detail), self._config)

    # -- facts -----------------------------------------------------------------------

    async def room_facts(self, room_id: str, *, count_members: bool = False) -> RoomFacts:
        """Facts of a room; the member count is read only when asked (invites, the info page)."""
        record = await self.record.get(room_id) or await self._upgraded_from(room_id)
        members = await self._store.member_count(room_id, self.service_account) if count_members else 0
        creator = record.creator if record is not None else await self._store.room_creator(room_id)
        owner = await self._facts.user(creator) if creator is not None else None
        # Art. 8: the owner's level bounds the room, also in the moment before the code is
        # linked (so joins racing a creation on other processes see the same cap).
        owner_level = None if owner is None or owner.exempt else self._facts.level_of(owner)
        if record is None:
            return dataclasses.replace(self._ungoverned(room_id, members), owner_level=owner_level)
        facts = self._facts_of(record, members, join_rule="invite")
        return dataclasses.replace(facts, room_id=room_id, owner_level=owner_level)

    async def _upgraded_from(self, room_id: str) -> GroupRecord | None:
        """The group of the room this one upgrades, in the moment before the group is carried over.

        The follower moves the group a second after the tombstone; until then the new
        room is judged as its group (category freezes, join approval, the owner's bound).
        """
        state = await self._api.get_room_state(room_id, [("m.room.create", "")])
        create = state.get(("m.room.create", ""))
        predecessor = predecessor_of(create.content) if create is not None else None
        if predecessor is None:
            return None
        record = await self._store.by_room(predecessor)
        if record is None or not await self.is_upgrade_of(predecessor, room_id):
            return None
        return record

    def _facts_of(self, record: GroupRecord, member_count: int, join_rule: str) -> RoomFacts:
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
        invite_confirmed: bool = True,
    ) -> Decision:
        """`may_join`, exact under concurrent joins (Art. 8).

        Args:
            user: The joiner's facts.
            room: The room's facts.
            is_invited: Whether the joiner holds an invite.
            counts: `join_counts` read just before, if the caller already has them.
            invite_confirmed: Whether the invite counts as approval (invite_confirmation.py).
        """
        policy = self._policy
        now = self._clock.now_ms()

        def rule(members: int, rooms_joined: int) -> Decision:
            return decisions.may_join(
                dataclasses.replace(user, rooms_joined=rooms_joined),
                dataclasses.replace(room, member_count=members),
                is_invited,
                now,
                policy,
                invite_confirmed=invite_confirmed,
            )

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
        if members + FAST_MARGIN < room_cap and rooms_joined + FAST_MARGIN < level_cap and unheld is None:
            decision = rule(members, rooms_joined)
            if decision.allowed:
                self._remember_unheld(user.user_id, room.room_id, now)
            return decision
        pending = () if unheld is None else (unheld,)
        return await self._store.check_join(room.room_id, user.user_id, self.service_account, rule, pending)

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

    def is_own_write(self, event: EventBase) -> bool:
        """A group event or server ACL the module itself is sending as a room's creator or upgrader right now."""
        if event.type == SERVER_ACL_STATE_TYPE:
            return (event.room_id, SERVER_ACL_STATE_TYPE) in self._own_writes
        return (
            event.type == GROUP_STATE_TYPE and (event.room_id, str(event.content.get("code", ""))) in self._own_writes
        )

    def check_state_change(self, event: EventBase, room: RoomFacts) -> Decision:
        """Protected group state and the join rule a room needs (Art. 8)."""
        if event.type in PROTECTED_STATE_TYPES:
            if event.sender == self.service_account or self.is_own_write(event):
                return Decision.allow()
            return decisions.may_change_state(False, event.type)
        if event.type == "m.room.join_rules" and event.sender != self.service_account:
            wanted = dataclasses.replace(room, join_rule=str(event.content.get("join_rule", "")))
            if required_join_rule(wanted, self._policy) is not None:
                return Decision.refuse(Reason.JOIN_APPROVAL_REQUIRED, tier=room.tier, category=room.category)
        return Decision.allow()

    # -- upgrades -----------------------------------------------------------------------------

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
        owned = 0 if user.exempt else await self._store.owned(user_id)
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

    # -- after persistence ------------------------------------------------------------------

    async def on_events(self, events: list[StreamEvent]) -> None:
        """Keep the registry in step with persisted events (an `EventStream` subscriber).

        Runs on the background-task instance, a second behind; every step is
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
                await self.ensure_service_power(event.room_id)
            # Join the service account at once: the room is governed even while the bot is down.
            await self._api.update_room_membership(service, service, event.room_id, "join")
            if group and record is not None and not record.private_chat:
                # A room whose creator chose an address of their own gets its #<code> too (Art. 8).
                await self._code_aliases.ensure(record.code, event.room_id)
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
            await self._store.update(record.code, scale_tier=tier)
            await self.record.invalidate_everywhere(room_id)
            updated = dataclasses.replace(record, scale_tier=tier)
            await self.send_group_state(updated)
            if decisions.needs_join_approval(self._facts_of(updated, members, "public"), self._policy):
                await self._ensure_knock(room_id)

    async def _ensure_knock(self, room_id: str) -> None:
        state = await self._api.get_room_state(room_id, [("m.room.join_rules", "")])
        rules = state.get(("m.room.join_rules", ""))
        if rules is not None and rules.content.get("join_rule") == "public":
            await self._send_as_service(room_id, "m.room.join_rules", {"join_rule": "knock"})

    async def send_group_state(self, record: GroupRecord) -> None:
        assert record.room_id is not None
        await self._send_as_service(record.room_id, GROUP_STATE_TYPE, group_content(record))

    async def _send_as_service(self, room_id: str, event_type: str, content: Mapping[str, Any]) -> None:
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
        if not await self.is_upgrade_of(tombstone.room_id, new_room_id):
            logger.warning("qunzu: a tombstone that names no upgrade of its room left the group where it was")
            return
        record = await self._store.move_to_successor(tombstone.room_id, new_room_id)
        if record is None:
            return
        await self.record.invalidate_everywhere(tombstone.room_id)
        await self.record.invalidate_everywhere(new_room_id)
        await self._send_as(tombstone.sender, record)
        await self._api.update_room_membership(tombstone.sender, self.service_account, new_room_id, "invite")
        # Art. 8 join verification: a join rule opened in the new room before the group arrived.
        members = await self._store.member_count(new_room_id, self.service_account)
        if decisions.needs_join_approval(self._facts_of(record, members, "public"), self._policy):
            await self._ensure_knock(new_room_id)
        # Synapse copies the old room's ACL; the policy may have changed since it was written.
        await self.ensure_server_acl(new_room_id)
        await self._audit.append(
            tombstone.sender, "group.upgrade", record.code, {"from": tombstone.room_id, "to": new_room_id}
        )

    async def _send_as(self, sender: str, record: GroupRecord) -> None:
        """Send the group event as a member with power (upgrader, creator), marked as the module's own."""
        assert record.room_id is not None
        own = (record.room_id, record.code)
        self._own_writes.add(own)
        try:
            await self._api.create_and_send_event_into_room(
                {
                    "type": GROUP_STATE_TYPE,
                    "state_key": "",
                    "room_id": record.room_id,
                    "sender": sender,
                    "content": group_content(record),
                }
            )
        finally:
            self._own_writes.discard(own)

    # -- changes by owners and staff ---------------------------------------------------------

    async def set_category(self, actor: str, record: GroupRecord, category: str) -> GroupRecord:
        """The creator (or staff) changes the category; high-risk categories vet the creator (Art. 8)."""
        policy = self._policy
        owner = await self._facts.user(record.creator)
        if not (decision := decisions.may_change_category(owner, category, policy)).allowed:
            assert decision.reason is not None
            raise Refusal(decision.reason, decision.detail)
        await self._store.update(record.code, category=category)
        updated = dataclasses.replace(record, category=category)
        assert record.room_id is not None
        await self.record.invalidate_everywhere(record.room_id)
        await self.send_group_state(updated)
        if decisions.needs_join_approval(self._facts_of(updated, 0, "public"), policy):
            await self._ensure_knock(record.room_id)
        await self._audit.append(actor, "group.category", record.code, {"from": record.category, "to": category})
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

    async def _link_orphans(self) -> int:
        """Link codes whose group event was persisted but never processed (a crash in between)."""
        unlinked = await self._store.unlinked_before(self._clock.now_ms() - PENDING_MS)
        if not unlinked:
            return 0
        linked = 0
        for room_id, body in await self._store.current_group_events(GROUP_STATE_TYPE):
            code = json.loads(body).get("content", {}).get("code")
            if code in unlinked and await self._store.link(code, room_id):
                await self.record.invalidate_everywhere(room_id)
                linked += 1
        return linked

    async def refresh_tiers(self) -> dict[str, Any]:
        """Job: activity tiers from messages in the window, scale tiers from members (Art. 7)."""
        linked = await self._link_orphans()
        policy = self._policy
        window_ms = policy.activity_tiers.window_days * DAY_MS
        messages = await self._store.messages_since(self._clock.now_ms() - window_ms)
        changed = 0
        after = ""
        while batch := await self._store.active_groups(after, 200):
            for record in batch:
                assert record.room_id is not None
                activity = activity_tier_of(messages.get(record.room_id, 0), policy)
                scale = scale_tier_of(await self._store.member_count(record.room_id, self.service_account), policy)
                if (activity, scale) != (record.activity_tier, record.scale_tier):
                    await self._store.update(record.code, activity_tier=activity, scale_tier=scale)
                    await self.record.invalidate_everywhere(record.room_id)
                    await self.send_group_state(dataclasses.replace(record, activity_tier=activity, scale_tier=scale))
                    changed += 1
            after = batch[-1].code
        return {"changed": changed, "linked": linked}

    async def backfill(self) -> dict[str, Any]:
        """Job: rooms that existed before Qunzu was installed get codes (once; later runs find none)."""
        policy = self._policy
        registered = 0
        after = ""
        while rooms := await self._store.rooms_page(after, 200):
            for room_id, creator in rooms:
                # A room created with Qunzu but not linked yet carries its group event: link it.
                if await self.record.get(room_id) is not None:
                    continue
                # A creation under way by the same person may be this very room, its state not
                # written yet: a code of its own would leave the reserved one counting against
                # the owner's cap. It links itself in a moment; a later run finds what does not.
                if creator and await self._store.creating(creator, self._clock.now_ms() - PENDING_MS):
                    continue
                # A fresh upgrade waits for its predecessor's group (the follower carries it over).
                if await self._upgraded_from(room_id) is not None:
                    continue
                group = NewGroup(
                    codes=tuple(new_code() for _ in range(_CODE_CANDIDATES)),
                    category=policy.categories.default_category,
                    creator=creator or self.service_account,
                    scale_tier=scale_tier_of(await self._store.member_count(room_id, self.service_account), policy),
                    activity_tier=activity_tier_of(0, policy),
                    verification_dm=False,
                )
                code = await self._store.register_existing(room_id, group)
                if code is None:
                    continue
                registered += 1
                record = await self._store.by_room(room_id)
                if record is not None and creator and self._api.is_mine(creator):
                    try:
                        await self._send_as(creator, record)
                        await self._send_acl_as(creator, room_id)
                    except SynapseError as exc:
                        logger.info("qunzu: backfilled code kept in the registry only: %s", exc.msg)
            after = rooms[-1][0]
        if registered:
            await self._audit.append("module:jobs", "group.backfill", "groups", {"rooms": registered})
        return {"registered": registered}

    # -- the server ACL (Art. 6) ---------------------------------------------------------------

    def server_acl(self) -> dict[str, Any]:
        """The `m.room.server_acl` content the policy asks of every governed room."""
        return server_acl_content(self._api.server_name, self._policy)

    async def ensure_server_acl(self, room_id: str) -> bool:
        """Send the policy's ACL into the room as the service account unless it is there already.

        Returns:
            Whether an ACL was sent.
        """
        state = await self._api.get_room_state(room_id, [(SERVER_ACL_STATE_TYPE, "")])
        current = state.get((SERVER_ACL_STATE_TYPE, ""))
        if current is not None and acl_matches_policy(current.content, self._api.server_name, self._policy):
            return False
        await self._send_as_service(room_id, SERVER_ACL_STATE_TYPE, self.server_acl())
        return True

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

    async def _send_acl_as(self, sender: str, room_id: str) -> None:
        """Send the ACL as a member with power (a backfilled room's creator), marked as the module's own."""
        own = (room_id, SERVER_ACL_STATE_TYPE)
        self._own_writes.add(own)
        try:
            await self._api.create_and_send_event_into_room(
                {
                    "type": SERVER_ACL_STATE_TYPE,
                    "state_key": "",
                    "room_id": room_id,
                    "sender": sender,
                    "content": self.server_acl(),
                }
            )
        finally:
            self._own_writes.discard(own)

    async def reconcile_server_acls(self) -> dict[str, Any]:
        """Job (and at start): every governed room's ACL follows the policy, also after it changed.

        Rooms are found by their group event (a room created just before a restart may not be
        linked in the registry yet); closed ones are left alone. One query reads every room's
        current ACL; only rooms whose ACL differs are written.
        """
        current = {room_id: body for room_id, body in await self._store.current_group_events(SERVER_ACL_STATE_TYPE)}
        wanted = self.server_acl()
        updated = failed = 0
        for room_id, _body in await self._store.current_group_events(GROUP_STATE_TYPE):
            body = current.get(room_id)
            if body is not None and json.loads(body).get("content") == wanted:
                continue
            try:
                record = await self.record.get(room_id)  # links a room not linked yet
                if record is None or record.retired:
                    continue
                if await self.ensure_server_acl(room_id):
                    updated += 1
            except Exception:
                # Per room: one room's trouble must not hold up the others; the next run retries.
                logger.exception("qunzu: updating the server ACL of a room failed")
                failed += 1
        return {"updated": updated, "failed": failed}
