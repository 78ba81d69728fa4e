"""The sealed evidence store (Art. 10, 13; Cybersecurity Law Art. 47 保存有关记录).

What the content rules refuse (``block``) or hold for review (``hold``) never
reaches Synapse's tables, so the module keeps it here: the sender, room, time,
rule, report category and SHA-256 digest in clear (what the queue needs), and
the content itself sealed with AES-256-GCM under a key of its own derived from
the key file (``qunzu/evidence-content/v1``), bound to the row's id so a value
copied into another row does not decrypt. Nothing of the content is in clear in
the database; the audit record of a hit names the evidence id and the digest.

Rows are kept as long as the network log (``retention.days``) and purged with it.
Staff read a sealed item only through a reveal that names a reason: the reason
and the revealing person are on the audit chain, written in the transaction that
reads the row (``POST /admin/evidence/{id}/reveal``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from policies.api import EvidenceItem, EvidencePage, RevealedEvidence

from .crypto import DecryptionError, FieldCipher
from .errors import Conflict, NotFound
from .evidence_texts import evidence_text
from .store.audit import AuditRecord
from .store.evidence import EvidenceRow, new_evidence_id

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .clock import Clock
    from .store.evidence import EvidenceStore

CONTENT_PURPOSE: Final = "qunzu/evidence-content/v1"
#: What `ContentGuard` checks besides room events: these holds have nothing to deliver.
NOT_EVENTS: Final = frozenset({"createRoom", "room_alias", "profile.displayname", "m.room.member"})


@dataclass(frozen=True)
class Releasable:
    """A room event staff may release if a rule holds it: sent again as it came, state key included."""

    state_key: str | None = None


def thaw(value: Any) -> Any:
    """Plain JSON values of what Synapse hands out (frozen mappings with `use_frozen_dicts`)."""
    if isinstance(value, Mapping):
        return {str(k): thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(v) for v in value]
    return value


class EvidenceLocker:
    """Seals refused and held content, and opens it for staff with an audited reason."""

    def __init__(self, api: ModuleApi, clock: Clock, key: bytes, *, language: str, store: EvidenceStore) -> None:
        self._api = api
        self._clock = clock
        self._language = language
        self._store = store
        self._cipher = FieldCipher(key, CONTENT_PURPOSE)

    async def seal(
        self,
        *,
        action: str,
        rule: str,
        category: str,
        sender: str,
        event_type: str,
        content: Mapping[str, Any],
        digest: str,
        room_id: str | None,
        event_id: str | None,
        ticket: str | None,
        releasable: Releasable | None,
    ) -> EvidenceRow:
        """Store one refused or held item; a held room event waits for staff (status ``held``).

        The sealed envelope is ``{type, content}``, with ``state_key`` for a releasable state event.

        Returns:
            The stored row (the first one when Synapse checked the same event twice).
        """
        evidence_id = new_evidence_id()
        # Only a local person's room message can be sent again as its sender.
        held = (
            action == "hold"
            and releasable is not None
            and room_id is not None
            and event_type not in NOT_EVENTS
            and self._api.is_mine(sender)
        )
        envelope = {"type": event_type, "content": thaw(content)}
        if releasable is not None and releasable.state_key is not None:
            envelope["state_key"] = releasable.state_key
        plain = json.dumps(envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        row = EvidenceRow(
            id=evidence_id,
            ts=self._clock.now_ms(),
            action=action,
            rule=rule,
            category=category,
            sender=sender,
            room_id=room_id,
            event_id=event_id,
            event_type=event_type,
            ticket_id=ticket,
            digest=digest,
            content_enc=self._cipher.encrypt(plain, evidence_id),
            status="held" if held else "sealed",
        )
        return await self._store.insert(row)

    def open(self, row: EvidenceRow) -> dict[str, Any]:
        """The sealed envelope ``{type, content[, state_key]}`` of a row (for a reveal or a release).

        Raises:
            RequestError: 500-free: a row that does not decrypt (a copied value, another
                key file) is a 409 with a plain message.
        """
        try:
            value = json.loads(self._cipher.decrypt(row.content_enc, row.id))
        except (DecryptionError, ValueError):
            raise Conflict(evidence_text("unreadable", self._language)) from None
        if not isinstance(value, dict):
            raise Conflict(evidence_text("unreadable", self._language))
        return value

    async def get(self, evidence_id: str) -> EvidenceRow:
        """A row by id.

        Raises:
            RequestError: 404 when there is none (never sealed, or purged).
        """
        row = await self._store.get(evidence_id.strip().lower())
        if row is None:
            raise NotFound(evidence_text("unknown", self._language))
        return row

    async def reveal(self, actor: str, evidence_id: str, reason: str) -> RevealedEvidence:
        """The sealed content of one item, for staff; the reveal and its reason are audited first.

        Raises:
            RequestError: 404 unknown id; 409 the row does not decrypt.
        """
        wanted = evidence_id.strip().lower()
        audit = AuditRecord(actor, "evidence.reveal", f"evidence:{wanted}", {"reason": reason})
        row = await self._store.reveal(wanted, audit)
        if row is None:
            raise NotFound(evidence_text("unknown", self._language))
        envelope = self.open(row)
        return row.record(RevealedEvidence).model_copy(update={"content": envelope.get("content")})

    async def page(
        self, *, statuses: tuple[str, ...] | None, before: tuple[int, str] | None, limit: int
    ) -> EvidencePage:
        """A page of items newest first (no content) and the cursor of the next page."""
        rows, cursor = await self.rows(statuses=statuses, before=before, limit=limit)
        return EvidencePage(items=[row.record(EvidenceItem) for row in rows], next=cursor)

    async def rows(
        self, *, statuses: tuple[str, ...] | None, before: tuple[int, str] | None, limit: int
    ) -> tuple[list[EvidenceRow], str | None]:
        """A page of rows newest first and the cursor of the next page (None: the last page)."""
        rows = await self._store.query(statuses=statuses, before=before, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, f"{rows[-1].ts}.{rows[-1].id}" if more and rows else None
