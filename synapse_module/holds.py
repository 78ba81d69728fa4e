"""Staff review of held content (Art. 10): release as its sender, or reject.

A room event a ``hold`` rule stopped (a message, or a setting such as the
room's name or topic) is sealed (evidence.py) in status ``held``. Staff list
the waiting holds and decide each once:

- **release**: the sealed event is sent into its room *as its sender* through
  the module API's ``create_and_send_event_into_room``, so every member sees the
  person's own message, text intact; a setting takes effect then, with its state
  key, if Synapse's power levels still let the sender set it. Before that,
  ``policies.decisions.may_post`` decides it as for any event of that person now
  (a closed or frozen room, a blacklisted, muted or suspended sender is refused
  with that reason), and the sender must still be in the room.
- **reject**: never delivered; the sender is told in their chat with the
  service account. The hold's ticket closes with either decision.

The released event must not be held again by the content rules. Its content
carries ``cn.qunzu.release: <hold id>``, and the process sending it remembers,
for the few milliseconds of the send, the hold id with the sender, the room and
the digest of the approved content. ``check_event_for_spam`` runs on that same
process (the event is built where it is sent) and waives the content rules only
for an event that matches all four, once. A client can write the key, but not
into this process's memory: its event is checked like any other. Every other
rule still applies to the released event.

A release claims the hold first (``held`` → ``releasing``, a conditional
update), so two staff releasing at once deliver it once; the loser gets 409
``hold_decided``. A send that fails gives the hold back; a claim left by a crash
mid-send may be taken again after ``STALE_CLAIM_MS``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from synapse.module_api import EventBase
from synapse.module_api.errors import SynapseError

from policies import Reason, decisions
from policies.api import Hold, HoldPage

from .content import content_digest
from .errors import NotFound, Refusal
from .evidence import thaw
from .evidence_texts import evidence_text
from .refusals import refusal_of
from .store import synapse_tables
from .store.audit import AuditRecord
from .store.evidence import HOLD_STATUSES, WAITING_HOLD_STATUSES, EvidenceRow

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .clock import Clock
    from .config import QunzuConfig
    from .evidence import EvidenceLocker
    from .facts import FactsSource
    from .notices import Notifier
    from .reports import Reports
    from .room_moderation import RoomModeration
    from .store.evidence import EvidenceStore

logger = logging.getLogger(__name__)

RELEASE_KEY: Final = "cn.qunzu.release"
STALE_CLAIM_MS: Final = 10 * 60 * 1000


class Holds:
    """Lists, releases and rejects held content; recognises its own releases."""

    def __init__(
        self,
        api: ModuleApi,
        clock: Clock,
        config: QunzuConfig,
        *,
        store: EvidenceStore,
        evidence: EvidenceLocker,
        facts: FactsSource,
        room_moderation: RoomModeration,
        reports: Reports,
        notifier: Notifier,
    ) -> None:
        self._api = api
        self._clock = clock
        self._config = config
        self._store = store
        self._evidence = evidence
        self._facts = facts
        self._room_moderation = room_moderation
        self._reports = reports
        self._notifier = notifier
        self._language = config.language
        # hold id → (sender, room id, digest of the approved content) while it is being sent.
        self._in_flight: dict[str, tuple[str, str, str]] = {}

    def is_release(self, event: EventBase) -> bool:
        """Is this the event a release on this process is sending right now? (once per release)"""
        hold_id = event.content.get(RELEASE_KEY)
        if not isinstance(hold_id, str):
            return False
        expected = self._in_flight.get(hold_id)
        if expected is None:
            return False
        content = {key: thaw(value) for key, value in event.content.items() if key != RELEASE_KEY}
        if (event.sender, event.room_id, content_digest(content)) != expected:
            return False
        del self._in_flight[hold_id]
        return True

    async def page(self, before: tuple[int, str] | None, limit: int, *, waiting: bool) -> HoldPage:
        """Holds newest first: the waiting ones, or (``waiting=False``) every hold and its decision."""
        statuses = WAITING_HOLD_STATUSES if waiting else HOLD_STATUSES
        rows, cursor = await self._evidence.rows(statuses=statuses, before=before, limit=limit)
        # Holds are room events: a rule stopped them, not a person; the label is for the desk.
        items = [
            row.record(Hold).model_copy(update={"category_label": self._reports.category_label(row.category)})
            for row in rows
        ]
        return HoldPage(items=items, next=cursor)

    async def _hold(self, hold_id: str) -> EvidenceRow:
        """A hold by id; a refused item (sealed, nothing to deliver) is not one.

        Raises:
            RequestError: 404 when there is no hold with this id.
        """
        row = await self._evidence.get(hold_id)
        if row.status == "sealed" or row.room_id is None:
            raise NotFound(evidence_text("not_a_hold", self._language))
        return row

    def _decided(self, row: EvidenceRow) -> Refusal:
        return Refusal(Reason.HOLD_DECIDED, {"hold": row.id, "status": row.status})

    async def release(self, actor: str, hold_id: str) -> Hold:
        """Deliver a held event into its room as its sender.

        Raises:
            Refusal: ``hold_decided`` (409) when it was released or rejected already (or is
                being released); ``hold_undeliverable`` (409) when the sender left the room or
                Synapse refused the send (``why``: ``not_permitted`` when the power levels no
                longer let the sender send it);
                the ``may_post`` reason (403) when the sender may not post there now.
            RequestError: 404 unknown hold (or a refused item, which is no hold).
        """
        row = await self._hold(hold_id)
        if row.status not in ("held", "releasing") or row.room_id is None:
            raise self._decided(row)
        room_id, sender = row.room_id, row.sender
        # The room's and the sender's state first: closing a room also puts its members out, and
        # staff are told the closure, not the absence it causes.
        user = await self._room_moderation.with_room_mute(await self._facts.user(sender), room_id)
        room = await self._facts.room(room_id)
        is_message = row.event_type == "m.room.message"
        decision = decisions.may_post(user, room, self._clock.now_ms(), self._config.policy, is_message=is_message)
        if not decision.allowed and decision.reason is not None:
            raise Refusal(decision.reason, {**decision.detail, "hold": row.id})
        joined = await self._api.run_db_interaction(
            "qunzu_hold_sender_joined", synapse_tables.is_joined_txn, room_id, sender
        )
        if not joined:
            raise Refusal(Reason.HOLD_UNDELIVERABLE, {"hold": row.id, "why": "not_in_room"})
        claimed = await self._store.claim(row.id, actor, self._clock.now_ms() - STALE_CLAIM_MS)
        if claimed is None:
            raise self._decided(await self._evidence.get(row.id))
        envelope = self._evidence.open(claimed)
        content = envelope.get("content")
        event_type = envelope.get("type")
        state_key = envelope.get("state_key")
        if not isinstance(content, Mapping) or not isinstance(event_type, str) or not isinstance(state_key, str | None):
            await self._store.unclaim(row.id)
            raise Refusal(Reason.HOLD_UNDELIVERABLE, {"hold": row.id, "why": "unreadable"})
        approved = dict(content)
        released: dict[str, Any] = {
            "type": event_type,
            "room_id": room_id,
            "sender": sender,
            "content": {**approved, RELEASE_KEY: row.id},
        }
        if state_key is not None:
            # A room setting takes effect now, as its sender set it; Synapse's power levels decide
            # whether the sender still may.
            released["state_key"] = state_key
        self._in_flight[row.id] = (sender, room_id, content_digest(approved))
        try:
            event = await self._api.create_and_send_event_into_room(released)
        except SynapseError as exc:
            await self._store.unclaim(row.id)
            if refusal_of(exc) is not None:
                raise  # a rule of the module refused it: its reason says which
            # Synapse refused it: the sender may no longer send this here (power levels).
            why = "not_permitted" if exc.code == 403 else "send_failed"
            raise Refusal(Reason.HOLD_UNDELIVERABLE, {"hold": row.id, "why": why}) from None
        except Exception:
            await self._store.unclaim(row.id)
            logger.exception("qunzu: releasing a hold failed; it waits again")
            raise Refusal(Reason.HOLD_UNDELIVERABLE, {"hold": row.id, "why": "send_failed"}) from None
        finally:
            self._in_flight.pop(row.id, None)
        audit = AuditRecord(
            actor, "hold.release", sender, {"hold": row.id, "room_id": room_id, "event_id": event.event_id}
        )
        decided = await self._store.decide(
            row.id, ("releasing",), "released", actor, event.event_id, audit, ("dismissed", "released")
        )
        if decided is None:
            # Delivered, but another process took the stale claim meanwhile: say what is true.
            logger.warning("qunzu: a released hold changed state during its release")
            decided = await self._evidence.get(row.id)
        return decided.record(Hold).model_copy(update={"released_event_id": event.event_id})

    async def reject(self, actor: str, hold_id: str, reason: str | None) -> Hold:
        """Never deliver a held event; tell its sender in their chat with the service account.

        Raises:
            Refusal: ``hold_decided`` (409) when it was decided already or is being released.
            RequestError: 404 unknown hold (or a refused item, which is no hold).
        """
        row = await self._hold(hold_id)
        audit = AuditRecord(actor, "hold.reject", row.sender, {"hold": row.id, "room_id": row.room_id})
        decided = await self._store.decide(row.id, ("held",), "rejected", actor, None, audit, ("resolved", "rejected"))
        if decided is None:
            raise self._decided(await self._evidence.get(row.id))
        label = self._reports.category_label(decided.category)
        body = evidence_text(
            "hold_rejected",
            self._language,
            hold=decided.id,
            category=label,
            reason=f"{reason.strip()}" if reason and reason.strip() else evidence_text("no_reason", self._language),
        )
        told = await self._notifier.to_user(decided.sender, body)
        return decided.record(Hold).model_copy(update={"sender_told": told})
