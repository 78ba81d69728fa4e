"""Reports from anyone, without an account (Art. 12: 便捷的投诉举报入口; DESIGN.md §6.5).

``POST /public/report`` (an HTML form or JSON) files a ticket about a group,
named by its code or room id, in one of the report categories of the policy
(the 12377 set). The reporter gets the ticket number and a follow-up token;
``GET /public/report/{ticket}?token=`` shows that ticket's status and nothing
else (no content, no other reporter, no staff).

Personal data: the client address is needed only to limit floods, so it is
kept as an HMAC under a key of its own (``qunzu/public-report-address/v1``);
an IPv6 address counts by its /64, which one subscriber usually holds whole.
The follow-up token is stored as an HMAC too, the optional contact sealed with
AES-GCM. All three are purged with the network log (retention.py); the ticket stays.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from synapse.module_api.errors import SynapseError

from policies.api import PublicContact, PublicContactList, PublicReceipt, PublicTicketStatus, ReportCategory
from policies.codes import is_valid_code
from policies.messages import format_time

from .crypto import DecryptionError, FieldCipher, derive_key, mac_hex
from .errors import InvalidInput, NotFound
from .evidence_texts import evidence_text
from .refusals import limit_exceeded
from .store.audit import AuditRecord
from .store.public_reports import PublicFiling
from .store.tickets import NewTicket, Ticket

if TYPE_CHECKING:
    from .clock import Clock
    from .config import QunzuConfig
    from .groups import Groups
    from .store.public_reports import PublicReportStore

#: Reports one address may file in an hour (enough for a family behind one router).
PER_HOUR: Final = 10
MAX_REASON_CHARS: Final = 1000
MAX_CONTACT_CHARS: Final = 200
ADDRESS_PURPOSE: Final = "qunzu/public-report-address/v1"
TOKEN_PURPOSE: Final = "qunzu/public-report-token/v1"
CONTACT_PURPOSE: Final = "qunzu/public-report-contact/v1"


def address_key(address: str) -> str:
    """What the limit counts: an IPv4 address as is, an IPv6 address by its /64."""
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{parsed}/64", strict=False))
    return str(parsed)


class PublicReports:
    """Files public reports and answers their follow-up."""

    def __init__(self, clock: Clock, config: QunzuConfig, *, store: PublicReportStore, groups: Groups) -> None:
        self._clock = clock
        self._store = store
        self._groups = groups
        self._policy = config.policy
        self._address_key = derive_key(config.key, ADDRESS_PURPOSE)
        self._token_key = derive_key(config.key, TOKEN_PURPOSE)
        self._contact = FieldCipher(config.key, CONTACT_PURPOSE)

    def categories(self, language: str) -> list[ReportCategory]:
        """The report categories with their labels in `language`, as the form offers them."""
        listed = []
        for name, category in self._policy.reports.categories.items():
            label = next((text for lang, text in category.labels.items() if lang == language), name)
            listed.append(ReportCategory(id=name, label=label))
        return listed

    def _category_label(self, name: str, language: str) -> str:
        return next((c.label for c in self.categories(language) if c.id == name), name)

    def _bad(self, key: str, language: str, **values: object) -> InvalidInput:
        return InvalidInput(evidence_text(key, language, **values))

    async def _room_of(self, target: object, language: str) -> str:
        if not isinstance(target, str) or not target.strip():
            raise self._bad("bad_target", language)
        value = target.strip()
        # Through the groups service: a group seconds old is linked to its room here.
        groups = self._groups
        if is_valid_code(value):
            record = await groups.by_code(value)
        elif value.startswith("!") and len(value) <= 255:
            try:
                record = await groups.record.get(value)
            except SynapseError:
                record = None  # a room this server does not know
        else:
            raise self._bad("bad_target", language)
        # Only governed groups: a private chat or a bot chat is nobody's public business.
        if record is None or record.room_id is None or record.verification_dm:
            raise NotFound(evidence_text("unknown_group", language))
        return record.room_id

    async def file(self, address: str, body: Mapping[str, Any], language: str) -> PublicReceipt:
        """File a report from `address` with `{code | room_id, category, reason, contact?}`.

        Raises:
            RequestError: 400 bad input, 404 unknown group, 429 too many reports from the address.
        """
        room_id = await self._room_of(body.get("code") or body.get("room_id"), language)
        category = body.get("category")
        categories = self._policy.reports.categories
        if not isinstance(category, str) or category not in categories:
            names = "、".join(f"{c.id}（{c.label}）" for c in self.categories(language))
            raise self._bad("bad_category", language, categories=names)
        reason = body.get("reason")
        if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON_CHARS:
            raise self._bad("bad_reason", language, limit=MAX_REASON_CHARS)
        contact = body.get("contact")
        if contact is not None and (not isinstance(contact, str) or len(contact) > MAX_CONTACT_CHARS):
            raise self._bad("bad_contact", language, limit=MAX_CONTACT_CHARS)
        contact = contact.strip() if isinstance(contact, str) and contact.strip() else None
        now = self._clock.now_ms()
        severity = categories[category].severity
        ticket = NewTicket(
            source="public_report",
            category=category,
            reason=reason.strip(),
            created_ts=now,
            deadline_ts=now + self._policy.reports.deadlines[severity] * 1000,
            room_id=room_id,
            dedupe_key=f"room:{room_id}",
        )
        token = secrets.token_urlsafe(24)
        report_id = secrets.token_hex(8)
        address_hash = mac_hex(self._address_key, address_key(address).encode("utf-8"))
        audit = AuditRecord("public", "report.public", room_id, {"category": category, "source": "public_report"})
        filed = await self._store.file(
            ticket,
            report_id,
            mac_hex(self._token_key, token.encode("ascii")),
            address_hash,
            None if contact is None else self._contact.encrypt(contact, report_id),
            audit,
            PER_HOUR,
        )
        if not isinstance(filed, PublicFiling):
            raise limit_exceeded(evidence_text("rate_limited", language, limit=PER_HOUR), filed, "hour")
        shown = self.status_of(filed.ticket, language)
        status_path = f"public/report/{filed.ticket.id}?token={token}"
        return PublicReceipt(**shown.model_dump(), token=token, status_path=status_path)

    def status_of(self, ticket: Ticket, language: str) -> PublicTicketStatus:
        """What the reporter may see of a ticket: its status, category and deadline."""
        return PublicTicketStatus(
            ticket=ticket.id,
            status=ticket.status,
            status_label=evidence_text(f"status.{ticket.status}", language),
            category=ticket.category,
            category_label=self._category_label(ticket.category, language),
            created_ts=ticket.created_ts,
            deadline_ts=ticket.deadline_ts,
            deadline=format_time(ticket.deadline_ts),
            closed_ts=ticket.resolved_ts,
        )

    async def contacts(self, actor: str, ticket_id: str, reason: str) -> PublicContactList:
        """The public reports on a ticket with their contacts, for staff; the read and its reason are audited.

        A contact that does not decrypt (another key file) shows as None.
        """
        wanted = ticket_id.strip().upper()
        audit = AuditRecord(actor, "report.public_contacts", wanted, {"reason": reason})
        listed = []
        for report_id, ts, category, contact_enc in await self._store.of_ticket(wanted, audit):
            contact = None
            if contact_enc is not None:
                try:
                    contact = self._contact.decrypt(contact_enc, report_id)
                except DecryptionError:
                    contact = None
            listed.append(PublicContact(report=report_id, ts=ts, category=category, contact=contact))
        return PublicContactList(reports=listed)

    async def status(self, ticket_id: str, token: str | None, language: str) -> PublicTicketStatus:
        """The status of the ticket the token was given for.

        Raises:
            RequestError: 404 for a wrong ticket number or token (the same answer for both).
        """
        ticket = None
        if token and len(token) <= 100 and token.isascii():
            ticket = await self._store.ticket_for(ticket_id.strip().upper(), mac_hex(self._token_key, token.encode()))
        if ticket is None:
            raise NotFound(evidence_text("bad_token", language))
        return self.status_of(ticket, language)
