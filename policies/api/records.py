"""Answers of the module's HTTP API (docs/http-api.md) as the bot reads them.

Records declare the fields a reader uses; the module may send more (ignored), so an older
bot keeps working against a newer module. Fields the module may leave out default to
None, empty or zero, never to a made-up value.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SerializeAsAny

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


class Lifted(Record):
    """How a measure or a blacklist entry was lifted: when, by whom, why; for a measure, whether
    an appeal overturned it."""

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
    lifted: Lifted | None = None
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
    """A group announcement (``POST /admin/rooms/{id}/announce``: ``id``, ``status`` and, unless it
    waits for staff, ``event_id``; ``GET /admin/announcements``, ``POST /admin/announcements/{id}/approve|reject``:
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


class EvidenceItem(Record):
    """A sealed item of the evidence locker (``GET /admin/evidence[/{id}]``): everything but the content."""

    id: str
    ts: int = 0
    action: str | None = None
    rule: str | None = None
    category: str | None = None
    sender: str | None = None
    room_id: str | None = None
    event_id: str | None = None
    event_type: str | None = None
    ticket: str | None = None
    digest: str | None = None
    status: str | None = None
    decided_by: str | None = None
    decided_ts: int | None = None
    released_event_id: str | None = None


class RevealedEvidence(EvidenceItem):
    """``POST /admin/evidence/{id}/reveal``: the item with the event's content (free-form, as sent)."""

    content: Any = None


class EvidencePage(Record):
    """``GET /admin/evidence``: newest first; ``next`` is the cursor of the next page."""

    items: list[EvidenceItem] = Field(default_factory=list)
    next: str | None = None


class Hold(EvidenceItem):
    """A held message (``GET /admin/holds``, ``POST /admin/holds/{id}/release|reject``); never its content.

    ``category_label`` in a page; ``sender_told`` after a rejection.
    """

    category_label: str | None = None
    sender_told: bool = False


class HoldPage(Record):
    """``GET /admin/holds``: newest first; ``next`` is the cursor of the next page."""

    items: list[Hold] = Field(default_factory=list)
    next: str | None = None


class Moderation(Record):
    """``POST /admin/rooms/{id}/moderate``: what the action did (fields by action).

    Always ``room_id``, ``action``, ``actor``; ``target`` for actions on a person; ``id`` and
    ``until`` for ``mute`` and ``mute_all``.
    """

    room_id: str | None = None
    action: str | None = None
    actor: str | None = None
    target: str | None = None
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
    """``GET /me`` ``verification`` (and ``POST /realname``, ``POST /admin/realname/{user_id}/approve|reject``):
    the status and masked identity data (never in clear); ``attempts_left_today`` while still to verify."""

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


class ConventionAccepted(Record):
    """``POST /convention/accept``: the version accepted."""

    accepted: str


class ContentReload(Record):
    """``POST /admin/content/reload``: whether the content lists were reloaded, their version and size."""

    reloaded: bool
    version: int = 0
    terms: int = 0
    media_hashes: int = 0


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
    member_label: str | None = None
    created_at: int | None = None
    created_at_text: str | None = None
    status: str | None = None
    status_label: str | None = None
    alias: str | None = None
    matrix_to: str | None = None
    join_rule: str | None = None


class Convention(Record):
    """``GET /convention``: the platform convention and the report categories' labels by language."""

    version: str
    text: str = ""
    report_categories: dict[str, dict[str, str]] = Field(default_factory=dict)
    language: str | None = None


class BlacklistEntry(Record):
    """``POST /admin/blacklist``, ``GET /admin/blacklist``: an entry (an identity's ``subject.id``
    is its keyed fingerprint, never the ID number)."""

    id: str
    subject: Subject = Field(default_factory=Subject)
    covers_identity: bool = False
    reason: str | None = None
    actor: str | None = None
    created_at: int | None = None
    until: int | None = None
    active: bool | None = None
    lifted: Lifted | None = None


class BlacklistEntryList(Record):
    """``GET /admin/blacklist``: the entries."""

    entries: list[BlacklistEntry] = Field(default_factory=list)


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
    """``POST|DELETE /admin/emergency…``, ``GET /admin/emergency``: an emergency freeze, active until lifted."""

    id: str | None = None
    scope: str | None = None
    reason: str | None = None
    actor: str | None = None
    created_ts: int | None = None
    lifted_ts: int | None = None
    lifted_by: str | None = None
    lift_reason: str | None = None
    active: bool = False


class Freezes(Record):
    """``GET /admin/emergency``: the freezes in force and the most recent ones."""

    active: list[Freeze] = Field(default_factory=list)
    recent: list[Freeze] = Field(default_factory=list)


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


class ReportCategory(Record):
    """A report category and its label in the page's language."""

    id: str
    label: str


class PublicReportForm(Record):
    """``GET /public/report`` (JSON): the categories a public report may name, and how many an
    address may file an hour."""

    categories: list[ReportCategory] = Field(default_factory=list)
    per_hour: int = 0


class PublicTicketStatus(Record):
    """``GET /public/report/{ticket}?token=``: what a public reporter may see of their ticket.

    ``deadline`` is the deadline as text (China Standard Time); ``closed_ts`` None while open.
    """

    ticket: str
    status: str
    status_label: str
    category: str
    category_label: str
    created_ts: int
    deadline_ts: int
    deadline: str
    closed_ts: int | None = None


class PublicReceipt(PublicTicketStatus):
    """``POST /public/report``: the ticket's status with the token that follows it and its status path."""

    token: str
    status_path: str


class PublicContact(Record):
    """One public report on a ticket and its contact (None: none given, or it does not decrypt)."""

    report: str
    ts: int
    category: str
    contact: str | None = None


class PublicContactList(Record):
    """``POST /admin/reports/{id}/public-contacts``: the public reports on a ticket, for staff."""

    reports: list[PublicContact] = Field(default_factory=list)


class GroupCount(Record):
    """How many groups of a category are in a scale tier."""

    category: str
    tier: str
    count: int


class MeasureCount(Record):
    """How many measures of a kind were taken in a month (``YYYY-MM``, China Standard Time)."""

    month: str
    measure: str
    count: int


class ReportCount(Record):
    """How many reports came from a source in a month (``YYYY-MM``, China Standard Time)."""

    month: str
    source: str
    count: int


class FilingStatistics(Record):
    """The numbers of the filing document (备案), from the module's own records."""

    groups: list[GroupCount] = Field(default_factory=list)
    groups_closed: int = 0
    users_by_level: dict[str, int] = Field(default_factory=dict)
    measures_by_month: list[MeasureCount] = Field(default_factory=list)
    reports_by_month: list[ReportCount] = Field(default_factory=list)
    active_freezes: int = 0


class FilingDocument(Record):
    """``GET /admin/filing?format=json``: the document as Markdown and the statistics behind it."""

    markdown: str
    statistics: FilingStatistics


class AuditEntry(Record):
    """One row of the audit log (``GET /admin/audit``); ``details`` is what the action recorded."""

    seq: int
    ts: int
    actor: str
    action: str
    subject: str
    details: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str
    hash: str


class AuditEntryList(Record):
    """``GET /admin/audit``: newest first."""

    entries: list[AuditEntry] = Field(default_factory=list)


class ChainCheck(Record):
    """``GET /admin/audit/verify``: whether the hash chain holds; ``first_bad`` the first row that fails."""

    ok: bool
    rows: int
    first_bad: int | None = None
    problem: str | None = None


class BundleCheck(Record):
    """``POST /admin/export/verify``: whether an export bundle matches its manifest (and MAC)."""

    ok: bool
    problems: list[str] = Field(default_factory=list)
    files: int = 0
    lines: int = 0
    mac_checked: bool = False


class RegulatorReport(Record):
    """A report to the authorities (向有关主管部门报告; ``GET|POST /admin/regulator-reports…``): what
    happened, on what evidence and legal basis, and its submission."""

    id: str
    ts: int
    kind: str
    subject: Subject = Field(default_factory=Subject)
    sanction: str | None = None
    blacklist_entry: str | None = None
    category: str | None = None
    summary: str = ""
    summary_zh: str | None = None
    evidence: list[dict[str, Any]] = Field(default_factory=list)
    legal_basis: str = ""
    actor: str | None = None
    status: str | None = None
    submitted_to: str | None = None
    submitted_at: int | None = None
    receipt: str | None = None
    updated_ts: int | None = None


class RegulatorReportList(Record):
    """``GET /admin/regulator-reports``."""

    reports: list[RegulatorReport] = Field(default_factory=list)


class PendingVerification(Verification):
    """``GET /admin/realname/pending``: a submission waiting for a person, with its masked status."""

    user_id: str


class PendingVerifications(Record):
    """``GET /admin/realname/pending``."""

    pending: list[PendingVerification] = Field(default_factory=list)


class AdminGuardStatus(Record):
    """``GET /health`` ``admin_guard``: whether admin actions are checked, since when, the last sweep."""

    armed: bool = False
    since: int | None = None
    swept: int | None = None


class GreetingQueue(Record):
    """``GET /health`` ``greetings``: new accounts waiting for their greeting here, and greeters at work."""

    waiting: int = 0
    greeters: int = 0


class NoticeQueue(Record):
    """``GET /health`` ``notices``: refusal and group-code notices waiting to be posted into bot
    chats here, senders at work, and notices dropped since start because too many were waiting."""

    waiting: int = 0
    senders: int = 0
    dropped: int = 0


class PolicyFingerprint(Record):
    """``GET /health`` ``policy``: the effective policy's convention version and SHA-256."""

    convention_version: str
    sha256: str


class LastJobRun(Record):
    """``GET /health`` ``jobs``: the newest recorded run of a job."""

    ts: int
    instance: str
    ok: bool


class HealthReport(Record):
    """``GET /health``: the process's state, schema and convention, its parts, the policy and the
    jobs' last runs (``jobs`` None until the schema is ready; a job never run is None)."""

    status: str
    schema_version: int
    convention_version: str
    instance: str
    admin_guard: AdminGuardStatus | None = None
    greetings: GreetingQueue | None = None
    notices: NoticeQueue | None = None
    policy: PolicyFingerprint | None = None
    jobs: dict[str, LastJobRun | None] | None = None


class JobResult(Record):
    """What one run of a background job did: each job's record declares its counts (the positive
    ones are the metric ``qunzu_job_items``; the run's audit record ``job.run`` carries them)."""


class JobRun(Record):
    """``POST /admin/jobs/{name}``: the job and what this run of it did."""

    job: str
    result: SerializeAsAny[JobResult]


class RetentionRun(JobResult):
    """``records_retention``: rows purged before ``before`` (ms) by table, how long it took; ``audit_refused``
    when the audit log could not be purged (the reason)."""

    before: int
    netlog: int = 0
    evidence: int = 0
    public_reports: int = 0
    audit: int = 0
    ms: int = 0
    audit_refused: str | None = None


class IdentitiesPurged(JobResult):
    """``purge_deactivated_identities``: identities of closed accounts purged after the retention period."""

    purged: int = 0


class NetlogCatchUp(JobResult):
    """``netlog_catch_up``: rows the live writer had missed, and the stream position reached."""

    added: int = 0
    cursor: int = 0


class FollowupsDone(JobResult):
    """``sanctions_followup``: measures whose notices and removals were finished."""

    done: int = 0


class PolicyListSync(JobResult):
    """``policy_list_sync`` (and ``POST /admin/policy-list/sync``): rules published and withdrawn in the
    policy-list room (``room_id`` when there was anything to do)."""

    published: int = 0
    withdrawn: int = 0
    room_id: str | None = None


class TierRefresh(JobResult):
    """``refresh_group_tiers``: groups whose tier changed, and codes linked to their room after a crash
    had left them unlinked."""

    changed: int = 0
    linked: int = 0


class CodeBackfill(JobResult):
    """``backfill_group_codes``: rooms that got a group code."""

    registered: int = 0


class AclReconcile(JobResult):
    """``server_acls``: groups whose server ACL was brought in line, and those where that failed."""

    updated: int = 0
    failed: int = 0


class AliasSweep(JobResult):
    """``restore_code_aliases``: ``#<code>`` aliases restored, and those that failed (retried later)."""

    restored: int = 0
    failed: int = 0


class ConventionNoticesSent(JobResult):
    """``convention_notices``: people told of a new convention version, and those who could not be told."""

    told: int = 0
    failed: int = 0


class OnceForgotten(JobResult):
    """``forget_expired_once``: expired once-keys dropped."""

    forgotten: int = 0


class MuteAllEnded(JobResult):
    """``mute_all_ended``: mute-alls that ended by themselves, and rooms told so."""

    ended: int = 0
    told: int = 0


class FederationSweep(JobResult):
    """``federation_guard``: people of servers that are no longer partners removed from groups."""

    removed: int = 0


class ReportImport(JobResult):
    """``import_synapse_reports``: reports of Matrix clients' report buttons imported as tickets."""

    imported: int = 0


class ReportNotices(JobResult):
    """``report_notices``: acknowledgements and outcome notices delivered to reporters."""

    sent: int = 0


class RoomStaffNotices(JobResult):
    """``room_staff_notices``: tickets whose room's owner and admins were told."""

    told: int = 0


__all__ = [
    "AclReconcile",
    "AdminGuardStatus",
    "AliasSweep",
    "Announcement",
    "AnnouncementList",
    "Appeal",
    "AppealDecision",
    "AppealList",
    "AuditEntry",
    "AuditEntryList",
    "BlacklistEntry",
    "BlacklistEntryList",
    "BlacklistLift",
    "BundleCheck",
    "ChainCheck",
    "CodeBackfill",
    "ContentReload",
    "Convention",
    "ConventionAccepted",
    "ConventionNoticesSent",
    "ConventionStatus",
    "CreditChange",
    "CreditDelta",
    "CreditStatus",
    "CreditView",
    "Dissolution",
    "EvidenceItem",
    "EvidencePage",
    "FederationSweep",
    "FiledTicket",
    "FilingDocument",
    "FilingStatistics",
    "FollowupsDone",
    "Freeze",
    "Freezes",
    "GreetingQueue",
    "GroupCount",
    "GroupMember",
    "GroupPage",
    "HealthReport",
    "Hold",
    "HoldPage",
    "IdentitiesPurged",
    "JobResult",
    "JobRun",
    "LadderStep",
    "LastJobRun",
    "Lifted",
    "MeStatus",
    "MeasureCount",
    "Moderation",
    "MuteAllEnded",
    "NetlogCatchUp",
    "NoticeQueue",
    "OnceForgotten",
    "PendingVerification",
    "PendingVerifications",
    "PolicyFingerprint",
    "PolicyListSync",
    "Proposal",
    "PublicContact",
    "PublicContactList",
    "PublicReceipt",
    "PublicReportForm",
    "PublicTicketStatus",
    "RealnameLink",
    "RegulatorReport",
    "RegulatorReportList",
    "ReportCategory",
    "ReportCount",
    "ReportImport",
    "ReportNotices",
    "Resolution",
    "RetentionRun",
    "RevealedEvidence",
    "RevealedIdentity",
    "RoomStaffNotices",
    "Sanction",
    "SanctionList",
    "Stats",
    "Subject",
    "Takedown",
    "TakenMedia",
    "Ticket",
    "TicketEvidence",
    "TicketList",
    "TierRefresh",
    "Transfer",
    "Verification",
]
