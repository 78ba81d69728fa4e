"""Art. 10: texts on membership changes that no callback can refuse are taken down at once.

Synapse 1.163 builds membership events (``/invite``, ``/kick``, ``/ban``,
``/leave``, ``/knock``, ``/join`` with a ``reason``; a per-room ``displayname``
in the body of ``POST /join/{room}``) in ``RoomMemberHandler`` without calling
``check_event_for_spam``; ``user_may_invite`` and ``user_may_join_room`` get no
content. The one callback that sees them before persistence is
``check_event_allowed``, and registering it makes Synapse load the full room state
for every event (admin_guard.py arms it only while an admin suspension is in force).
Membership changes through ``PUT /state`` are refused before persistence
(``user_may_send_state_event``); everything else is closed here, after the fact:

an event-stream subscriber (one process, about a fifth of a second behind) scans every local
membership event with the same field table as everything else
(``policies.event_texts``); on a ``block`` or ``hold`` hit the service account
redacts it. A redaction keeps ``membership`` (the change stands: the person is
still invited, kicked, banned) and strips ``reason`` and ``displayname``. The
evidence is written like a refused message (audit ``content.<action>``, a ticket
for ``hold`` and ``flag``); a ``flag`` hit stays visible with its ticket, as a
flagged message is delivered. The exposure window, from the membership call to the
redaction visible to clients, is measured in tests/e2e/test_content_texts.py.

A ``reason`` is published text too: one given by a person who may not post
(``decisions.may_publish_on_membership``, the person's own standing: a posting suspension,
no real name, the convention not accepted, a read-only credit level, the blacklist) is
redacted the same way, audited ``membership.reason_removed`` with the decision's reason.
A per-room name or avatar given on joining by a person under a measure that stops them
publishing (``decisions.may_rename``, the rule for global names) is redacted too, audited
``membership.looks_removed``; a join carrying the person's global name and avatar stands.
Whatever is taken down is told in the sender's bot chat: their client showed the change
as done (DESIGN.md §6.3).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from synapse.module_api.errors import SynapseError

from policies import Decision, decisions
from policies.content import ContentHit

from .errors import Refusal
from .event_stream import StreamEvent
from .texts import text

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi, ProfileInfo

    from .clock import Clock
    from .config import QunzuConfig
    from .content import ContentGuard
    from .facts import FactsSource
    from .refusal_notices import BotChatNotices
    from .store.audit import AuditStore

# A refused global name or avatar is stored by Synapse before `ProfileGuard` sets it back (in
# `on_profile_update`): for that moment the profile holds a value no room shows. A join is
# compared with the profile once two reads this far apart agree.
PROFILE_SETTLE_S = 0.25
PROFILE_READS = 4

logger = logging.getLogger(__name__)


class MembershipTexts:
    """Redacts local membership events whose texts break a content rule (an ``EventStream`` subscriber)."""

    def __init__(
        self,
        api: ModuleApi,
        clock: Clock,
        config: QunzuConfig,
        *,
        content: ContentGuard,
        facts: FactsSource,
        audit: AuditStore,
        notices: BotChatNotices,
    ) -> None:
        self._api = api
        self._clock = clock
        self._config = config
        self._content = content
        self._facts = facts
        self._audit = audit
        self._notices = notices
        self._service = config.service_account

    async def on_events(self, events: list[StreamEvent]) -> None:
        for event in events:
            if event.type != "m.room.member" or not event.is_state() or event.sender == self._service:
                continue
            if not self._api.is_mine(event.sender):
                continue  # remote membership events are decided by check_event_for_spam (soft fail)
            # A pure scan first: almost every join carries a display name, almost none breaks a rule.
            hit = self._content.membership_hit(event.content)
            reason = event.content.get("reason")
            has_reason = isinstance(reason, str) and bool(reason.strip())
            looks = event.membership == "join" and event.state_key == event.sender and _shows_looks(event.content)
            if hit is None and not has_reason and not looks:
                continue
            try:
                if hit is not None:
                    await self._review(event, hit)
                elif has_reason:
                    await self._review_reason(event)
                else:
                    await self._review_looks(event)
            except SynapseError as exc:
                # No power or not in the room (a room of another server): nothing to repair with.
                logger.warning("qunzu: could not redact a membership event that breaks a content rule (%s)", exc.code)
            except Exception:
                # One event's fault must not stop the others; it is logged for the operator.
                logger.exception("qunzu: taking down the texts of a membership event failed")

    async def _review(self, event: StreamEvent, hit: ContentHit) -> None:
        if await self._facts.is_exempt(event.sender):
            return
        # A global display name copied into every room: on_profile_update opened its one
        # ticket, so the copies are redacted and audited without a ticket each.
        copy = await self._is_profile_copy(event)
        if copy and hit.action == "flag":
            return
        guard = self._content
        await guard.record_membership(hit, event.sender, event.room_id, event.event_id, event.content, ticket=not copy)
        if hit.action != "flag":
            await self._redact(event.room_id, event.event_id)
            if not copy:  # a copy's global name was told of where it was set (profile_guard.py)
                self._tell(event, guard.hit_decision(hit))

    async def _review_reason(self, event: StreamEvent) -> None:
        """A reason given by a person who may not post in the room is taken down (Art. 6, 11)."""
        user, room = await self._facts.user(event.sender), await self._facts.room(event.room_id)
        decision = decisions.may_publish_on_membership(user, room, self._clock.now_ms(), self._config.policy)
        if decision.allowed:
            return
        await self._take_down(event, decision, "reason")

    async def _review_looks(self, event: StreamEvent) -> None:
        """A per-room name or avatar given on joining by a person under a measure is taken down (Art. 11).

        Decided as a global name is (``decisions.may_rename``); a join that carries the person's
        global name and avatar (Synapse's own copy) stands.
        """
        user = await self._facts.user(event.sender)
        decision = decisions.may_rename(user, self._clock.now_ms(), self._config.policy)
        if decision.allowed:
            return
        # Their own bot chat shows them to the service account only; elsewhere Synapse's own copy stands.
        room = await self._facts.room(event.room_id)
        if room.bot_chat_owner == event.sender or await self._is_profile_copy(event, avatar=True, settled=True):
            return
        await self._take_down(event, decision, "looks")

    async def _take_down(self, event: StreamEvent, decision: Decision, what: Literal["reason", "looks"]) -> None:
        """Redact what the person may not show, audit ``membership.<what>_removed``, tell them why."""
        await self._redact(event.room_id, event.event_id, f"membership_{what}_removed")
        why = decision.reason.value if decision.reason is not None else None
        details = {"room_id": event.room_id, "event_id": event.event_id, "why": why}
        await self._audit.append(event.sender, f"membership.{what}_removed", event.sender, details)
        self._tell(event, decision)

    def _tell(self, event: StreamEvent, decision: Decision) -> None:
        """The client showed the membership change as done: its sender learns in their bot chat what went and why."""
        if decision.reason is not None:
            refusal = Refusal(decision.reason, dict(decision.detail))
            self._notices.refused(event.sender, event.room_id, refusal, "member")

    async def _is_profile_copy(self, event: StreamEvent, *, avatar: bool = False, settled: bool = False) -> bool:
        """A join carrying only the sender's current global display name (and, with ``avatar``, avatar).

        With ``settled``, compared with the profile once no change to it is under way
        (`_settled_profile`): a take-down then never rests on a value Synapse stored a
        moment before the module set it back, nor does a copy of such a value stand.
        """
        if event.membership != "join" or event.state_key != event.sender or "reason" in event.content:
            return False
        localpart = event.sender[1:].split(":", 1)[0]
        profile = await (self._settled_profile(localpart) if settled else self._api.get_profile_for_user(localpart))
        name = event.content.get("displayname")
        if not avatar:
            return bool(profile.display_name) and name == profile.display_name
        same_avatar = (event.content.get("avatar_url") or None) == (profile.avatar_url or None)
        return same_avatar and (name or None) == (profile.display_name or None)

    async def _settled_profile(self, localpart: str) -> ProfileInfo:
        """The global profile as two reads `PROFILE_SETTLE_S` apart agree on it (at most `PROFILE_READS` reads)."""
        profile = await self._api.get_profile_for_user(localpart)
        for _ in range(PROFILE_READS - 1):
            await self._api.sleep(PROFILE_SETTLE_S)
            again = await self._api.get_profile_for_user(localpart)
            if (again.display_name, again.avatar_url) == (profile.display_name, profile.avatar_url):
                return again
            profile = again
        return profile

    async def _redact(self, room_id: str, event_id: str, why: str = "membership_text_removed") -> None:
        redaction = {
            "type": "m.room.redaction",
            "room_id": room_id,
            "sender": self._service,
            "redacts": event_id,
            "content": {
                "redacts": event_id,
                "reason": text(why, self._config.language),
            },
        }
        try:
            await self._api.create_and_send_event_into_room(redaction)
        except SynapseError as exc:
            if exc.code != 403:
                raise
            # Invited into every governed room, but maybe not joined yet.
            await self._api.update_room_membership(self._service, self._service, room_id, "join")
            await self._api.create_and_send_event_into_room(redaction)
        logger.info("qunzu: redacted the texts of a membership event (%s)", why)


def _shows_looks(content: Mapping[str, Any]) -> bool:
    """Does a member event show a name or avatar (Synapse copies the global ones into every join)?"""
    return any(isinstance(content.get(key), str) and content[key] for key in ("displayname", "avatar_url"))
