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

Clients retry a refused send with the same transaction id; a retry gets the same
answer without a second filing or a second notice (remembered per process for
`RETRY_WINDOW_MS`).
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Final

from synapse.module_api import EventBase
from synapse.module_api.errors import SynapseError

from policies import Reason
from policies.commands import ReportCommand, parse_report

from .errors import Refusal, RequestError
from .refusals import client_error, refusal_error
from .report_texts import report_text

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .clock import Clock
    from .config import QunzuConfig
    from .notices import Notifier
    from .reports import Reports

logger = logging.getLogger(__name__)

#: How long a refused report command's answer is kept for the client's retries.
RETRY_WINDOW_MS: Final = 10 * 60 * 1000
_REMEMBERED: Final = 10_000


class PrivateReports:
    """Takes report commands out of rooms: files them and refuses the event."""

    def __init__(
        self, api: ModuleApi, clock: Clock, config: QunzuConfig, *, reports: Reports, notifier: Notifier
    ) -> None:
        self._api = api
        self._clock = clock
        self._config = config
        self._reports = reports
        self._notifier = notifier
        self._language = config.language
        self._categories: dict[str, dict[str, str]] = {
            name: {str(language): text for language, text in category.labels.items()}
            for name, category in config.policy.reports.categories.items()
        }
        self._answers: OrderedDict[str, tuple[int, SynapseError]] = OrderedDict()

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
        key = self._retry_key(event)
        now = self._clock.now_ms()
        remembered = self._answers.get(key)
        if remembered is not None and now - remembered[0] < RETRY_WINDOW_MS:
            return remembered[1]
        refusal = await self._file(event, command)
        self._answers[key] = (now, refusal)
        while len(self._answers) > _REMEMBERED:
            self._answers.popitem(last=False)
        return refusal

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
            try:
                if not await self._notifier.to_user(user_id, body):
                    logger.info("qunzu: a report command's answer did not reach the bot chat")
            except Exception:
                logger.exception("qunzu: telling a reporter in the bot chat failed")

        self._api.run_as_background_process("qunzu_report_command_notice", run)

    @staticmethod
    def _retry_key(event: EventBase) -> str:
        meta = event.internal_metadata
        txn = getattr(meta, "txn_id", None) if _has(meta, "txn_id") else None
        device = getattr(meta, "device_id", None) if _has(meta, "device_id") else None
        if isinstance(txn, str) and txn:
            return f"{event.sender}\x00{device}\x00{txn}"
        # No transaction id (an event built by another module): the same text in the same room.
        digest = hashlib.sha256(str(event.content.get("body")).encode("utf-8")).hexdigest()
        return f"{event.sender}\x00{event.room_id}\x00{digest}"


def _has(meta: Any, name: str) -> bool:
    # Rust-backed metadata raises AttributeError for a field that was never set.
    try:
        getattr(meta, name)
    except AttributeError:
        return False
    return True


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
