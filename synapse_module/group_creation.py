"""A room's creation, decided and shaped into a governed group (Art. 6, 7, 8).

`shape_new_room` is called from `on_create_room` with the real request dict,
before Synapse creates anything: the creator's right to create is decided with
an exact count of the rooms they own (a place is reserved in the same
transaction), and the request is changed so that the room is born a group: the
`cn.qunzu.group` event with a fresh unique code, the server ACL, the join rule
approval needs, the service account invited with the power to act, and the
`#<code>` alias. What follows once the room exists is `group_follower.py`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from synapse.module_api.errors import SynapseError

from policies import Decision, Reason, RoomFacts, decisions
from policies.codes import new_codes
from policies.constants import GROUP_STATE_TYPE, SERVER_ACL_STATE_TYPE
from policies.decisions import PROTECTED_STATE_TYPES
from policies.event_texts import create_request_texts
from policies.private_chats import is_private_chat_request
from policies.roles import override_names_creator
from policies.tiers import activity_tier_of

from .errors import InvalidInput
from .group_state import group_content
from .groups import group_facts
from .refusals import decision_error
from .room_versions import DefaultRoomVersion
from .store.groups import GroupRecord, NewGroup, Reservation
from .texts import text
from .verification_chat import shape_bot_chat

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .clock import Clock
    from .config import QunzuConfig
    from .facts import FactsSource
    from .group_alias import CodeAliases
    from .group_state import GroupState
    from .groups import Groups
    from .notices import Notifier
    from .store.groups import GroupStore

logger = logging.getLogger(__name__)

BAD_JSON = "M_BAD_JSON"

#: The key of a creation's `creation_content` that names the group's category.
CATEGORY_KEY = "cn.qunzu.category"


def _list_of(kind: type) -> Callable[[object], bool]:
    return lambda value: isinstance(value, list) and all(isinstance(item, kind) for item in value)


# The createRoom fields the module reads: the JSON shape each must have when given, as told.
_REQUEST_SHAPES: Mapping[str, tuple[Callable[[object], bool], str]] = {
    "invite": (_list_of(str), "a list of user ids"),
    "invite_3pid": (_list_of(Mapping), "a list of objects"),
    "initial_state": (_list_of(Mapping), "a list of objects"),
    "creation_content": (lambda value: isinstance(value, Mapping), "an object"),
}


def check_request_shape(config: Mapping[str, Any]) -> None:
    """The fields of a createRoom request the module reads have their JSON shape (else Synapse answers 500).

    Raises:
        InvalidInput: 400 M_BAD_JSON naming the field, before anything is read, reserved or created.
    """
    for name, (well_formed, shape) in _REQUEST_SHAPES.items():
        if name in config and not well_formed(config[name]):
            raise InvalidInput(f"{name} must be {shape}", errcode=BAD_JSON)


def _member_state_to_invites(config: dict[str, Any]) -> None:
    """Membership events in a creation's `initial_state` become entries of `invite`.

    Synapse sends `initial_state` as the creator's state without asking `user_may_invite`,
    so an invite there would skip every invite rule; through `invite` it is asked.

    Raises:
        InvalidInput: 400 M_BAD_JSON for a membership other than an invite of a user id.
    """
    raw = config.get("initial_state")
    if not isinstance(raw, list):
        return
    kept, invited = [], []
    for event in raw:
        if not (isinstance(event, Mapping) and event.get("type") == "m.room.member"):
            kept.append(event)
            continue
        content, invitee = event.get("content"), event.get("state_key")
        if not (isinstance(content, Mapping) and content.get("membership") == "invite" and isinstance(invitee, str)):
            raise InvalidInput(
                "initial_state may hold membership events only as invites; use 'invite'", errcode=BAD_JSON
            )
        invited.append(invitee)
    if invited:
        listed = config.get("invite")
        if listed is not None and not isinstance(listed, list):
            raise InvalidInput("invite must be a list of user ids", errcode=BAD_JSON)
        config["initial_state"] = kept
        config["invite"] = [*(listed or []), *dict.fromkeys(invited)]


def _check_override_shape(config: Mapping[str, Any]) -> None:
    """Power levels in a creation request and their `users` must be objects (else Synapse answers 500).

    Raises:
        InvalidInput: 400 M_BAD_JSON, before anything is reserved or created.
    """
    override = config.get("power_level_content_override")
    if override is not None and not isinstance(override, Mapping):
        raise InvalidInput("power_level_content_override must be an object", errcode=BAD_JSON)
    if override is not None and not _is_users_map(override.get("users")):
        raise InvalidInput("power_level_content_override.users must be an object", errcode=BAD_JSON)
    for event in config.get("initial_state") or []:
        if isinstance(event, Mapping) and event.get("type") == "m.room.power_levels":
            content = event.get("content")
            if not isinstance(content, Mapping) or not _is_users_map(content.get("users")):
                raise InvalidInput("m.room.power_levels in initial_state must be an object", errcode=BAD_JSON)


def _is_users_map(users: object) -> bool:
    return users is None or (isinstance(users, Mapping) and all(isinstance(user, str) for user in users))


class GroupCreation:
    """Decides each `createRoom` and shapes it into a governed group."""

    def __init__(
        self,
        api: ModuleApi,
        clock: Clock,
        config: QunzuConfig,
        *,
        store: GroupStore,
        groups: Groups,
        state: GroupState,
        facts: FactsSource,
        code_aliases: CodeAliases,
        notifier: Notifier,
    ) -> None:
        self._api = api
        self._clock = clock
        self._config = config
        self._policy = config.policy
        self._store = store
        self._groups = groups
        self._state = state
        self._facts = facts
        self._code_aliases = code_aliases
        self._notifier = notifier
        self.default_room_version = DefaultRoomVersion(api, clock, config)

    @property
    def service_account(self) -> str:
        return self._config.service_account

    async def shape_new_room(self, user_id: str, config: dict[str, Any]) -> None:
        """Decide a creation and shape the request into a governed group.

        Raises:
            SynapseError: the creation is refused (invalid_category, create_limit, …).
        """
        policy = self._policy
        service = self.service_account
        # Art. 6: invites are decided by `user_may_invite`, which Synapse asks for `invite` only.
        _member_state_to_invites(config)
        # Art. 6: a bot chat (registered, but not a group) is forced closed before anything reads the request.
        owner = shape_bot_chat(config, user_id, service)
        verification_dm = owner is not None
        _check_override_shape(config)
        # Art. 8, 11: the platform keeps its powers from the room's first moment (Groups.check_power_levels later).
        if user_id != service and not (levels := self._groups.check_requested_power_levels(config)).allowed:
            raise decision_error(levels, self._config)
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
            raise decision_error(alias, self._config)
        # DESIGN.md §6.2: a direct chat nobody else can reach is a private chat, not a group.
        private = not verification_dm and is_private_chat_request(
            config, user_id, service, policy.categories.default_category
        )
        creation = config.get("creation_content") or {}
        category = creation.pop(CATEGORY_KEY, policy.categories.default_category)
        if not isinstance(category, str):
            category = repr(category)
        if not (decision := decisions.may_set_category(category, policy)).allowed:
            raise decision_error(decision, self._config)

        user = await self._facts.user(user_id)
        if not verification_dm and not user.exempt:
            # Named creators are the request's own choice: refused when one may not hold the power.
            if not (decision := await self._groups.vet_co_creators(creation.get("additional_creators"))).allowed:
                raise decision_error(decision, self._config)
            # The preset's creators are a client's convenience (direct chats): plain members instead.
            if (
                config.get("preset") == "trusted_private_chat"
                and not (await self._groups.vet_co_creators(list(config.get("invite") or []))).allowed
            ):
                config["preset"] = "private_chat"
            # Art. 11: Synapse asks nobody who may publish what a creation carries (name, topic,
            # state): they go out as the creator's, so whoever may not post may not publish them here.
            if create_request_texts(config):
                first = policy.scale_tiers.tiers[0].name
                new_room = RoomFacts("", category, 0, first, False, None, False, "invite", None)
                publish = decisions.may_post(user, new_room, self._clock.now_ms(), policy, is_message=False)
                if not publish.allowed:
                    raise decision_error(publish, self._config)
        rule = None
        enter = None
        if verification_dm:
            # The bot chat stays open to everyone (DESIGN.md §6.1): no cap applies to it.
            if not (decision := decisions.may_open_verification_chat(user)).allowed:
                raise decision_error(decision, self._config)
        elif not user.exempt:

            def rule(owned: int) -> Decision:
                # No cap counts a private chat (DESIGN.md §6.2); all else a creation needs holds.
                counted = 0 if private else owned
                return decisions.may_create(dataclasses.replace(user, rooms_owned=counted), category, policy)

            def enter(rooms: int) -> Decision:
                return decisions.may_be_in_one_more_room(dataclasses.replace(user, rooms_joined=rooms), policy)

        first_tier = policy.scale_tiers.tiers[0].name
        group = NewGroup(
            codes=new_codes(),
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
            raise decision_error(reservation.decision, self._config)
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
        initial.append({"type": SERVER_ACL_STATE_TYPE, "state_key": "", "content": self._state.server_acl()})
        facts = group_facts(record, member_count=0, join_rule="invite")
        if not verification_dm and decisions.needs_join_approval(facts, policy):
            # Art. 8 join verification: high-risk categories need approval at any size.
            initial = [e for e in initial if not (isinstance(e, dict) and e.get("type") == "m.room.join_rules")]
            initial.append({"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}})
        invites = list(config.get("invite") or [])
        if service not in invites and user_id != service:
            if verification_dm or private or config.get("preset") == "trusted_private_chat":
                # Through Synapse's invite: the bot reads `is_direct` on it, and a trusted private
                # chat's invitees get their power from being invited.
                config["invite"] = [*invites, service]
            else:
                # In the creation's batch of state rather than a membership update after it: one
                # persistence less on the request path. The follower joins the service account
                # when it sees the invite (`_membership_changed`), which wakes the bot's sync.
                initial.append({"type": "m.room.member", "state_key": service, "content": {"membership": "invite"}})
        config["initial_state"] = initial
        if creation:
            config["creation_content"] = creation
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
            record = await self._groups.by_code(reservation.existing_code)  # created a moment ago: link it
            room_id = record.room_id if record is not None else None
        if isinstance(room_id, str):
            language = self._config.language
            await self._notifier.to_room(room_id, text("bot_chat_here", language))
            logger.info("qunzu: a second verification chat was refused; the person was pointed to theirs")
        return decision_error(Decision.refuse(Reason.BOT_CHAT_EXISTS, room_id=room_id), self._config)

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
