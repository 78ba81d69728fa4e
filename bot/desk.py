"""The staff moderation desk: announcements, deadline reminders and the daily digest (Art. 12).

The module is the source of truth; the desk polls it (``desk_poll_interval``)
and posts into the moderation room:

- every open ticket once, with its evidence and the ladder's proposed measure;
- real-name submissions waiting for a person, open appeals, group announcements waiting
  for review (``!announcement``), and new measures;
- a reminder ``reminder_before`` seconds before a ticket's deadline (at most a
  quarter of its window) and one when the deadline passes;
- a daily digest of counts at ``digest_time`` (China Standard Time).

What was announced is remembered in the bot's state (``announced``), so a
restart neither repeats nor loses an announcement. Reminders are persisted in
the ``schedule`` table and armed in APScheduler's in-memory scheduler, which is
re-armed from that table at every start; a reminder due while the bot was down
fires at start (no misfire limit). APScheduler's SQLAlchemy job store would add
SQLAlchemy for a handful of rows, so the table lives in the bot's aiosqlite
state instead. Reminders for a ticket closed meanwhile are dropped when due.

How fast a ticket reaches staff: a poll reads only the open tickets created
since the newest one it has seen (``FRESH_OVERLAP_MS`` before it), so a short
interval stays cheap however many tickets are open; every ``FULL_RESCAN_S`` it
reads every open ticket once more (a deadline moved by a more urgent duplicate
needs new reminders). When the bot files a report itself (``!report``) the
handler calls :meth:`Desk.nudge` and the ticket is announced at once instead of
at the next poll; nudges that arrive while a look is running coalesce into one
more look after it.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from bot.errors import QunzuApiError
from bot.events import Clock, now_ms
from bot.messages import CHINA_TIME, china_time, t
from bot.qunzu_api import QunzuApi
from bot.state import BotState, ScheduledItem
from policies.api import Proposal, Ticket
from policies.constants import DAY_MS, Language
from policies.display import MEASURE, SEVERITY, SUBJECT_TYPE, TICKET_SOURCE, label
from policies.durations import format_duration

logger = logging.getLogger(__name__)

#: The fresh-ticket read starts this long before the newest ticket seen: a ticket's creation time is
#: taken before its transaction commits, so one created a moment earlier may become visible after a
#: newer one (Synapse retries a transaction that hit a serialization failure). Announcing is
#: idempotent, so the overlap costs only a re-read of a few tickets; the full rescan catches anything
#: later still.
FRESH_OVERLAP_MS: Final = 10_000
#: How often a poll reads every open ticket instead of the fresh ones. A more urgent duplicate moves
#: a ticket's deadline without making it new; a minute is far inside the shortest deadline (1 h) and
#: its quarter-window reminder, and keeps the module's per-ticket work off most polls.
FULL_RESCAN_S: Final = 60.0
#: Most open tickets one read returns (the module's listing is newest first).
TICKETS_LIMIT: Final = "500"
_LAST_DIGEST: Final = "desk.last_digest_day"
_SANCTIONS_PRIMED: Final = "desk.sanctions_primed"


class Desk:
    """Runs the moderation room's feed while the bot runs.

    Args:
        api: The module's API (as the service account).
        state: Where announcements and the schedule are kept.
        send: Posts a message into a room (queued when the homeserver is down).
        room_id: The moderation room.
        language: Language of the desk's texts.
        poll_interval_s: Seconds between looks at the module.
        reminder_before_s: Seconds before a deadline to remind.
        digest_time: ``HH:MM`` China Standard Time.
        clock: Injectable clock.
    """

    def __init__(
        self,
        *,
        api: QunzuApi,
        state: BotState,
        send: Callable[[str, str], Awaitable[None]],
        room_id: str,
        language: Language,
        poll_interval_s: float,
        reminder_before_s: int,
        digest_time: str,
        clock: Clock,
    ) -> None:
        self._api = api
        self._state = state
        self._send = send
        self.room_id = room_id
        self._language = language
        self._poll_s = poll_interval_s
        self._before_ms = reminder_before_s * 1000
        self._digest_hour, self._digest_minute = (int(part) for part in digest_time.split(":"))
        self._clock = clock
        self._scheduler: AsyncIOScheduler | None = None
        self._lock = asyncio.Lock()
        #: Creation time (module clock) of the newest open ticket read; None: read them all.
        self._newest_ms: int | None = None
        self._full_due_ms = 0
        self._nudged = False
        self._nudge_task: asyncio.Task[None] | None = None

    def _t(self, key: str, **values: object) -> str:
        return t(key, self._language, **values)

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Re-arm persisted reminders, start polling and the daily digest."""
        scheduler = AsyncIOScheduler(timezone=CHINA_TIME)
        self._scheduler = scheduler
        scheduler.start()
        for item in await self._state.schedules():
            self._arm(item)
        scheduler.add_job(
            self._guarded(self.poll),
            "interval",
            seconds=self._poll_s,
            id="desk-poll",
            next_run_time=datetime.datetime.now(CHINA_TIME),
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
        scheduler.add_job(
            self._guarded(self.digest),
            CronTrigger(hour=self._digest_hour, minute=self._digest_minute, timezone=CHINA_TIME),
            id="desk-digest",
            coalesce=True,
            misfire_grace_time=None,
        )
        logger.info("moderation desk started for %s", self.room_id)

    async def stop(self) -> None:
        """Stop the scheduler and a running nudge (persisted reminders stay for the next start)."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        task, self._nudge_task = self._nudge_task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])

    def nudge(self) -> None:
        """A ticket was just filed: look for new tickets now rather than at the next poll.

        Never blocks the caller and never raises. Nudges that arrive while a look is
        running coalesce into one more look after it (that look sees every ticket filed
        meanwhile), so a burst of reports costs two reads, not one per report. Does
        nothing before :meth:`start` or after :meth:`stop`.
        """
        if self._scheduler is None:
            return
        self._nudged = True
        if self._nudge_task is None or self._nudge_task.done():
            self._nudge_task = asyncio.create_task(self._serve_nudges(), name="desk-nudge")

    async def _serve_nudges(self) -> None:
        look = self._guarded(self.fresh_tickets)
        while self._nudged:
            self._nudged = False
            await look()  # guarded: a failing look is logged and the next nudge tries again

    def _guarded(self, work: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            # A scheduler boundary: one failing run must not stop the desk.
            try:
                async with self._lock:
                    await work()
            except asyncio.CancelledError:
                raise
            except QunzuApiError as exc:
                logger.warning("desk: the module refused or was unreachable: %s", exc)
            except Exception:
                logger.exception("desk: a scheduled run failed")

        return run

    def _arm(self, item: ScheduledItem) -> None:
        if self._scheduler is None:
            return
        when = datetime.datetime.fromtimestamp(item.due_ms / 1000, CHINA_TIME)

        async def fire() -> None:
            await self._fire(item)

        self._scheduler.add_job(
            self._guarded(fire),
            DateTrigger(run_date=when, timezone=CHINA_TIME),
            id=item.id,
            replace_existing=True,
            misfire_grace_time=None,  # due while the bot was down: fire at start
        )

    # --- polling ----------------------------------------------------------------------

    async def poll(self) -> None:
        """Announce what is new at the module; schedule reminders; catch up a missed digest."""
        if now_ms(self._clock) >= self._full_due_ms:
            await self._all_tickets()
        else:
            await self.fresh_tickets()
        for pending in await self._api.realname_pending():
            user = pending.user_id
            if await self._state.claim_announcement("realname", f"{user}:{pending.submitted_at}"):
                await self._send(self.room_id, self._t("desk_realname", user=user))
        for appeal in await self._api.appeals():
            if await self._state.claim_announcement("appeal", str(appeal.id)):
                await self._send(
                    self.room_id,
                    self._t("desk_appeal", id=appeal.id, sanction=appeal.sanction, text=appeal.text[:300]),
                )
        for item in await self._api.pending_announcements():
            if await self._state.claim_announcement("group_announcement", str(item.id)):
                code = item.code or item.room_id
                await self._send(
                    self.room_id,
                    self._t("desk_announcement", id=item.id, code=code, actor=item.actor, text=item.text[:500]),
                )
        await self._sanctions()
        await self._digest_catch_up()

    async def fresh_tickets(self) -> None:
        """Announce the open tickets created since the newest one read (all of them the first time)."""
        if self._newest_ms is None:
            await self._all_tickets()
            return
        since = str(self._newest_ms - FRESH_OVERLAP_MS)
        await self._tickets(await self._api.tickets(open="true", since=since, limit=TICKETS_LIMIT))

    async def _all_tickets(self) -> None:
        await self._tickets(await self._api.tickets(open="true", limit=TICKETS_LIMIT))
        self._full_due_ms = now_ms(self._clock) + int(FULL_RESCAN_S * 1000)

    async def _tickets(self, tickets: list[Ticket]) -> None:
        for ticket in tickets:
            await self._ticket(ticket)
        # Moved only once the whole read was handled: after a failure the next look reads it again.
        newest = max((ticket.created_ts for ticket in tickets), default=None)
        if newest is not None and (self._newest_ms is None or newest > self._newest_ms):
            self._newest_ms = newest

    async def _sanctions(self) -> None:
        recent = await self._api.sanctions(limit="50")
        if await self._state.get(_SANCTIONS_PRIMED) is None:
            # First start: what happened before the desk existed is history, not news.
            for record in recent:
                await self._state.claim_announcement("sanction", str(record.id))
            await self._state.put(_SANCTIONS_PRIMED, "1")
            return
        for record in reversed(recent):
            if not await self._state.claim_announcement("sanction", str(record.id)):
                continue
            subject = record.subject
            end = record.end
            shown_until = china_time(end, self._language) if end is not None else self._t("permanent")
            await self._send(
                self.room_id,
                self._t(
                    "desk_sanction",
                    id=record.id,
                    measure=label(MEASURE, record.measure, self._language),
                    subject=f"{label(SUBJECT_TYPE, subject.type, self._language)} {subject.id}",
                    until=shown_until,
                    reason=record.reason,
                ),
            )

    async def _ticket(self, ticket: Ticket) -> None:
        ticket_id = ticket.id
        deadline = ticket.deadline_ts
        created = ticket.created_ts
        if await self._state.claim_announcement("ticket", ticket_id):
            await self._send(self.room_id, await self._ticket_text(ticket))
        # Reminder ids carry the deadline: a ticket made more urgent by a later report gets new ones.
        lead = min(self._before_ms, max(0, (deadline - created) // 4))
        for kind, due in (("before", deadline - lead), ("breach", deadline)):
            item = ScheduledItem(
                f"{kind}:{ticket_id}:{deadline}",
                kind,
                due,
                json.dumps({"ticket": ticket_id, "deadline": deadline}),
            )
            if kind == "before" and lead == 0:
                continue  # no time before the deadline: only the breach reminder
            if await self._state.claim_announcement("schedule", item.id) and await self._state.add_schedule(item):
                self._arm(item)

    async def _ticket_text(self, ticket: Ticket) -> str:
        evidence = ticket.evidence
        accused = ticket.accused
        proposal: Proposal | None = None
        try:
            if accused:
                proposal = await self._api.propose("user", accused, ticket.category)
            elif ticket.room_id:
                proposal = await self._api.propose("room", ticket.room_id, ticket.category)
        except QunzuApiError:
            proposal = None
        step = proposal.proposal if proposal is not None else None
        if proposal is not None and step is not None:
            duration = self._t("permanent") if step.permanent else format_duration(step.duration or 0, self._language)
            proposed = self._t(
                "desk_proposal",
                measure=label(MEASURE, step.measure, self._language),
                duration=duration,
                prior=proposal.prior_measures,
            )
        else:
            proposed = "—"
        return self._t(
            "desk_ticket",
            ticket=ticket.id,
            category=ticket.category_label or ticket.category,
            severity=label(SEVERITY, ticket.severity, self._language),
            source=label(TICKET_SOURCE, ticket.source, self._language),
            room=ticket.room_id or "—",
            accused=accused or "—",
            event=evidence.event_id or "—",
            digest=(evidence.content_digest or "—")[:16],
            permalink=evidence.permalink or "",
            reporters=ticket.reporter_count,
            deadline=china_time(ticket.deadline_ts, self._language),
            proposal=proposed,
        )

    async def _fire(self, item: ScheduledItem) -> None:
        if not await self._state.remove_schedule(item.id):
            return  # fired before (a restart armed it twice)
        payload = json.loads(item.payload)
        try:
            ticket = await self._api.ticket(str(payload["ticket"]))
        except QunzuApiError as exc:
            if exc.status == 404:
                return
            await self._state.add_schedule(item)  # the module is unreachable: try again next start
            raise
        if not ticket.is_open or ticket.deadline_ts != payload["deadline"]:
            return  # closed meanwhile, or its deadline moved (a newer reminder exists)
        if item.kind == "before" and now_ms(self._clock) >= int(payload["deadline"]):
            return  # the bot was down past the deadline: the breach reminder says it
        # One reminder of a kind per ticket and deadline, however it was armed (a copy kept
        # after a failed module call and the poll's own scheduling can both come due at start).
        sent_key = f"desk_sent:{ticket.id}:{item.kind}:{payload['deadline']}"
        if await self._state.get(sent_key):
            return
        key = "desk_reminder" if item.kind == "before" else "desk_breach"
        await self._send(
            self.room_id,
            self._t(
                key,
                ticket=ticket.id,
                category=ticket.category_label or ticket.category,
                deadline=china_time(ticket.deadline_ts, self._language),
            ),
        )
        await self._state.put(sent_key, "1")

    # --- the daily digest ----------------------------------------------------------------

    def _today(self) -> str:
        return datetime.datetime.fromtimestamp(self._clock(), CHINA_TIME).strftime("%Y-%m-%d")

    async def digest(self) -> None:
        """Post the counts of the last 24 hours (once a day, also when the bot was down at that time)."""
        today = self._today()
        if await self._state.get(_LAST_DIGEST) == today:
            return
        stats = await self._api.report_stats(now_ms(self._clock) - DAY_MS)
        await self._state.put(_LAST_DIGEST, today)
        await self._send(
            self.room_id,
            self._t(
                "desk_digest",
                opened=stats.opened,
                resolved=stats.resolved,
                dismissed=stats.dismissed,
                closed_late=stats.closed_late,
                open=stats.open,
                in_review=stats.in_review,
                overdue=stats.overdue,
            ),
        )

    async def _digest_catch_up(self) -> None:
        now = datetime.datetime.fromtimestamp(self._clock(), CHINA_TIME)
        due = now.replace(hour=self._digest_hour, minute=self._digest_minute, second=0, microsecond=0)
        last = await self._state.get(_LAST_DIGEST)
        if last is None:
            await self._state.put(_LAST_DIGEST, self._today())  # a new desk starts counting today
            return
        if now >= due and last != self._today():
            await self.digest()
