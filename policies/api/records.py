"""Answers of the module's HTTP API (docs/http-api.md) as the bot reads them.

Records declare the fields a reader uses; the module may send more (ignored), so an older
bot keeps working against a newer module. Fields the module may leave out default to
None, empty or zero, never to a made-up value.
"""

from __future__ import annotations

from pydantic import Field

from .base import Record


class Subject(Record):
    """Whom a measure is about: ``{"type", "id"}`` (``type``: user, room, room_member, identity)."""

    type: str | None = None
    id: str | None = None


class TicketEvidence(Record):
    """What a ticket points at; never the content, only its digest."""

    event_id: str | None = None
    sender: str | None = None
    content_digest: str | None = None
    permalink: str | None = None


class Ticket(Record):
    """One complaint ticket in the staff queue (``GET /admin/reports[/{id}]``)."""

    id: str
    source: str | None = None
    status: str
    category: str
    category_label: str | None = None
    severity: str | None = None
    rule: str | None = None
    room_id: str | None = None
    event_id: str | None = None
    accused: str | None = None
    reporter: str | None = None
    reason: str = ""
    content_digest: str | None = None
    created_ts: int
    deadline_ts: int
    resolved_ts: int | None = None
    resolved_by: str | None = None
    outcome: str | None = None
    assignee: str | None = None
    sanction_id: str | None = None
    resolution: str | None = None
    overdue: bool = False
    evidence: TicketEvidence = Field(default_factory=TicketEvidence)
    reporters: list[str] = Field(default_factory=list)
    reporter_count: int = 0

    @property
    def is_open(self) -> bool:
        """Still waiting for staff (open or in review)."""
        return self.status in ("open", "in_review")


class TicketList(Record):
    """``GET /admin/reports``: newest first."""

    tickets: list[Ticket] = Field(default_factory=list)


class Sanction(Record):
    """A measure (``POST|GET|DELETE /admin/sanctions…``, ``GET /me`` ``sanctions``)."""

    id: str | None = None
    subject: Subject = Field(default_factory=Subject)
    measure: str | None = None
    reason: str | None = None
    room_id: str | None = None
    start: int | None = None
    end: int | None = None
    permanent: bool = False
    active: bool | None = None


class SanctionList(Record):
    """``GET /admin/sanctions``: newest first."""

    sanctions: list[Sanction] = Field(default_factory=list)


class LadderStep(Record):
    """One step of a sanction ladder: the measure, its duration (None: permanent)."""

    measure: str | None = None
    duration: int | None = None
    permanent: bool = False
    credit_delta: int | None = None
    blacklist: bool = False


class Proposal(Record):
    """``POST /admin/sanctions/propose``: the ladder's next step for a subject."""

    subject: Subject = Field(default_factory=Subject)
    ladder: str | None = None
    prior_measures: int = 0
    window_days: int | None = None
    severe: bool = False
    proposal: LadderStep | None = None


class Resolution(Record):
    """``POST /admin/reports/{id}/resolve``: the closed ticket, with the measure taken."""

    id: str | None = None
    status: str | None = None
    outcome: str | None = None
    sanction: Sanction | None = None


class Appeal(Record):
    """An appeal (``GET /admin/appeals``, ``POST /appeals``); ``message`` is the text for the appellant."""

    id: str | None = None
    sanction: str | None = None
    appellant: str | None = None
    text: str = ""
    status: str | None = None
    message: str | None = None


class AppealList(Record):
    """``GET /admin/appeals``."""

    appeals: list[Appeal] = Field(default_factory=list)


class Announcement(Record):
    """A group announcement (``POST /admin/rooms/{id}/announce``, ``GET /admin/announcements``)."""

    id: str | None = None
    room_id: str | None = None
    code: str | None = None
    actor: str | None = None
    text: str = ""
    status: str | None = None
    event_id: str | None = None
    created_ts: int | None = None


class AnnouncementList(Record):
    """``GET /admin/announcements``: oldest first."""

    announcements: list[Announcement] = Field(default_factory=list)


class Hold(Record):
    """A held message (``GET /admin/holds``, ``POST /admin/holds/{id}/release|reject``); never its content."""

    id: str
    ts: int = 0
    category: str | None = None
    category_label: str | None = None
    sender: str | None = None
    room_id: str | None = None
    ticket: str | None = None
    status: str | None = None
    sender_told: bool = False


class HoldPage(Record):
    """``GET /admin/holds``: newest first; ``next`` is the cursor of the next page."""

    items: list[Hold] = Field(default_factory=list)
    next: str | None = None


class Moderation(Record):
    """``POST /admin/rooms/{id}/moderate``: what the action did (fields by action)."""

    id: str | None = None
    until: int | None = None
    # `unmute_all`: whether a mute-all was on; `unmute`: how many of the person's mutes were lifted.
    lifted: bool | int | None = None
    confirmed_invite: bool = False


class Stats(Record):
    """``GET /admin/reports/stats``: counts for the daily digest."""

    since: int = 0
    opened: int = 0
    resolved: int = 0
    dismissed: int = 0
    closed_late: int = 0
    open: int = 0
    in_review: int = 0
    overdue: int = 0


__all__ = [
    "Announcement",
    "AnnouncementList",
    "Appeal",
    "AppealList",
    "Hold",
    "HoldPage",
    "LadderStep",
    "Moderation",
    "Proposal",
    "Resolution",
    "Sanction",
    "SanctionList",
    "Stats",
    "Subject",
    "Ticket",
    "TicketEvidence",
    "TicketList",
]
