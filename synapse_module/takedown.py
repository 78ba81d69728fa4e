"""Taking content down (Art. 11, 12; Cybersecurity Law Art. 47 停止传输、消除).

What reached a room is removed by a redaction the service account sends
(`ModuleApi.create_and_send_event_into_room` with an `m.room.redaction`: the public
module API's one way to send an event; the service account holds power 100 in every
group, groups.py). Every member's client then shows the message as removed, and
Synapse serves its content to no one (`/messages`, `/context`, `/sync` all return the
redacted form with `redacted_because`).

Media: the public module API has no call that quarantines media, and no callback
that a download passes through (media callbacks see uploads only). What Synapse
offers is its admin API, `POST /_synapse/admin/v1/media/quarantine/{server}/{media_id}`,
which needs a server admin's access token. So the media of a taken-down event
(`url`, `file.url`, `info.thumbnail_url`, `info.thumbnail_file.url`) is quarantined
through that API as the service account (a token from `api.register_device`, as
group_alias.py does) only when the operator has made the service account a server
admin; otherwise the answer lists the media as not quarantined with the reason
`service_account_not_admin`. A redaction alone does not stop a download of the file
by its `mxc://` address.

Bounds: a call takes down at most `MAX_EVENTS_PER_CALL` events; a person's messages
since a time (one room or every room) are taken oldest first, and the answer says how
many remain so staff call again. Every call is one audit record (actor, reason,
ticket, the event ids and counts).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from synapse.module_api import make_deferred_yieldable
from synapse.module_api.errors import SynapseError
from twisted.web.client import readBody
from twisted.web.http_headers import Headers

from policies import api

from .store import synapse_tables
from .store.synapse_tables import TakedownRow
from .texts import text

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .config import QunzuConfig
    from .store.audit import AuditStore

logger = logging.getLogger(__name__)

MAX_EVENTS_PER_CALL = 100
DEVICE_ID = "QUNZU_TAKEDOWN"
MEDIA_NOT_ADMIN = "service_account_not_admin"
MEDIA_FAILED = "admin_api_failed"


def media_of(content: dict[str, Any]) -> list[tuple[str, str]]:
    """The (server, media id) pairs an event's content points to (`mxc://server/id`), in order, once each."""
    found: list[tuple[str, str]] = []
    info = content.get("info")
    info = info if isinstance(info, dict) else {}
    candidates: list[object] = [content.get("url"), info.get("thumbnail_url")]
    for holder in (content.get("file"), info.get("thumbnail_file")):
        if isinstance(holder, dict):
            candidates.append(holder.get("url"))
    for url in candidates:
        if not isinstance(url, str) or not url.startswith("mxc://"):
            continue
        server, _, media_id = url[len("mxc://") :].partition("/")
        if server and media_id and "/" not in media_id and (server, media_id) not in found:
            found.append((server, media_id))
    return found


@dataclass
class TakedownResult:
    """What one call did, and what it left (the HTTP answer)."""

    redacted: list[str] = field(default_factory=list)
    already_redacted: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    not_taken: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    media_quarantined: list[str] = field(default_factory=list)
    media_not_quarantined: list[dict[str, str]] = field(default_factory=list)
    remaining: int = 0

    def record(self) -> api.Takedown:
        return api.Takedown(
            redacted=self.redacted,
            already_redacted=self.already_redacted,
            not_found=self.not_found,
            not_taken=self.not_taken,
            failed=self.failed,
            media=api.TakenMedia(quarantined=self.media_quarantined, not_quarantined=self.media_not_quarantined),
            remaining=self.remaining,
            limit=MAX_EVENTS_PER_CALL,
        )


class Takedown:
    """Redacts events as the service account and quarantines their media where Synapse allows it."""

    def __init__(self, api: ModuleApi, config: QunzuConfig, *, audit: AuditStore) -> None:
        self._api = api
        self._config = config
        self._audit_store = audit
        self._service = config.service_account
        self._token: str | None = None

    async def events(
        self, actor: str, event_ids: Sequence[str], room_id: str | None, reason: str, ticket_id: str | None = None
    ) -> TakedownResult:
        """Take down these events (all in `room_id` when it is given).

        Args:
            actor: the staff member (recorded in the audit log).
            event_ids: at most `MAX_EVENTS_PER_CALL` event ids.
            room_id: when given, events of other rooms are not taken (`not_taken`).
            reason: why (audit log).
            ticket_id: the ticket this takedown resolves, if any.
        """
        wanted = list(dict.fromkeys(event_ids))[:MAX_EVENTS_PER_CALL]
        rows = await self._api.run_db_interaction(
            "qunzu_takedown_events", synapse_tables.events_for_takedown_txn, wanted
        )
        by_id = {row[0]: row for row in rows}
        result = TakedownResult()
        targets: list[TakedownRow] = []
        for event_id in wanted:
            row = by_id.get(event_id)
            if row is None:
                result.not_found.append(event_id)
            elif room_id is not None and row[1] != room_id:
                result.not_taken.append({"event_id": event_id, "why": "other_room"})
            elif row[4] is not None:
                result.not_taken.append({"event_id": event_id, "why": "state_event"})
            elif row[7]:
                result.already_redacted.append(event_id)
            else:
                targets.append(row)
        subject = ticket_id or room_id or (targets[0][1] if targets else "")
        try:
            await self._take_down(targets, result)
        finally:
            # Also when the call fails or is cancelled half-way: what was redacted is on record.
            await self._audit(actor, subject, reason, ticket_id, {"mode": "events", "room_id": room_id}, result)
        return result

    async def messages_since(
        self, actor: str, user_id: str, since_ms: int, room_id: str | None, reason: str
    ) -> TakedownResult:
        """Take down a person's posts since a time, in one room or everywhere, oldest first, a batch per call."""
        rows, total = await self._api.run_db_interaction(
            "qunzu_takedown_sent_since",
            synapse_tables.sent_since_txn,
            user_id,
            since_ms,
            room_id,
            MAX_EVENTS_PER_CALL,
        )
        result = TakedownResult(remaining=total)
        details = {"mode": "user", "user_id": user_id, "since": since_ms, "room_id": room_id}
        try:
            await self._take_down(rows, result)
        finally:
            result.remaining = max(0, total - len(result.redacted))
            await self._audit(actor, user_id, reason, None, details, result)
        return result

    # -- doing it ---------------------------------------------------------------------------

    async def _take_down(self, rows: Sequence[TakedownRow], result: TakedownResult) -> None:
        for event_id, room_id, _sender, _type, _state_key, _ts, content, _redacted in rows:
            # Media first: the redaction removes the content that names the files.
            for server, media_id in media_of(content):
                mxc = f"mxc://{server}/{media_id}"
                why = await self._quarantine(server, media_id)
                if why is None:
                    result.media_quarantined.append(mxc)
                else:
                    result.media_not_quarantined.append({"mxc": mxc, "why": why})
            try:
                await self._redact(room_id, event_id)
            except SynapseError as exc:
                logger.warning("qunzu: a takedown redaction was refused (%s %s)", exc.code, exc.errcode)
                result.failed.append({"event_id": event_id, "errcode": str(exc.errcode)})
            else:
                result.redacted.append(event_id)

    async def _redact(self, room_id: str, event_id: str) -> None:
        redaction = {
            "type": "m.room.redaction",
            "room_id": room_id,
            "sender": self._service,
            # Room versions before 11 read `redacts` at the top, later ones in the content.
            "redacts": event_id,
            "content": {"redacts": event_id, "reason": text("takedown_reason", self._config.language)},
        }
        try:
            await self._api.create_and_send_event_into_room(redaction)
        except SynapseError as exc:
            if exc.code != 403:
                raise
            # Invited into every group, but maybe not joined yet.
            await self._api.update_room_membership(self._service, self._service, room_id, "join")
            await self._api.create_and_send_event_into_room(redaction)

    async def _quarantine(self, server: str, media_id: str) -> str | None:
        """Quarantine one file through Synapse's admin API; None when done, else why not."""
        if not await self._api.is_user_admin(self._service):
            return MEDIA_NOT_ADMIN
        base = (self._config.client_url or self._api.public_baseurl).rstrip("/")
        url = f"{base}/_synapse/admin/v1/media/quarantine/{quote(server, safe='')}/{quote(media_id, safe='')}"
        for _attempt in range(2):
            try:
                token = await self._service_token()
                auth = f"Bearer {token}".encode()
                headers = Headers({b"Content-Type": [b"application/json"], b"Authorization": [auth]})
                response = await self._api.http_client.request("POST", url, data=b"{}", headers=headers)
                await make_deferred_yieldable(readBody(response))
            except Exception as exc:  # the boundary to an HTTP call: any failure means "not quarantined"
                logger.warning("qunzu: quarantining media failed (%s)", type(exc).__name__)
                return MEDIA_FAILED
            if response.code == 200:
                return None
            if response.code != 401:
                logger.warning("qunzu: the media quarantine admin API answered %s", response.code)
                return MEDIA_FAILED
            self._token = None  # logged out elsewhere: a new device once
        return MEDIA_FAILED

    async def _service_token(self) -> str:
        if self._token is None:
            _device, token, _expiry, _refresh = await self._api.register_device(
                self._service, DEVICE_ID, "Qunzu module (takedown)"
            )
            self._token = token
        return self._token

    async def _audit(
        self,
        actor: str,
        subject: str,
        reason: str,
        ticket_id: str | None,
        details: dict[str, Any],
        result: TakedownResult,
    ) -> None:
        await self._audit_store.append(
            actor,
            "content.takedown",
            subject,
            {
                **details,
                "reason": reason,
                "ticket": ticket_id,
                "redacted": result.redacted,
                "failed": [item["event_id"] for item in result.failed],
                "media_quarantined": len(result.media_quarantined),
                "media_not_quarantined": len(result.media_not_quarantined),
                "remaining": result.remaining,
            },
        )


__all__ = ["MAX_EVENTS_PER_CALL", "Takedown", "TakedownResult", "media_of"]
