"""Thin adapters between Synapse's callbacks and the policy engine.

Each adapter gathers facts, asks `policies.decisions`, and turns the
`Decision` into what Synapse expects. Refusals of local users are raised as
`SynapseError` so the client sees our text in the configured language and the
`cn.qunzu.reason` field; remote events get the `(Codes, dict)` form, which
soft-fails them. Unexpected errors are caught here, logged, and fail closed
where the law requires a check (posting, creating, inviting) and open where it
does not (joining stays possible if the module has a fault).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, ParamSpec

from synapse.module_api import NOT_SPAM, EventBase, ProfileInfo, Requester
from synapse.module_api.errors import Codes, SynapseError
from synapse.types import RoomAlias

from policies import Decision, Reason, RoomFacts, UserFacts, decisions, federation
from policies.timing import until_detail

from .content import MediaFile, strip_encryption
from .errors import Refusal, RequestError
from .group_creation import check_request_shape
from .metrics import record_decision
from .parallel import both
from .refusal_notices import Action, action_of
from .refusals import refusal_error, refusal_fields, refusal_of, request_error
from .texts import text
from .verification_chat import bot_chat_owner

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .admin_guard import AdminGuard
    from .appeal_refs import AppealReferences
    from .clock import Clock
    from .config import QunzuConfig
    from .content import ContentGuard
    from .facts import FactsSource
    from .group_alias import CodeAliases
    from .group_creation import GroupCreation
    from .group_state import GroupState
    from .groups import Groups
    from .health import Health
    from .holds import Holds
    from .invite_confirmation import InviteConfirmation
    from .private_chats import PrivateChats
    from .private_reports import PrivateReports
    from .profile_guard import ProfileGuard
    from .realname import RealnameService
    from .refusal_notices import BotChatNotices
    from .room_moderation import RoomModeration
    from .room_mute_all import RoomMuteAll
    from .store.groups import GroupStore

logger = logging.getLogger(__name__)

# What a member event shows of its person in the room's timeline besides a reason.
_MEMBER_LOOKS = ("displayname", "avatar_url")

SpamResult = Literal["NOT_SPAM"] | tuple[Codes, dict[str, Any]]
# Whose refusal it is, in which room, doing what: told in their bot chat (refusal_notices.py).
Told = tuple[str, str | None, Action]
P = ParamSpec("P")
Adapter = Callable[P, Awaitable[SpamResult]]


def boundary(*, fail_closed: bool) -> Callable[[Adapter[P]], Adapter[P]]:
    """Catch what escapes an adapter: log it, then refuse (fail closed) or allow."""

    def wrap(func: Adapter[P]) -> Adapter[P]:
        @functools.wraps(func)
        async def adapter(*args: P.args, **kwargs: P.kwargs) -> SpamResult:
            try:
                return await func(*args, **kwargs)
            except (SynapseError, RequestError) as error:
                callbacks = args[0]
                assert isinstance(callbacks, Callbacks)
                refused = request_error(error) if isinstance(error, RequestError) else error
                # A refusal that tells the person to appeal names what to appeal (appeal_refs.py).
                raise await callbacks.referenced(refused, args[1:]) from None
            except Exception:
                logger.exception("qunzu: %s failed; %s", func.__name__, "refusing" if fail_closed else "allowing")
                if not fail_closed:
                    return NOT_SPAM
                callbacks = args[0]
                assert isinstance(callbacks, Callbacks)
                raise callbacks.unavailable() from None

        return adapter

    return wrap


_REALNAME_REASONS = (Reason.REALNAME_REQUIRED, Reason.REALNAME_LEVEL_INSUFFICIENT, Reason.CONVENTION_NOT_ACCEPTED)


class Callbacks:
    """The module's spam-checker and third-party-rules callbacks."""

    def __init__(
        self,
        api: ModuleApi,
        clock: Clock,
        config: QunzuConfig,
        *,
        health: Health,
        facts: FactsSource,
        groups: Groups,
        group_creation: GroupCreation,
        group_state: GroupState,
        group_store: GroupStore,
        realname: RealnameService,
        content: ContentGuard,
        holds: Holds,
        room_moderation: RoomModeration,
        mute_all: RoomMuteAll,
        invite_confirmation: InviteConfirmation,
        private_chats: PrivateChats,
        private_reports: PrivateReports,
        code_aliases: CodeAliases,
        admin_guard: AdminGuard,
        appeal_refs: AppealReferences,
        notices: BotChatNotices,
        profile_guard: ProfileGuard,
    ) -> None:
        self._api = api
        self._clock = clock
        self._config = config
        self._health = health
        self._facts = facts
        self._groups = groups
        self._group_creation = group_creation
        self._group_state = group_state
        self._group_store = group_store
        self._realname = realname
        self._content = content
        self._holds = holds
        self._room_moderation = room_moderation
        self._mute_all = mute_all
        self._invite_confirmation = invite_confirmation
        self._private_chats = private_chats
        self._private_reports = private_reports
        self._code_aliases = code_aliases
        self._admin_guard = admin_guard
        self._appeal_refs = appeal_refs
        self._notices = notices
        self._profile_guard = profile_guard
        self._policy = config.policy

    async def referenced(self, error: SynapseError, args: tuple[object, ...]) -> SynapseError:
        """``error`` naming the decision it rests on, for the person whose action the callback judged."""
        event = next((arg for arg in args if isinstance(arg, EventBase)), None)
        user = event.sender if event is not None else next((a for a in args if isinstance(a, str)), None)
        if event is not None:
            room: str | None = event.room_id
        else:
            room = next((a for a in args if isinstance(a, str) and a.startswith("!")), None)
        if not isinstance(user, str) or not user.startswith("@"):
            return error
        try:
            return await self._appeal_refs.with_reference(error, user, room)
        except Exception:
            # The refusal stands without its reference; `!appeal` without one finds the decision.
            logger.exception("qunzu: finding the decision behind a refusal failed")
            return error

    def unavailable(self) -> SynapseError:
        message = text("unavailable", self._config.language)
        return SynapseError(403, message, Codes.FORBIDDEN, additional_fields={"cn.qunzu.detail": {"retry": True}})

    def _answer(self, decision: Decision, *, local: bool, tell: Told | None = None) -> SpamResult:
        """Synapse's answer to a decision; a local person's refusal is raised (and told, with `tell`).

        Args:
            tell: who did what where, for the notice in their bot chat (DESIGN.md §6.3).
        """
        if decision.allowed or decision.reason is None:
            record_decision("allowed")
            return NOT_SPAM
        detail = dict(decision.detail)
        if decision.reason in _REALNAME_REASONS:
            # Tell the person where to verify (DESIGN.md §3.3).
            detail.update(form_url=self._realname.form_url, command="!verify")
        refusal = Refusal(decision.reason, detail)
        if local:
            if tell is not None:
                self._notices.refused(tell[0], tell[1], refusal, tell[2])
            raise refusal_error(refusal, self._config)
        return Codes.FORBIDDEN, refusal_fields(refusal)

    @boundary(fail_closed=True)
    async def check_event_for_spam(self, event: EventBase) -> SpamResult:
        await self._health.ready()
        if self._group_state.is_own_write(event):
            return NOT_SPAM  # the module carrying a group over (upgrade, backfill)
        local = self._api.is_mine(event.sender)
        told: Told | None = (event.sender, event.room_id, action_of(event)) if local else None
        # Art. 6: nothing from a server the policy does not admit reaches local people.
        if not local and not (entry := self._remote_entry(event)).allowed:
            return self._answer(entry, local=False)
        room = await self._facts.room(event.room_id)
        if event.is_state() and not (change := self._groups.check_state_change(event, room)).allowed:
            return self._answer(change, local=local, tell=told)  # protected group state binds admins too
        if event.type == "m.room.redaction" and not (unsealed := await self._groups.check_redaction(event)).allowed:
            return self._answer(unsealed, local=local, tell=told)  # redacting protected state empties it
        if (
            event.type == "m.room.power_levels"
            and event.is_state()
            and not (powers := await self._groups.check_power_levels(event)).allowed
        ):
            return self._answer(powers, local=local, tell=told)  # the platform keeps its hands in every group
        if (
            event.type == "m.room.join_rules"
            and event.is_state()
            and local
            and not (
                opened := await self._private_chats.before_join_rule(
                    event.room_id, str(event.content.get("join_rule", ""))
                )
            ).allowed
        ):
            return self._answer(opened, local=True, tell=told)  # DESIGN.md §6.2: an open door makes a group
        service = self._config.service_account
        # Art. 6: a bot chat stays two-party: nobody else speaks there (a chat opened up before
        # these rules held may still hold others), and only the service account opens it up.
        if not (change := decisions.may_enter_bot_chat(room, event.sender, service)).allowed or (
            event.is_state()
            and not (change := decisions.may_change_bot_chat_state(room, event.sender, service, event.type)).allowed
        ):
            return self._answer(change, local=local, tell=told)
        # Art. 12: a report typed in a room never reaches it, so the room never learns who reported
        # (also muted and unverified members may report); the bot chat is where `!report` is answered.
        if (
            local
            and room.bot_chat_owner is None
            and event.sender != service
            and (report := self._private_reports.command_of(event)) is not None
        ):
            raise await self._private_reports.take(event, report)
        # Art. 8: the deletion of a group's #<code> alias comes here as a canonical alias update.
        if (
            event.type == "m.room.canonical_alias"
            and event.is_state()
            and local
            and not (kept := await self._code_aliases.on_canonical_alias(event)).allowed
        ):
            return self._answer(kept, local=local, tell=told)
        # A hand-made tombstone would move the group out from under its measures.
        if (
            event.type == "m.room.tombstone"
            and event.is_state()
            and not (tombstone := await self._groups.check_tombstone(event)).allowed
        ):
            return self._answer(tombstone, local=local, tell=told)
        user = await self._facts.user(event.sender)
        if user.exempt:
            return NOT_SPAM
        if not local and event.type == "m.room.member":
            return self._answer(await self._remote_membership(event, user, room), local=False)
        # Art. 11 暂停管理权限: no redacting others' messages (read only for suspended admins).
        if (
            event.type == "m.room.redaction"
            and user.admin_suspended
            and (refusal := await self._admin_guard.redaction_refusal(event)) is not None
        ):
            return self._answer(Decision(False, refusal.reason, refusal.detail), local=local, tell=told)
        # Art. 9: a room admin's mute (禁言) holds in that room only (synapse_module/room_moderation.py).
        user = await self._room_moderation.with_room_mute(user, event.room_id)
        is_message = event.type == "m.room.message" and not event.is_state()
        decision = decisions.may_post(user, room, self._clock.now_ms(), self._policy, is_message=is_message)
        if decision.allowed:
            # Art. 9 全员禁言: while on, only the room's creator and admins post (room_mute_all.py).
            decision = await self._mute_all.check(event)
        # Art. 10: content rules (None: nothing to refuse; flagged content is delivered). A held
        # message staff released is sent by this process as its sender and is not held again
        # (holds.py: a client cannot mark its own event so).
        if decision.allowed and not self._holds.is_release(event):
            decision = await self._content.check_event(event, room.category) or decision
        return self._answer(decision, local=local, tell=told)

    def _remote_entry(self, event: EventBase) -> Decision:
        """Art. 6: a remote event is let in only from an admitted server.

        Joins and knocks are sent by the person themselves, so this covers them. The room's
        server ACL judges the sending server only: a partner's member may still invite
        someone of a third server. That invite is let in and withdrawn by the service account
        at once (`GroupFollower._membership_changed`): refused, it would still enter the room's state
        with the partner's next event that builds on it (federation_guard.py). Removing such
        a person (a partner admin's kick or ban) is always let in.
        """
        return federation.may_take_part(event.sender, self._api.server_name, self._policy)

    async def _remote_membership(self, event: EventBase, user: UserFacts, room: RoomFacts) -> Decision:
        """A remote person's membership change (joins over federation skip `user_may_join_room`).

        Leaving is always possible; joining follows the join rules for local people (blacklist,
        real name by tier, closed or frozen rooms, the caps), knocking is refused to the
        blacklisted and in closed rooms, inviting follows the invite rules (an unverified person
        does not invite, Art. 6); a display name obeys the content rules (Art. 10).
        """
        membership = event.content.get("membership")
        if membership == "invite" and not (invite := decisions.may_invite(user, room, self._policy)).allowed:
            return invite
        if membership == "knock" and not (knock := decisions.may_knock(user, room)).allowed:
            return knock
        # Art. 8: a new member counts against the caps like anyone (not a profile change).
        # Event auth already holds invite-only and knock rooms to their invites, so the
        # module's approval check is passed as if invited.
        if membership == "join" and not await self._is_joined(event.room_id, event.sender):
            join = await self._groups.decide_join(
                user,
                room,
                True,
                pending_inviter=lambda: self._invite_confirmation.pending_inviter(event.room_id, event.sender),
            )
            if not join.allowed:
                return join
        return await self._content.check_event(event, room.category) or Decision.allow()

    async def _is_joined(self, room_id: str, user_id: str) -> bool:
        state = await self._api.get_room_state(room_id, [("m.room.member", user_id)])
        member = state.get(("m.room.member", user_id))
        return member is not None and member.content.get("membership") == "join"

    @boundary(fail_closed=True)
    async def federated_user_may_invite(self, event: EventBase) -> SpamResult:
        """Art. 6: invites from other servers reach local people only from admitted servers.

        Synapse answers the inviting server 403 with our reason; the invite is never stored.
        """
        await self._health.ready()
        # The invitee is someone here: the inviter's server decides.
        return self._answer(federation.may_take_part(event.sender, self._api.server_name, self._policy), local=False)

    @boundary(fail_closed=True)
    async def check_media_file_for_spam(self, file_wrapper: MediaFile, file_info: object) -> SpamResult:
        """Art. 10: uploads and remote media whose SHA-256 is on the blocklist are refused.

        Art. 6: media of servers the policy does not admit is not fetched for local people.
        """
        await self._health.ready()
        origin = getattr(file_info, "server_name", None)
        if isinstance(origin, str) and not federation.admits_server(origin, self._api.server_name, self._policy):
            return self._answer(Decision.refuse(Reason.REMOTE_SERVER_NOT_ALLOWED, server=origin), local=False)
        return await self._content.check_media(file_wrapper, file_info)

    @boundary(fail_closed=True)
    async def user_may_send_state_event(
        self, user_id: str, room_id: str, event_type: str, state_key: str, content: dict[str, Any]
    ) -> SpamResult:
        """Art. 10: per-room display names and reasons set through ``PUT /state/m.room.member``.

        Synapse calls this for non-admins only (server admins are exempt from content
        rules everywhere) and builds membership events without ``check_event_for_spam``;
        other state types are decided there. A refusal is raised, since Synapse keeps
        only the errcode of a returned one and drops ``cn.qunzu.reason``.
        """
        if event_type != "m.room.member":
            return NOT_SPAM
        await self._health.ready()
        if not (shape := decisions.may_send_member_content(content)).allowed:
            return self._answer(shape, local=True)
        service = self._config.service_account
        kept = decisions.may_set_membership(user_id, state_key, content.get("membership"), service=service)
        if not kept.allowed:
            explanation = text("service_removed_explanation", self._config.language, service=service)
            refused = Decision.refuse(Reason.PROTECTED_STATE, **kept.detail, explanation=explanation)
            return self._answer(refused, local=True, tell=(user_id, room_id, "member"))
        if await self._facts.is_exempt(user_id):
            return NOT_SPAM
        decision = await self._content.check_member_state(user_id, room_id, state_key, content)
        if decision is None:
            decision = await self._membership_text_standing(user_id, room_id, state_key, content)
        return (
            self._answer(decision, local=True, tell=(user_id, room_id, "member")) if decision is not None else NOT_SPAM
        )

    async def _membership_text_standing(
        self, user_id: str, room_id: str, state_key: str, content: Mapping[str, Any]
    ) -> Decision | None:
        """Art. 6, 11: a reason, a new per-room name or avatar is shown in the timeline; the refusal, if any.

        A reason is published text (``may_publish_on_membership``); a name or avatar is how the
        room shows a person, decided as their global one is (``may_rename``).
        """
        reason = content.get("reason")
        looks = {key: content[key] for key in _MEMBER_LOOKS if isinstance(content.get(key), str) and content[key]}
        if not (isinstance(reason, str) and reason) and not looks:
            return None
        user = await self._facts.user(user_id)
        now, policy = self._clock.now_ms(), self._config.policy
        if isinstance(reason, str) and reason:
            room = await self._facts.room(room_id)
            if not (decision := decisions.may_publish_on_membership(user, room, now, policy)).allowed:
                return decision
        if not looks or (decision := decisions.may_rename(user, now, policy)).allowed:
            return None
        # Clients send the name and avatar the room already shows with every membership change.
        state = await self._api.get_room_state(room_id, [("m.room.member", state_key)])
        current = state.get(("m.room.member", state_key))
        if current is not None and all(current.content.get(key) == value for key, value in looks.items()):
            return None
        return decision

    @boundary(fail_closed=True)
    async def user_may_create_room_alias(self, user_id: str, room_alias: RoomAlias) -> SpamResult:
        """New aliases: ``PUT /directory/room/{alias}`` and ``room_alias_name`` at creation (admins too)."""
        await self._health.ready()
        # Art. 8: code-shaped aliases belong to their groups, for everyone (group_alias.py).
        if not (reserved := await self._code_aliases.check(user_id, room_alias.localpart)).allowed:
            return self._answer(reserved, local=True, tell=(user_id, None, "alias"))
        return self._answer(
            await self.alias_text_decision(user_id, room_alias.to_string()), local=True, tell=(user_id, None, "alias")
        )

    async def alias_text_decision(self, user_id: str, alias: str) -> Decision:
        """Art. 10: an alias is a name people see; its local part obeys the content rules."""
        if await self._facts.is_exempt(user_id):
            return Decision.allow()
        return await self._content.check_alias(user_id, alias) or Decision.allow()

    async def on_profile_update(
        self, user_id: str, new_profile: ProfileInfo, by_admin: bool, deactivation: bool
    ) -> None:
        """Art. 10: a display name or custom profile field that breaks a content rule is taken back.

        Synapse calls this after storing the change and before it answers the request or
        copies a display name into member events (profile_guard.py).
        """
        # A server admin's change (the admin API) is staff's own decision: exempt, as staff are everywhere.
        if deactivation or by_admin or not self._api.is_mine(user_id):
            return
        try:
            await self._profile_guard.review(user_id, new_profile)
        except Exception:
            logger.exception("qunzu: checking a profile against the content rules failed")

    @boundary(fail_closed=False)
    async def user_may_join_room(self, user_id: str, room_id: str, is_invited: bool) -> SpamResult:
        await self._health.ready()
        if user_id == self._config.service_account:
            return NOT_SPAM  # the bot joins every room it is invited to
        # A joiner is often new to this process: their facts and the room's counts are
        # independent reads, so they are read at once (the join waits for the slower one).
        (user, room), counts = await both(
            lambda: both(lambda: self._facts.user(user_id), lambda: self._facts.room(room_id)),
            lambda: self._groups.join_counts(room_id, user_id),
        )
        # Art. 6: a bot chat holds its owner and the service account, nobody else.
        if not (entry := decisions.may_enter_bot_chat(room, user_id, self._config.service_account)).allowed:
            return self._answer(entry, local=True, tell=(user_id, room_id, "join"))
        if room.bot_chat_owner == user_id:
            return NOT_SPAM  # no group, no cap: its owner accepts its invite even when blacklisted (to appeal)
        if user.exempt:
            return NOT_SPAM
        # Art. 6: a room this server is not in lives on other servers (policies/federation.py).
        if (
            await self._groups.record.get(room_id) is None
            and not await self._group_store.host_in_room(room_id)
            and not (remote := federation.may_join_remote_room(is_invited, self._policy)).allowed
        ):
            return self._answer(remote, local=True, tell=(user_id, room_id, "join"))
        # Far from every cap the counts decide; near one, a guarded transaction counts and holds places.
        # Art. 8 群聊邀请确认: a plain member's invite into a room that needs approval is a request.
        decision = await self._groups.decide_join(
            user,
            room,
            is_invited,
            counts,
            pending_inviter=lambda: self._invite_confirmation.pending_inviter(room_id, user_id),
        )
        if decision.allowed:
            # DESIGN.md §6.2: a third person in a private chat (however they got in) makes it a group.
            decision = await self._private_chats.before_entry(room_id, user_id)
        return self._answer(decision, local=True, tell=(user_id, room_id, "join"))

    @boundary(fail_closed=True)
    async def user_may_invite(self, inviter: str, invitee: str, room_id: str) -> SpamResult:
        if invitee == self._config.service_account:
            return NOT_SPAM  # the bot may always be invited: it is how people reach it
        await self._health.ready()
        user = await self._facts.user(inviter)
        room = await self._facts.room(room_id, count_members=not user.exempt)
        # Art. 6: a bot chat holds its owner and the service account, nobody else (staff included).
        if not (entry := decisions.may_enter_bot_chat(room, invitee, self._config.service_account)).allowed:
            return self._answer(entry, local=True, tell=(inviter, room_id, "invite"))
        # Art. 6: people of servers the policy does not admit are not invited, by staff neither.
        if not (entry := federation.may_take_part(invitee, self._api.server_name, self._policy)).allowed:
            return self._answer(entry, local=True, tell=(inviter, room_id, "invite"))
        if not user.exempt and not (invite := decisions.may_invite(user, room, self._policy)).allowed:
            return self._answer(invite, local=True, tell=(inviter, room_id, "invite"))
        # DESIGN.md §6.2: a third person makes a private chat a group, counted against its owner's cap.
        return self._answer(
            await self._private_chats.before_entry(room_id, invitee),
            local=True,
            tell=(inviter, room_id, "invite"),
        )

    @boundary(fail_closed=True)
    async def user_may_send_3pid_invite(self, inviter: str, medium: str, address: str, room_id: str) -> SpamResult:
        """An invite by e-mail or phone number is an invite (Art. 6): the same rules as `user_may_invite`."""
        await self._health.ready()
        user = await self._facts.user(inviter)
        room = await self._facts.room(room_id, count_members=not user.exempt)
        if not (opening := decisions.may_open_up(room)).allowed:
            return self._answer(opening, local=True, tell=(inviter, room_id, "invite"))
        if not user.exempt and not (invite := decisions.may_invite(user, room, self._policy)).allowed:
            return self._answer(invite, local=True, tell=(inviter, room_id, "invite"))
        return self._answer(
            await self._private_chats.before_entry(room_id, None), local=True, tell=(inviter, room_id, "invite")
        )

    async def check_threepid_can_be_invited(
        self, medium: str, address: str, state_events: Mapping[tuple[str, str], EventBase]
    ) -> bool:
        """No invite by e-mail or phone number into a bot chat (Art. 6).

        Synapse asks this before it looks the address up at an identity server, so the
        refusal does not depend on one being reachable. It can only say no (its text is
        Synapse's own); `user_may_send_3pid_invite` gives the reason when a lookup runs.
        """
        create = state_events.get(("m.room.create", ""))
        if create is None:
            return True
        return bot_chat_owner(create.content, create.sender, self._config.service_account) is None

    @boundary(fail_closed=True)
    async def user_may_publish_room(self, user_id: str, room_id: str) -> SpamResult:
        """A bot chat is never listed in the room directory (Art. 6: it stays two-party)."""
        await self._health.ready()
        return self._answer(
            decisions.may_open_up(await self._facts.room(room_id)),
            local=True,
            tell=(user_id, room_id, "publish"),
        )

    @boundary(fail_closed=True)
    async def user_may_create_room(self, user_id: str, request_content: dict[str, Any]) -> SpamResult:
        """Upgrades: never of a bot chat (Art. 6), never by a suspended admin (Art. 11), and
        vetted like a creation, never of a room under a measure (Art. 5, 8, 11; `Groups.decide_upgrade`).

        A bot chat's successor would be an ordinary room open to others; an upgrade is an
        admin function. Synapse asks this for every upgrade (server admins included) before
        the new room or the tombstone exists; ordinary creations are decided in `on_create_room`
        (a `createRoom` that names a predecessor comes here too, afterwards, except for server admins).
        """
        creation = request_content.get("creation_content")
        predecessor = creation.get("predecessor") if isinstance(creation, dict) else None
        old_room = predecessor.get("room_id") if isinstance(predecessor, dict) else None
        if not isinstance(old_room, str):
            return NOT_SPAM
        await self._health.ready()
        if not (decision := decisions.may_open_up(await self._facts.room(old_room))).allowed:
            return self._answer(decision, local=True, tell=(user_id, old_room, "upgrade"))
        user = await self._facts.user(user_id)
        if user.admin_suspended and not user.exempt:
            return self._answer(
                Decision(False, Reason.ADMIN_SUSPENDED, until_detail(user.admin_suspended_until_ms)),
                local=True,
                tell=(user_id, old_room, "upgrade"),
            )
        return self._answer(
            await self._groups.decide_upgrade(user_id, request_content),
            local=True,
            tell=(user_id, old_room, "upgrade"),
        )

    async def on_user_deactivation_status_changed(self, user_id: str, deactivated: bool, by_admin: bool) -> None:
        """A deactivated account frees its place under the identity; records stay (Art. 13)."""
        if not deactivated or not self._api.is_mine(user_id):
            return
        try:
            await self._health.ready()
            await self._realname.deactivated(user_id)
        except Exception:
            logger.exception("qunzu: recording the deactivation of an account failed")

    async def on_create_room(self, requester: Requester, config: dict[str, Any], is_requester_admin: bool) -> None:
        """Decide and shape a creation before Synapse validates it (`config` is the real request dict).

        Synapse skips `user_may_create_room` for server admins and calls this for
        everyone, before any event exists: the one place a creation is decided.
        """
        user_id = requester.user.to_string()
        try:
            await self._health.ready()
            check_request_shape(config)
            # Art. 10: Synapse does not spam-check the name, topic and state given at creation.
            if not await self._facts.is_exempt(user_id) and (
                refused := await self._content.check_create_request(user_id, config)
            ):
                self._answer(refused, local=True)
            strip_encryption(config, self._policy)
            await self._group_creation.shape_new_room(user_id, config)
        except (SynapseError, RequestError) as exc:
            answer = request_error(exc) if isinstance(exc, RequestError) else exc
            error = await self.referenced(answer, (user_id,))
            if (refusal := refusal_of(error)) is not None:
                self._notices.refused(user_id, None, refusal, "create")
            raise error from None
        except Exception:
            logger.exception("qunzu: shaping a new room failed; refusing the creation")
            raise self.unavailable() from None
