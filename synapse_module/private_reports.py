"""A `!report` typed in a room is filed by the module and never reaches the room (Art. 12).

A report must be convenient and must not expose the reporter (Art. 12; 生态治理规定
Art. 16). A command the bot answered in the room would be seen by every member, the
reported person too, and redacting it afterwards leaves "<reporter> — removed" under
the reported message. So `check_event_for_spam` hands every local message whose body
is a report command (`policies.commands.parse_report`, the shape the bot reads too) to
`PrivateReports.take`, which files the ticket through the same service as
`POST /reports` (same validation, same hourly cap) and refuses the event: nothing is
persisted, nothing is delivered, there is nothing to redact.

The refusal's text says what happened (`report_received` with the ticket, or
`report_not_filed` with why and the usage). Clients may show only "Failed", so the
person is also told in their bot chat: the acknowledgement with the ticket number
and where the outcome will come (the reports service sends it, as for every
report), or the explanation with the usage.

Clients retry a refused send with the same transaction id, to any process of a
scaled-out server; a retry gets the same answer without a second filing or a
second notice. The first attempt claims the attempt's key in `qunzu_once`
(`content.attempt_key`, the key content rules use for retries) and stores its
answer there; a retry that finds the key waits briefly for that answer (and, should
the first attempt still be filing after that, is told the report was received: the
acknowledgement with the ticket comes from the first attempt).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, Final

from synapse.module_api import EventBase
from synapse.module_api.errors import SynapseError

from policies import Reason
from policies.commands import ReportCommand, parse_report

from .content import attempt_key
from .errors import Refusal, RequestError
from .refusals import client_error, refusal_error, refusal_of
from .report_texts import report_text

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .config import QunzuConfig
    from .notices import Notifier
    from .reports import Reports
    from .store.once import OnceStore
    from .work_queue import WorkQueue

logger = logging.getLogger(__name__)

#: A retry that finds its first attempt still filing asks for that attempt's answer this often, this long.
_ANSWER_WAIT_S: Final = 0.2
_ANSWER_ATTEMPTS: Final = 50


class PrivateReports:
    """Takes report commands out of rooms: files them and refuses the event."""

    def __init__(
        self,
        api: ModuleApi,
        config: QunzuConfig,
        *,
        reports: Reports,
        notifier: Notifier,
        notice_queue: WorkQueue,
        once: OnceStore,
    ) -> None:
        self._api = api
        self._config = config
        self._reports = reports
        self._notifier = notifier
        self._notice_queue = notice_queue
        self._once = once
        self._language = config.language
        self._categories: dict[str, dict[str, str]] = {
            name: {str(language): text for language, text in category.labels.items()}
            for name, category in config.policy.reports.categories.items()
        }

    def command_of(self, event: EventBase) -> ReportCommand | None:
        """The report command ``event`` carries, or None (pure: no I/O on the hot path)."""
        if event.type != "m.room.message" or event.is_state():
            return None
        content = event.content
        body = content.get("body")
        if not isinstance(body, str) or content.get("msgtype", "m.text") != "m.text":
            return None
        relates = content.get("m.relates_to")
        if isinstance(relates, dict) and relates.get("rel_type") == "m.replace":
            return None  # an edit is never a command (the bot ignores edits too)
        return parse_report(body, self._categories)

    async def take(self, event: EventBase, command: ReportCommand) -> SynapseError:
        """File the report (or explain why not) and return the refusal of the event.

        Never raises for bad input: every outcome is the refusal returned.
        """
        key, window = attempt_key(event)
        key = f"report-{key}"
        if not await self._once.claim(key, window):
            return await self._earlier_answer(key)
        try:
            error = await self._file(event, command)
        except BaseException:
            await self._once.release(key)  # nothing was answered: the retry files it
            raise
        refusal = refusal_of(error)
        if refusal is None:
            await self._once.release(key)  # no answer to repeat: a retry is answered afresh
            return error
        answer = {"reason": refusal.reason.value, "detail": dict(refusal.detail)}
        await self._once.set_value(key, json.dumps(answer, ensure_ascii=False))
        return error

    async def _earlier_answer(self, key: str) -> SynapseError:
        """The answer the first attempt of this send gave, waiting for it while that attempt files."""
        for _ in range(_ANSWER_ATTEMPTS):
            stored = await self._once.value_of(key)
            if stored is not None:
                try:
                    answer = json.loads(stored)
                    refusal = Refusal(Reason(answer["reason"]), dict(answer["detail"]))
                except (ValueError, KeyError, TypeError):
                    break
                return refusal_error(refusal, self._config)
            await self._api.sleep(_ANSWER_WAIT_S)
        # The first attempt is still filing: it sends the acknowledgement with the ticket.
        return refusal_error(Refusal(Reason.REPORT_RECEIVED, {}), self._config)

    async def _file(self, event: EventBase, command: ReportCommand) -> SynapseError:
        language = self._language
        sender, room_id = event.sender, event.room_id
        if command.category is None:
            key = "missing_category" if command.problem == "missing_category" else "unknown_category"
            explanation = report_text(key, language, typed=command.typed)
            return self._not_filed(sender, command.problem or key, explanation)
        try:
            filed = await self._reports.file_report(
                sender, room_id, _reply_target(event.content), None, command.category, command.reason
            )
        except (SynapseError, RequestError) as exc:
            error = client_error(exc)
            return self._not_filed(sender, _problem(error), str(error.msg))
        ticket = filed.ticket.id
        self._reports.nudge_desk()
        if not filed.new_reporter:
            # Already on this ticket: the acknowledgement went out with the first report.
            self._tell(sender, report_text("ack_again", language, ticket=ticket))
        return refusal_error(Refusal(Reason.REPORT_RECEIVED, {"ticket": ticket}), self._config)

    def _not_filed(self, sender: str, problem: str, explanation: str) -> SynapseError:
        usage = report_text("usage", self._language, categories=self._category_list())
        self._tell(sender, report_text("not_filed_notice", self._language, explanation=explanation, usage=usage))
        detail = {"problem": problem, "explanation": explanation, "usage": usage}
        return refusal_error(Refusal(Reason.REPORT_NOT_FILED, detail), self._config)

    def _category_list(self) -> str:
        zh = self._language != "en"
        return ("、" if zh else ", ").join(
            f"{labels.get('zh-CN', name)}（{name}）" if zh else name for name, labels in self._categories.items()
        )

    def _tell(self, user_id: str, body: str) -> None:
        async def run() -> None:
            if not await self._notifier.to_user(user_id, body):
                logger.info("qunzu: a report command's answer did not reach the bot chat")

        self._notice_queue.add("report command's answer", run)


def _reply_target(content: Any) -> str | None:
    relates = content.get("m.relates_to") if hasattr(content, "get") else None
    if not isinstance(relates, dict):
        return None
    reply = relates.get("m.in_reply_to")
    if not isinstance(reply, dict) or relates.get("is_falling_back") is True:
        return None  # a thread's fallback reply is no reply the person chose
    event_id = reply.get("event_id")
    return event_id if isinstance(event_id, str) else None


def _problem(exc: SynapseError) -> str:
    return {429: "rate_limited", 403: "not_member", 404: "unknown_event"}.get(exc.code, "invalid")
