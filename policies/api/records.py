"""Answers of the module's HTTP API (docs/http-api.md) as the bot reads them.

Records declare the fields a reader uses; the module may send more (ignored), so an older
bot keeps working against a newer module. Fields the module may leave out default to
None, empty or zero, never to a made-up value.
"""

from __future__ import annotations

from typing import Any

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


class FiledTicket(Ticket):
    """``POST /reports``: the ticket, ``ticket`` its id again, ``joined`` true when the report joined
    an open duplicate."""

    ticket: str
    joined: bool


class TicketList(Record):
    """``GET /admin/reports``: newest first."""

    tickets: list[Ticket] = Field(default_factory=list)


class SanctionLift(Record):
    """How a measure was lifted: when, by whom, why, and whether an appeal overturned it."""

    at: int | None = None
    by: str | None = None
    reason: str | None = None
    overturned: bool = False


class CreditDelta(Record):
    """The score before and after a measure's credit change."""

    before: int | None = None
    after: int | None = None


class Sanction(Record):
    """A measure (``POST|GET|DELETE /admin/sanctions…``, ``GET /me`` ``sanctions``).

    ``evidence`` is what was captured when it was taken (event ids and content digests);
    ``credit`` is there when taking it changed a score.
    """

    id: str | None = None
    subject: Subject = Field(default_factory=Subject)
    room_id: str | None = None
    measure: str | None = None
    ladder: str | None = None
    category: str | None = None
    reason: str | None = None
    evidence: list[dict[str, Any]] = Field(default_factory=list)
    report: str | None = None
    actor: str | None = None
    start: int | None = None
    end: int | None = None
    permanent: bool = False
    active: bool | None = None
    credit_delta: int | None = None
    credit_user: str | None = None
    lifted: SanctionLift | None = None
    notified: bool = False
    credit: CreditDelta | None = None


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


class TakenMedia(Record):
    """The media of taken-down events: quarantined, or not with the reason."""

    quarantined: list[str] = Field(default_factory=list)
    not_quarantined: list[dict[str, str]] = Field(default_factory=list)


class Takedown(Record):
    """``POST /admin/takedown`` (and ``takedown`` of a resolution): what was redacted, what was left.

    ``remaining`` counts a person's posts left for another call; ``limit`` is the most one call takes.
    """

    redacted: list[str] = Field(default_factory=list)
    already_redacted: list[str] = Field(default_factory=list)
    not_found: list[str] = Field(default_factory=list)
    not_taken: list[dict[str, str]] = Field(default_factory=list)
    failed: list[dict[str, str]] = Field(default_factory=list)
    media: TakenMedia = Field(default_factory=TakenMedia)
    remaining: int = 0
    limit: int = 0


class Resolution(Ticket):
    """``POST /admin/reports/{id}/resolve``: the closed ticket, with the measure taken and what was taken down."""

    sanction: Sanction | None = None
    takedown: Takedown | None = None


class AppealDecision(Record):
    """When, by whom and why an appeal was decided."""

    at: int | None = None
    by: str | None = None
    reason: str | None = None


class Appeal(Record):
    """An appeal (``GET /admin/appeals``, ``POST /appeals``, ``POST /sanctions/{id}/appeal``,
    ``POST /admin/appeals/{id}/decide``); ``sanction`` is what it appeals (a measure or a refused
    message); ``message`` (when filed) is the text for the appellant."""

    id: str | None = None
    sanction: str | None = None
    appellant: str | None = None
    text: str = ""
    created_at: int | None = None
    status: str | None = None
    decision: AppealDecision | None = None
    message: str | None = None


class AppealList(Record):
    """``GET /admin/appeals``."""

    appeals: list[Appeal] = Field(default_factory=list)


class Announcement(Record):
    """A group announcement (``POST /admin/rooms/{id}/announce``: ``id``, ``status`` and, once
    posted, ``event_id``; ``GET /admin/announcements``, ``POST /admin/announcements/{id}/approve|reject``:
    every field)."""

    id: str | None = None
    room_id: str | None = None
    code: str | None = None
    actor: str | None = None
    text: str = ""
    status: str | None = None
    event_id: str | None = None
    created_ts: int | None = None
    decided_ts: int | None = None
    decided_by: str | None = None
    reason: str | None = None


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


class Verification(Record):
    """``GET /me`` ``verification`` (and ``POST /admin/realname/{user_id}/approve|reject``): the status
    and masked identity data (never in clear); ``attempts_left_today`` while still to verify."""

    status: str = "unverified"
    level: int | None = None
    provider: str | None = None
    name: str | None = None
    id_number: str | None = None
    phone: str | None = None
    submitted_at: int | None = None
    decided_at: int | None = None
    deactivated_at: int | None = None
    attempts_left_today: int | None = None


class RevealedIdentity(Record):
    """``POST /admin/users/{user_id}/reveal``: the identity in clear, for staff with a reason."""

    user_id: str
    status: str
    name: str
    id_number: str
    phone: str | None = None


class RealnameLink(Record):
    """``POST /admin/realname/links``: a one-time link to the verification form and when it expires."""

    url: str
    expires_at: int


class ConventionStatus(Record):
    """``GET /me`` ``convention``: the current version and whether the person accepted it."""

    current_version: str | None = None
    accepted: bool = False


class CreditStatus(Record):
    """``GET /me`` ``credit``: the score (None while unverified), its level and what it allows."""

    score: int | None = None
    level: str | None = None
    may_create: bool | None = None
    may_invite: bool | None = None
    may_post: bool | None = None
    rooms_owned_cap: int | None = None
    rooms_joined_cap: int | None = None


class MeStatus(Record):
    """``GET /me``: a person's own compliance status; parts the module leaves out are None."""

    user_id: str | None = None
    staff: bool = False
    exempt: bool = False
    verification: Verification | None = None
    convention: ConventionStatus | None = None
    blacklisted: bool = False
    language: str | None = None
    credit: CreditStatus | None = None
    sanctions: list[Sanction] | None = None


class GroupMember(Record):
    """A creator or admin on a group's info page, with the role's label."""

    user_id: str
    role: str | None = None
    label: str | None = None


class GroupPage(Record):
    """``GET /groups/{code}`` (and ``POST /groups/{code}/category``): the group's info page as JSON."""

    code: str
    room_id: str
    name: str | None = None
    topic: str | None = None
    category: str | None = None
    category_label: str | None = None
    scale_tier: str | None = None
    scale_tier_label: str | None = None
    activity_tier: str | None = None
    activity_tier_label: str | None = None
    member_count: int | None = None
    info_page_required: bool = False
    public: bool = False
    url: str | None = None
    creator: str | None = None
    creators: list[GroupMember] = Field(default_factory=list)
    admins: list[GroupMember] = Field(default_factory=list)
    status: str | None = None
    status_label: str | None = None
    alias: str | None = None
    join_rule: str | None = None


class Convention(Record):
    """``GET /convention``: the platform convention and the report categories' labels by language."""

    version: str
    text: str = ""
    report_categories: dict[str, dict[str, str]] = Field(default_factory=dict)
    language: str | None = None


class BlacklistEntry(Record):
    """``POST /admin/blacklist``: the entry."""

    id: str
    subject: Subject = Field(default_factory=Subject)
    until: int | None = None


class BlacklistLift(Record):
    """``DELETE /admin/blacklist/{id}``: the id of the entry lifted."""

    lifted: str | None = None


class CreditChange(Record):
    """``POST /admin/users/{user_id}/credit``: the change, the score before and after, and the new level.

    Also an entry of a credit history (``GET /admin/users/{user_id}/credit``), without ``level``.
    """

    id: str | None = None
    user_id: str | None = None
    ts: int | None = None
    delta: int | None = None
    before: int | None = None
    after: int | None = None
    reason: str | None = None
    actor: str | None = None
    sanction: str | None = None
    level: str | None = None


class CreditView(CreditStatus):
    """``GET /admin/users/{user_id}/credit``: the score, its level and what it allows, the last changes."""

    user_id: str
    history: list[CreditChange] = Field(default_factory=list)


class Freeze(Record):
    """``POST|DELETE /admin/emergency…``: an emergency freeze."""

    id: str | None = None
    scope: str | None = None


class Transfer(Record):
    """``POST /groups/{code}/transfer``: the new owner, the previous one, what happened to power levels.

    ``transferred`` false for the confirmation step (every check passed, nothing changed).
    """

    code: str | None = None
    owner: str | None = None
    previous: str | None = None
    power: str | None = None
    transferred: bool = False


class Dissolution(Record):
    """``POST /groups/{code}/dissolve``: ``dissolved`` false for the confirmation step."""

    code: str | None = None
    dissolved: bool = False
    removed: int | None = None


class PendingVerification(Verification):
    """``GET /admin/realname/pending``: a submission waiting for a person, with its masked status."""

    user_id: str


class PendingVerifications(Record):
    """``GET /admin/realname/pending``."""

    pending: list[PendingVerification] = Field(default_factory=list)


__all__ = [
    "Announcement",
    "AnnouncementList",
    "Appeal",
    "AppealDecision",
    "AppealList",
    "BlacklistEntry",
    "BlacklistLift",
    "Convention",
    "ConventionStatus",
    "CreditChange",
    "CreditDelta",
    "CreditStatus",
    "CreditView",
    "Dissolution",
    "FiledTicket",
    "Freeze",
    "GroupMember",
    "GroupPage",
    "Hold",
    "HoldPage",
    "LadderStep",
    "MeStatus",
    "Moderation",
    "PendingVerification",
    "PendingVerifications",
    "Proposal",
    "RealnameLink",
    "Resolution",
    "RevealedIdentity",
    "Sanction",
    "SanctionLift",
    "SanctionList",
    "Stats",
    "Subject",
    "Takedown",
    "TakenMedia",
    "Ticket",
    "TicketEvidence",
    "TicketList",
    "Transfer",
    "Verification",
]
