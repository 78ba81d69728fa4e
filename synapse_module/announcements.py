"""Group announcements (群公告, Art. 9): posted by the service account and pinned.

`POST /admin/rooms/{room_id}/announce {actor, text}` (the bot's `!announce` for the
room's owner or an admin):

1. the actor must be the room's creator or an admin whose rights are not suspended,
   and allowed to post in the room now (their own mute, the room's posting
   suspension, closure or freeze hold for announcements too);
2. the text obeys the content rules like every text (the service account's own
   messages pass no callback, so it is checked here);
3. in ordinary groups the service account posts it (`📢 群公告\n…`) and puts its event
   first in `m.room.pinned_events`, keeping the existing pins (bounded:
   `policies.room_tools.pinned_with`);
4. in large and high-risk groups (`policies.room_tools.announcement_needs_review`) it
   waits as `pending` for staff: the desk shows it, staff approve or reject it
   (`POST /admin/announcements/{id}/approve|reject`), and only an approved one is posted
   and pinned. The announcer (and the owner, if someone else announced) is told the
   outcome in their chat with the service account.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from synapse.module_api.errors import SynapseError

from policies import api, decisions
from policies.room_tools import MAX_ANNOUNCEMENT_CHARS, announcement_needs_review, pinned_with

from .errors import Conflict, InvalidInput, NotFound, Refusal
from .store.announcements import FAILED, PENDING, POSTED, REJECTED, Announcement
from .store.audit import AuditRecord
from .texts import text

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .cache import ClusterCache
    from .clock import Clock
    from .config import QunzuConfig
    from .content import ContentGuard
    from .facts import FactsSource
    from .notices import Notifier
    from .room_moderation import RoomModeration
    from .store.announcements import AnnouncementStore
    from .store.groups import GroupRecord

logger = logging.getLogger(__name__)

PINNED_TYPE = "m.room.pinned_events"


class Announcements:
    """Posts and pins announcements, or queues them for staff review."""

    def __init__(
        self,
        api: ModuleApi,
        clock: Clock,
        config: QunzuConfig,
        *,
        store: AnnouncementStore,
        facts: FactsSource,
        room_moderation: RoomModeration,
        content: ContentGuard,
        group_records: ClusterCache[str, GroupRecord | None],
        notifier: Notifier,
    ) -> None:
        """`group_records` is the registry's cache of a room's group (`Groups.record`)."""
        self._api = api
        self._clock = clock
        self._config = config
        self._store = store
        self._facts = facts
        self._room_moderation = room_moderation
        self._content = content
        self._group_records = group_records
        self._notifier = notifier
        self._service = config.service_account

    async def announce(self, actor: str, room_id: str, body: object) -> api.Announcement:
        """An admin's announcement: posted and pinned, or pending staff review.

        Raises:
            RequestError: 400 empty or too long text; 403 not an admin; 404 unknown room.
            Refusal: admin_suspended, prohibited_content, or why the actor may not post here now.
        """
        if not isinstance(body, str) or not body.strip():
            raise InvalidInput("'text' must be non-empty text")
        announcement = body.strip()
        if len(announcement) > MAX_ANNOUNCEMENT_CHARS:
            raise InvalidInput(f"'text' is longer than {MAX_ANNOUNCEMENT_CHARS} characters")
        await self._room_moderation.acting_admin(room_id, actor)
        room = await self._facts.room(room_id)
        if not await self._facts.is_exempt(actor):
            user = await self._room_moderation.with_room_mute(await self._facts.user(actor), room_id)
            allowed = decisions.may_post(user, room, self._clock.now_ms(), self._config.policy)
            if not allowed.allowed and allowed.reason is not None:
                raise Refusal(allowed.reason, allowed.detail)
            # Art. 10: the service account publishes it; it obeys the content rules like the admin's own words.
            refused = await self._content.check_text(actor, room_id, "announce", announcement)
            if refused is not None and refused.reason is not None:
                raise Refusal(refused.reason, refused.detail)
        audit = AuditRecord(actor, "room.announce", room_id, {"action": "announce"})
        if announcement_needs_review(room, self._config.policy):
            row = await self._store.add(room_id, actor, announcement, PENDING, audit)
            logger.info("qunzu: an announcement waits for staff review")
            return api.Announcement(id=row.id, status=PENDING)
        row = await self._store.add(room_id, actor, announcement, POSTED, audit)
        event_id = await self._publish(row)
        return api.Announcement(id=row.id, status=POSTED if event_id else FAILED, event_id=event_id)

    async def pending(self, limit: int) -> api.AnnouncementList:
        """Announcements waiting for staff, oldest first, with the group's code."""
        rows = await self._store.list(PENDING, limit)
        return api.AnnouncementList(announcements=[await self._shown(row, row.event_id) for row in rows])

    async def decide(self, staff: str, announcement_id: str, approve: bool, reason: str) -> api.Announcement:
        """Staff approve (post and pin) or reject a pending announcement; its announcer is told.

        Raises:
            RequestError: 404 unknown; 409 decided already.
        """
        status = POSTED if approve else REJECTED
        action = "announcement.approve" if approve else "announcement.reject"
        audit = AuditRecord(staff, action, announcement_id, {"id": announcement_id})
        row = await self._store.decide(announcement_id, status, staff, reason, audit)
        if row is None:
            if await self._store.get(announcement_id) is None:
                raise NotFound("No such announcement")
            raise Conflict("The announcement was decided already")
        event_id = await self._publish(row) if approve else None
        if approve and event_id is None:
            row = dataclasses.replace(row, status=FAILED)
        await self._tell_outcome(row, reason)
        return await self._shown(row, event_id)

    async def _shown(self, row: Announcement, event_id: str | None) -> api.Announcement:
        """The announcement with its group's code; `event_id` as it now stands."""
        record = await self._group_records.get(row.room_id)
        return api.Announcement(
            id=row.id,
            room_id=row.room_id,
            actor=row.actor,
            text=row.text,
            status=row.status,
            created_ts=row.created_ts,
            decided_ts=row.decided_ts,
            decided_by=row.decided_by,
            reason=row.decision_reason,
            event_id=event_id,
            code=record.code if record is not None else None,
        )

    async def _publish(self, row: Announcement) -> str | None:
        """Post the announcement as the service account and pin it first; the event id, None if refused."""
        language = self._config.language
        message = {
            "type": "m.room.message",
            "room_id": row.room_id,
            "sender": self._service,
            "content": {"msgtype": "m.text", "body": text("announcement", language, text=row.text)},
        }
        try:
            event = await self._send(message)
            state = await self._api.get_room_state(row.room_id, [(PINNED_TYPE, "")])
            current = state.get((PINNED_TYPE, ""))
            pinned = current.content.get("pinned") if current is not None else None
            content = {"pinned": pinned_with(event.event_id, pinned if isinstance(pinned, list) else [])}
            await self._send(
                {
                    "type": PINNED_TYPE,
                    "room_id": row.room_id,
                    "sender": self._service,
                    "state_key": "",
                    "content": content,
                }
            )
        except SynapseError as exc:
            logger.warning("qunzu: an announcement could not be posted or pinned (%s)", exc.code)
            await self._store.finish(row.id, FAILED, None)
            return None
        await self._store.finish(row.id, POSTED, event.event_id)
        return str(event.event_id)

    async def _send(self, event: dict[str, Any]) -> Any:
        try:
            return await self._api.create_and_send_event_into_room(event)
        except SynapseError as exc:
            if exc.code != 403:
                raise
            # Invited into every governed room, but maybe not joined yet.
            await self._api.update_room_membership(self._service, self._service, event["room_id"], "join")
            return await self._api.create_and_send_event_into_room(event)

    async def _tell_outcome(self, row: Announcement, reason: str) -> None:
        language = self._config.language
        record = await self._group_records.get(row.room_id)
        code = record.code if record is not None else row.room_id
        if row.status == POSTED:
            body = text("announcement_approved", language, code=code, text=row.text)
        elif row.status == REJECTED:
            body = text("announcement_rejected", language, code=code, text=row.text, reason=reason or "—")
        else:
            body = text("announcement_failed", language, code=code, text=row.text)
        people = {row.actor}
        if record is not None:
            people.add(record.creator)
        for person in sorted(people):
            await self._notifier.to_user(person, body)
