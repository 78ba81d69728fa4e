"""Reports and the ticket queue (Art. 12): filing, duplicates, the Synapse import, resolving.

- Every report — `!report` through the bot, `POST /reports`, and the standard
  report buttons of Matrix clients (imported from Synapse's tables) — lands in
  `qunzu_tickets` with category, evidence (event id, sender, content digest,
  permalink; never content), deadline by the category's severity, status and
  assignee.
- A report of an event, room or user with an open ticket joins that ticket: one
  ticket, several reporters.
- Every reporter is acknowledged with the ticket id and told the outcome when
  the ticket closes (生态治理规定 Art. 16), from the service account in a direct
  chat, never naming staff. Notices are sent right away and again by the job
  `report_notices` until delivered, so a crash only delays them.
- Resolving applies a measure through the sanctions service (one model for
  every measure) and records the outcome and the measure's id on the ticket.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from synapse.module_api.errors import Codes

from policies import Measure, api
from policies.constants import DESK_NUDGE_TYPE
from policies.numbers import duration_seconds
from policies.report_reasons import classify_reason
from policies.roles import room_admins, room_creators

from .errors import Conflict, InvalidInput, NotFound, NotPermitted, TicketNotOpen
from .jobs import Job, Jobs
from .refusals import limit_exceeded
from .report_texts import deadline_text, report_text
from .sanctions.measures import ROOM_MEASURES, TIMELESS_MEASURES, SanctionRequest, measure_of
from .store import synapse_tables
from .store.audit import AuditRecord
from .store.reports import FiledReport, SynapseReport
from .store.tickets import NewTicket, Ticket

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .clock import Clock
    from .config import QunzuConfig
    from .health import Health
    from .notices import Notifier
    from .sanctions.measures import Measures
    from .store import QunzuStore
    from .takedown import Takedown
    from .work_queue import WorkQueue

logger = logging.getLogger(__name__)

#: A reporter may file this many reports per hour (buttons in clients are rate-limited by Synapse).
REPORTS_PER_HOUR = 20
MAX_REASON_CHARS = 1000
#: Synapse allocates report ids in memory before inserting; rescanning a few ids below the
#: cursor catches a report committed after a higher one. The primary key keeps it exactly once,
#: and the read leaves out rows imported already, so a rescan costs index lookups, not imports.
IMPORT_OVERLAP = 50
IMPORT_BATCH = 200
#: How often the background instance looks for reports with ids above the highest it has seen
#: (Art. 12 及时处理: a report button's ticket should reach staff as fast as a `!report`). A look
#: is one transaction of three primary-key range reads, nearly always empty. What it finds is
#: imported at once and the desk is nudged, so a ticket reaches staff within about this interval.
IMPORT_TICK_MS = 500
#: The job `import_synapse_reports` (every 5 s) rescans the overlap below the cursor for reports
#: committed late; the short cycle above reads only new ids.
IMPORT_EVERY_MS = 5_000
NOTICE_BATCH = 100
#: A failing short import cycle is logged at most this often (it retries every `IMPORT_TICK_MS`).
FAILURE_LOG_EVERY_MS = 60 * 1000
OUTCOMES = ("resolved", "dismissed")


def _bad(message: str, code: str = Codes.INVALID_PARAM) -> InvalidInput:
    return InvalidInput(message, errcode=code)


class Reports:
    """The report queue: file, import, assign, resolve, notify."""

    def __init__(
        self,
        api: ModuleApi,
        clock: Clock,
        config: QunzuConfig,
        store: QunzuStore,
        *,
        measures: Measures,
        takedown: Takedown,
        notifier: Notifier,
        notice_queue: WorkQueue,
        health: Health,
    ) -> None:
        self._api = api
        self._clock = clock
        self._config = config
        self._store = store.reports
        self._tickets = store.tickets
        self._measure_store = store.measures
        self._measures = measures
        self._takedown = takedown
        self._notifier = notifier
        self._notice_queue = notice_queue
        self._health = health
        self._policy = config.policy
        self._language = config.language
        # The short import cycle: the highest id seen per report table (None until its first look).
        self._seen: dict[str, int] | None = None
        self._looking = False
        self._failure_logged_ms = -FAILURE_LOG_EVERY_MS

    def register_jobs(self, jobs: Jobs) -> None:
        # Art. 12: the report buttons of Matrix clients fire no callback; read Synapse's tables.
        jobs.add(Job("import_synapse_reports", IMPORT_EVERY_MS, self.import_synapse_reports))
        jobs.add(Job("report_notices", 60 * 1000, self.send_notices))
        # Art. 9: the room's owner and admins hear of reports and flags about their room.
        jobs.add(Job("room_staff_notices", 60 * 1000, self.send_room_staff_notices))

    # -- categories -------------------------------------------------------------------------

    def category_label(self, category: str) -> str:
        known = self._policy.reports.categories.get(category)
        if known is None:
            return category
        return next((label for lang, label in known.labels.items() if lang == self._language), category)

    def _deadline(self, category: str, now_ms: int) -> int:
        severity = self._policy.reports.categories[category].severity
        return now_ms + self._policy.reports.deadlines[severity] * 1000

    def _check_category(self, category: object) -> str:
        categories = self._policy.reports.categories
        if not isinstance(category, str) or category not in categories:
            names = ", ".join(categories)
            raise _bad(report_text("bad_category", self._language, categories=names))
        return category

    def guess_category(self, reason: str) -> str:
        """The category a free-text reason of a report button means (policies/report_reasons.py)."""
        # Synapse does not bound a report's reason; the ticket keeps (and the classifier reads) its start.
        return classify_reason(reason[:MAX_REASON_CHARS], self._policy)

    # -- filing -----------------------------------------------------------------------------

    async def file(
        self,
        reporter: str,
        room_id: object,
        event_id: object,
        user_id: object,
        category: object,
        reason: object,
    ) -> api.FiledTicket:
        """A report by a person (`POST /reports`).

        Raises:
            RequestError: 400 bad input or category; 403 not in the room; 404 unknown event;
                429 too many reports in an hour.
        """
        filed = await self.file_report(reporter, room_id, event_id, user_id, category, reason)
        shown = await self.ticket_record(filed.ticket)
        return api.FiledTicket(**shown.model_dump(), ticket=filed.ticket.id, joined=filed.joined)

    async def file_report(
        self,
        reporter: str,
        room_id: object,
        event_id: object,
        user_id: object,
        category: object,
        reason: object,
    ) -> FiledReport:
        """File a report (`POST /reports`, a `!report` taken out of a room); a new reporter is acknowledged.

        Raises:
            RequestError: as `file`.
        """
        language = self._language
        category = self._check_category(category)
        if not isinstance(room_id, str) or not room_id.startswith("!"):
            raise _bad("'room_id' must be a room id", Codes.BAD_JSON)
        if event_id is not None and (not isinstance(event_id, str) or not event_id.startswith("$")):
            raise _bad("'event_id' must be an event id", Codes.BAD_JSON)
        if user_id is not None and (not isinstance(user_id, str) or not user_id.startswith("@")):
            raise _bad("'user_id' must be a user id", Codes.BAD_JSON)
        if reason is None:
            reason = ""
        if not isinstance(reason, str):
            raise _bad("'reason' must be text", Codes.BAD_JSON)
        if len(reason) > MAX_REASON_CHARS:
            raise _bad(report_text("reason_too_long", language, limit=MAX_REASON_CHARS))
        joined = await self._api.run_db_interaction(
            "qunzu_reporter_joined", synapse_tables.is_joined_txn, room_id, reporter
        )
        if not joined:
            raise NotPermitted(report_text("not_member", language))
        now = self._clock.now_ms()
        ticket = await self._new_ticket(
            "user_report", room_id, event_id, user_id, category, reason.strip(), now, reporter
        )
        audit = AuditRecord(reporter, "report.file", room_id, {"category": category, "source": "user_report"})
        filed = await self._store.file(ticket, reporter, "user_report", reason.strip(), audit, REPORTS_PER_HOUR)
        if not isinstance(filed, FiledReport):
            raise limit_exceeded(report_text("rate_limited", language, limit=REPORTS_PER_HOUR), filed, "hour")
        if filed.new_reporter:
            self._notify_soon(filed.ticket.id, reporter, "ack")
        if not filed.joined:
            self._tell_room_staff_soon(filed.ticket)
        return filed

    async def _new_ticket(
        self,
        source: str,
        room_id: str | None,
        event_id: str | None,
        user_id: str | None,
        category: str,
        reason: str,
        now_ms: int,
        reporter: str,
    ) -> NewTicket:
        accused, digest = user_id, None
        if event_id is not None:
            # Evidence captured now (content may be redacted later): sender and content digest.
            evidence = await self._measure_store.event_evidence(event_id)
            if evidence is None or evidence.get("room_id") != room_id:
                raise NotFound(report_text("unknown_event", self._language))
            accused = str(evidence.get("sender") or "") or None
            digest = str(evidence.get("content_sha256") or "") or None
            key = f"event:{event_id}"
        elif user_id is not None:
            key = f"user:{user_id}"
        else:
            key = f"room:{room_id}"
        return NewTicket(
            source="user_report" if source == "user_report" else "matrix_report",
            category=category,
            reason=reason[:MAX_REASON_CHARS],
            created_ts=now_ms,
            deadline_ts=self._deadline(category, now_ms),
            room_id=room_id,
            event_id=event_id,
            accused=accused,
            reporter=reporter,
            content_digest=digest,
            dedupe_key=key,
        )

    # -- the import of Synapse's reports ----------------------------------------------------

    def start_import(self) -> None:
        """Look for new report-button reports every `IMPORT_TICK_MS` (Synapse runs it on the background instance)."""
        self._api.looping_background_call(self._import_tick, IMPORT_TICK_MS, desc="qunzu_report_import")

    async def _import_tick(self) -> None:
        # Synapse starts a tick even while the previous one still runs; one look at a time.
        if self._looking or not self._health.is_ready():
            return
        self._looking = True
        try:
            await self.import_new()
        except Exception:
            # A scheduler boundary. The job's rescan imports what this look missed.
            now = self._clock.now_ms()
            if now - self._failure_logged_ms >= FAILURE_LOG_EVERY_MS:
                self._failure_logged_ms = now
                logger.exception("qunzu: looking for new report-button reports failed; the job rescans")
        finally:
            self._looking = False

    async def import_new(self) -> int:
        """Import the reports with ids above the highest seen by this process; the number imported."""
        if self._seen is None:
            self._seen = await self._store.import_cursors()
        rows = await self._store.new_synapse_reports(dict(self._seen), IMPORT_BATCH)
        imported = await self._import_rows(rows, fast=True)
        for row in rows:
            # Past a row even when its import failed: the job's rescan of the overlap tries it again.
            self._seen[row.table] = max(self._seen[row.table], row.id)
        return imported

    async def import_synapse_reports(self) -> api.ReportImport:
        """The job: import the rows of event_reports, room_reports, user_reports not imported yet, each once.

        Reads from a little below the highest id imported (`IMPORT_OVERLAP`): a report committed
        after one with a higher id is found here even when the short cycle has passed its id.
        """
        imported = 0
        for table in synapse_tables.REPORT_TABLES:
            cursor = max(0, await self._store.import_cursor(table) - IMPORT_OVERLAP)
            while True:
                rows = await self._store.synapse_reports(table, cursor, IMPORT_BATCH)
                imported += await self._import_rows(rows, fast=False)
                if len(rows) < IMPORT_BATCH:
                    break
                cursor = rows[-1].id
        return api.ReportImport(imported=imported)

    async def _import_rows(self, rows: Sequence[SynapseReport], *, fast: bool) -> int:
        """Import `rows`; the desk is nudged after a severe ticket at once and after the rest once.

        With `fast`, a row that fails is logged and skipped (the job's rescan tries it again);
        otherwise the failure ends the run, as any job's.
        """
        imported, unannounced = 0, False
        for row in rows:
            try:
                filed = await self._import(row)
            except Exception:
                if not fast:
                    raise
                logger.exception("qunzu: importing report %s/%d failed; the job's rescan retries", row.table, row.id)
                continue
            if filed is None:
                continue
            imported += 1
            unannounced = True
            if self._is_severe(filed.ticket.category):
                # Art. 12: terrorism, child sexual content: staff hear of it before the rest of the batch.
                self.nudge_desk()
                unannounced = False
        if unannounced:
            self.nudge_desk()
        return imported

    def _is_severe(self, category: str) -> bool:
        known = self._policy.reports.categories.get(category)
        return known is not None and known.severity == "severe"

    async def _import(self, row: SynapseReport) -> FiledReport | None:
        now = self._clock.now_ms()
        category = self.guess_category(row.reason)
        ticket: NewTicket | None = None
        reporter_ok = self._api.is_mine(row.reporter) and row.reporter != self._config.service_account
        if reporter_ok:
            try:
                ticket = await self._new_ticket(
                    "matrix_report", row.room_id, row.event_id, row.target_user, category, row.reason, now, row.reporter
                )
            except NotFound:
                # The event is gone from this server's tables: keep the report, without evidence.
                ticket = NewTicket(
                    source="matrix_report",
                    category=category,
                    reason=row.reason[:MAX_REASON_CHARS],
                    created_ts=now,
                    deadline_ts=self._deadline(category, now),
                    room_id=row.room_id,
                    event_id=row.event_id,
                    reporter=row.reporter,
                    dedupe_key=f"event:{row.event_id}",
                )
        audit = AuditRecord(
            row.reporter,
            "report.import",
            row.room_id or row.target_user or "",
            {"table": row.table, "id": row.id, "category": category, "source": "matrix_report"},
        )
        filed = await self._store.import_report(row.table, row.id, ticket, row.reporter, row.reason, audit)
        if filed is None:
            return None
        if filed.new_reporter:
            self._notify_soon(filed.ticket.id, row.reporter, "ack")
        if not filed.joined:
            self._tell_room_staff_soon(filed.ticket)
        return filed

    def nudge_desk(self) -> None:
        """Tell the bot's desk to look now: the service account's account data changes, its sync sees it.

        Every way a ticket is filed without the bot (a `!report` taken out of a room, a report
        button's import) nudges, so staff see it in the time of one /sync rather than a poll.
        """
        service = self._config.service_account

        async def run() -> None:
            try:
                await self._api.account_data_manager.put_global(service, DESK_NUDGE_TYPE, {"at": self._clock.now_ms()})
            except Exception:
                # Best effort: the desk's poll finds the ticket a few seconds later anyway.
                logger.exception("qunzu: nudging the moderation desk failed")

        self._api.run_as_background_process("qunzu_desk_nudge", run)

    # -- views --------------------------------------------------------------------------------

    async def ticket_record(self, ticket: Ticket) -> api.Ticket:
        """One ticket as the API shows it, with its reporters."""
        return (await self.ticket_records([ticket]))[0]

    async def ticket_records(self, tickets: Sequence[Ticket]) -> list[api.Ticket]:
        """Tickets as the API shows them; the reporters of all of them are one read."""
        now = self._clock.now_ms()
        reporters = await self._store.reporters_of([ticket.id for ticket in tickets])
        categories = self._policy.reports.categories
        listed = []
        for ticket in tickets:
            names = [r.reporter for r in reporters.get(ticket.id, [])]
            listed.append(
                api.Ticket(
                    id=ticket.id,
                    source=ticket.source,
                    status=ticket.status,
                    category=ticket.category,
                    rule=ticket.rule,
                    room_id=ticket.room_id,
                    event_id=ticket.event_id,
                    accused=ticket.accused,
                    reporter=ticket.reporter,
                    reason=ticket.reason,
                    content_digest=ticket.content_digest,
                    created_ts=ticket.created_ts,
                    deadline_ts=ticket.deadline_ts,
                    resolved_ts=ticket.resolved_ts,
                    resolved_by=ticket.resolved_by,
                    outcome=ticket.outcome,
                    assignee=ticket.assignee,
                    sanction_id=ticket.sanction_id,
                    resolution=ticket.resolution,
                    overdue=ticket.overdue(now),
                    evidence=api.TicketEvidence(
                        event_id=ticket.event_id,
                        sender=ticket.accused if ticket.event_id is not None else None,
                        content_digest=ticket.content_digest,
                        permalink=ticket.permalink(),
                    ),
                    category_label=self.category_label(ticket.category),
                    severity=categories[ticket.category].severity if ticket.category in categories else None,
                    reporters=names,
                    reporter_count=len(names),
                )
            )
        return listed

    async def stats(self, since_ms: int) -> api.Stats:
        counts = await self._store.stats(since_ms)
        return api.Stats(
            since=since_ms,
            opened=counts["opened"],
            resolved=counts["resolved"],
            dismissed=counts["dismissed"],
            closed_late=counts["closed_late"],
            open=counts["open"],
            in_review=counts["in_review"],
            overdue=counts["overdue"],
        )

    # -- lifecycle ----------------------------------------------------------------------------

    async def assign(self, actor: str, ticket_id: str, assignee: str) -> api.Ticket:
        audit = AuditRecord(actor, "report.assign", ticket_id, {"assignee": assignee})
        ticket = await self._store.assign(ticket_id, assignee, audit)
        if ticket is None:
            raise Conflict(report_text("ticket_closed", self._language))
        return await self.ticket_record(ticket)

    async def resolve(
        self,
        actor: str,
        ticket_id: str,
        outcome: object,
        sanction: object,
        reason: object,
        takedown: object = False,
    ) -> api.Resolution:
        """Close a ticket; with `sanction`, take that measure through the sanctions service first.

        With `takedown`, the reported event is then redacted by the service account and
        its media quarantined where Synapse allows it (takedown.py); the answer's
        `takedown` says what was done.

        Raises:
            RequestError: 400 bad outcome, measure or takedown; 404 unknown ticket; 409 closed already.
        """
        if outcome not in OUTCOMES:
            raise _bad("'outcome' must be resolved or dismissed")
        if not isinstance(takedown, bool):
            raise _bad("'takedown' must be true or false", Codes.BAD_JSON)
        if takedown and outcome == "dismissed":
            raise _bad("a dismissed ticket takes nothing down")
        if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON_CHARS):
            raise _bad("'reason' must be short text", Codes.BAD_JSON)
        ticket = await self._tickets.get(ticket_id)
        if ticket is None:
            raise NotFound("No such ticket")
        if not ticket.is_open:
            raise Conflict(report_text("ticket_closed", self._language))
        if takedown and ticket.event_id is None:
            raise _bad("This ticket names no message to take down; use POST /admin/takedown")
        text_reason = (reason or "").strip() or f"report {ticket.id}: {self.category_label(ticket.category)}"
        status = "dismissed" if outcome == "dismissed" else "resolved"
        applied: api.Sanction | None = None
        closed: Ticket | None
        if sanction is not None:
            if outcome == "dismissed":
                raise _bad("a dismissed ticket takes no measure")
            request = self._sanction_request(ticket, sanction, text_reason)
            # The measure and the close commit together: two staff resolving at once take one measure.
            closing = self._store.closing(ticket.id, status, str(request.measure), actor, text_reason)
            try:
                outcome = await self._measures.apply(actor, request, also=closing)
                applied = outcome.record(self._clock.now_ms())
            except TicketNotOpen:
                raise Conflict(report_text("ticket_closed", self._language)) from None
            closed = closing.closed
        else:
            audit = AuditRecord(
                actor, "report.resolve", ticket.id, {"outcome": status, "measure": None, "sanction": None}
            )
            closed = await self._store.close(ticket.id, status, status, actor, None, text_reason, audit)
        if closed is None:
            raise Conflict(report_text("ticket_closed", self._language))
        taken = None
        if takedown and ticket.event_id is not None:
            taken = await self._takedown.events(
                actor, [ticket.event_id], ticket.room_id, text_reason, ticket_id=ticket.id
            )
        for reporter in await self._store.reporters(ticket.id):
            self._notify_soon(ticket.id, reporter.reporter, "outcome")
        shown = await self.ticket_record(closed)
        # `sanction` and `takedown` are in the answer only when something was done.
        parts: dict[str, object] = shown.model_dump()
        if applied is not None:
            parts["sanction"] = applied
        if taken is not None:
            parts["takedown"] = taken.record()
        return api.Resolution.model_validate(parts)

    def _sanction_request(self, ticket: Ticket, sanction: object, reason: str) -> SanctionRequest:
        if not isinstance(sanction, Mapping):
            raise _bad("'sanction' must be {measure, duration?, subject?}", Codes.BAD_JSON)
        measure = measure_of(sanction.get("measure"))
        subject = sanction.get("subject")
        if subject is not None:
            if not isinstance(subject, Mapping) or subject.get("type") not in ("user", "room"):
                raise _bad("'sanction.subject' must be {type: user|room, id}", Codes.BAD_JSON)
            subject_type, subject_id = str(subject["type"]), subject.get("id")
        elif measure in ROOM_MEASURES and (measure != Measure.WARNING or ticket.accused is None):
            subject_type, subject_id = "room", ticket.room_id
        else:
            subject_type, subject_id = "user", ticket.accused
        if not isinstance(subject_id, str) or not subject_id:
            raise _bad("This ticket names no one to take that measure against")
        duration = sanction.get("duration")
        given = duration is not None
        timeless = measure in TIMELESS_MEASURES
        duration_s = duration_seconds(duration, "sanction.duration", allow_zero=timeless) if given else None
        evidence = (ticket.event_id,) if ticket.event_id and ticket.content_digest else ()
        return SanctionRequest(
            subject_type="room" if subject_type == "room" else "user",
            subject=subject_id,
            measure=measure,
            reason=reason,
            duration_s=duration_s,
            duration_given=given,
            category=ticket.category,
            evidence=evidence,
            ticket_id=ticket.id,
        )

    # -- notices to reporters -----------------------------------------------------------------

    def _notify_soon(self, ticket_id: str, reporter: str, kind: str) -> None:
        """Queue a reporter's notice; one that fails or is dropped is sent by the `report_notices` job."""
        self._notice_queue.add(
            f"report {'acknowledgement' if kind == 'ack' else 'outcome'} notice",
            lambda: self._notify(ticket_id, reporter, kind),
            key=f"report|{ticket_id}|{reporter}|{kind}",
        )

    async def send_notices(self) -> api.ReportNotices:
        """The job: acknowledgements and outcome notices not yet delivered."""
        sent = 0
        for ticket_id, reporter, kind in await self._store.pending_notices(NOTICE_BATCH):
            if await self._notify(ticket_id, reporter, kind):
                sent += 1
        return api.ReportNotices(sent=sent)

    async def _notify(self, ticket_id: str, reporter: str, kind: str) -> bool:
        ticket = await self._tickets.get(ticket_id)
        if ticket is None:
            return False
        if kind == "ack" and not ticket.is_open:
            kind = "outcome"  # closed before the acknowledgement went out: the outcome says it all
        if kind == "outcome" and ticket.is_open:
            return False
        body = self.notice_text(ticket, kind, reporter)
        if not self._api.is_mine(reporter) or reporter == self._config.service_account:
            delivered = True  # nobody to tell here
        else:
            delivered = await self._notifier.to_user(reporter, body)
        if delivered:
            await self._store.mark_notified(ticket_id, reporter, kind)
        return delivered

    def notice_text(self, ticket: Ticket, kind: str, reporter: str) -> str:
        language = self._language
        category = self.category_label(ticket.category)
        if kind == "ack":
            joined = ticket.reporter != reporter or ticket.source in ("content_flag", "content_hold")
            key = "ack_joined" if joined else "ack"
            deadline = deadline_text(ticket.deadline_ts, language)
            return report_text(key, language, ticket=ticket.id, category=category, deadline=deadline)
        if ticket.status == "dismissed":
            outcome_key = "outcome.dismissed"
        elif ticket.outcome in {str(m) for m in Measure}:
            known = ("warning", "mute", "posting_suspension", "closure", "blacklist")
            outcome_key = f"outcome.{ticket.outcome}" if ticket.outcome in known else "outcome.other_measure"
        else:
            outcome_key = "outcome.resolved"
        return report_text(
            "outcome", language, ticket=ticket.id, category=category, outcome=report_text(outcome_key, language)
        )

    # -- notices to the room's owner and admins (Art. 9) --------------------------------------

    def _tell_room_staff_soon(self, ticket: Ticket) -> None:
        if ticket.room_id is None:
            return

        # One that fails or is dropped is sent by the `room_staff_notices` job.
        self._notice_queue.add(
            "notice to a room's staff", lambda: self._tell_room_staff(ticket), key=f"room_staff|{ticket.id}"
        )

    async def send_room_staff_notices(self) -> api.RoomStaffNotices:
        """The job: notices to rooms' owners and admins not yet sent (content flags arrive only here)."""
        told = 0
        for ticket in await self._tickets.owed_room_notices(NOTICE_BATCH):
            if await self._tell_room_staff(ticket):
                told += 1
        return api.RoomStaffNotices(told=told)

    async def room_staff_of(self, ticket: Ticket) -> list[str]:
        """Who is told of a ticket about a room: its creators and admins on this server.

        Not the service account, not the reported person (an owner reported is not warned
        before staff look), not the reporter (acknowledged already).
        """
        if ticket.room_id is None:
            return []
        state = await self._api.get_room_state(ticket.room_id, [("m.room.create", ""), ("m.room.power_levels", "")])
        create = state.get(("m.room.create", ""))
        if create is None:
            return []
        levels = state.get(("m.room.power_levels", ""))
        creators = room_creators(create.sender, create.content)
        admins = room_admins(create.sender, create.content, levels.content if levels is not None else None)
        left_out = {self._config.service_account, ticket.accused, ticket.reporter}
        return [user for user in sorted(creators | set(admins)) if user not in left_out and self._api.is_mine(user)]

    async def _tell_room_staff(self, ticket: Ticket) -> bool:
        if not await self._tickets.claim_room_notice(ticket.id):
            return False  # another process, or the job, took it
        try:
            people = await self.room_staff_of(ticket)
            if not people:
                return True
            body = await self.room_staff_text(ticket)
            delivered = [await self._notifier.to_user(user, body) for user in people]
        except Exception:
            await self._tickets.release_room_notice(ticket.id)
            raise
        if not any(delivered):
            await self._tickets.release_room_notice(ticket.id)
            return False
        if not all(delivered):
            logger.warning("qunzu: a notice about ticket %s reached only some of the room's admins", ticket.id)
        return True

    async def room_staff_text(self, ticket: Ticket) -> str:
        """The notice to a room's owner and admins: room, ticket, category, deadline; never the reporter."""
        language = self._language
        assert ticket.room_id is not None
        state = await self._api.get_room_state(ticket.room_id, [("m.room.name", "")])
        name_event = state.get(("m.room.name", ""))
        name = name_event.content.get("name") if name_event is not None else None
        room = name if isinstance(name, str) and name.strip() else ticket.room_id
        source = ticket.source if ticket.source in ("content_flag", "content_hold") else "report"
        # A held message was never delivered: there is nothing in the room to link to.
        permalink = ticket.permalink() if ticket.event_id is not None and ticket.source != "content_hold" else None
        return report_text(
            "room_staff",
            language,
            room=room[:100],
            what=report_text(f"room_staff.{source}", language),
            ticket=ticket.id,
            category=self.category_label(ticket.category),
            deadline=deadline_text(ticket.deadline_ts, language),
            event=report_text("room_staff.event", language, permalink=permalink) if permalink else "",
        )


__all__ = ["FiledReport", "Reports"]
