"""Reports to the authorities (向有关主管部门报告, Art. 11; Cybersecurity Law Art. 47).

Which measures are reported is the policy's (`sanctions.reportable_measures`, and
with `sanctions.report_severe` any measure in a severe category;
`policies.sanctions.regulator_report_kind`): what happened, to whom, when, on what
evidence and legal basis, in Chinese (`summary_zh`) and English (`summary`). A
measure's report is stored in the measure's own transaction (the measures service
asks for it with `for_measure`); a blacklisting's is stored here.

Each report is a `draft` until staff record its submission (`submitted`, with
`submitted_to` and `submitted_at`) and the authority's acknowledgement
(`acknowledged`, with its `receipt`). A status only moves forward; every change is
audited with the staff member and reason.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from policies import Measure
from policies.api import RegulatorReportUpdate
from policies.constants import REPORT_STATUSES, ReportStatus
from policies.messages import format_time
from policies.model import Policy
from policies.numbers import time_ms

from ..clock import Clock
from ..errors import Conflict, InvalidInput, NotFound
from ..sanction_texts import measure_label
from ..store.audit import AuditRecord
from ..store.blacklist import BlacklistEntry
from ..store.measures import Sanction
from ..store.regulator_reports import RegulatorReport, RegulatorReportStore, Submission

LEGAL_BASIS = "《互联网群组信息服务管理规定》第十一条；《中华人民共和国网络安全法》第四十七条"
MAX_SUBMITTED_TO = 200
MAX_RECEIPT = 500
# A submission recorded with a time ahead of the server's clock by more than this is a typo.
CLOCK_SKEW_MS = 5 * 60 * 1000
# A status only moves forward: the statuses each may come from.
_FROM: Mapping[ReportStatus, tuple[ReportStatus, ...]] = {
    "draft": (),
    "submitted": ("draft",),
    "acknowledged": ("draft", "submitted"),
}
_SUBJECT_ZH = {"user": "用户", "room": "群组"}


def _new_id() -> str:
    return "rr_" + secrets.token_hex(8)


def _bad(message: str) -> InvalidInput:
    return InvalidInput(message)


class RegulatorReports:
    """Writes, lists and tracks regulator reports."""

    def __init__(self, store: RegulatorReportStore, clock: Clock, policy: Policy) -> None:
        self._store = store
        self._clock = clock
        self._policy = policy

    def _category_zh(self, category: str | None) -> str:
        if category is None:
            return "未注明"
        known = self._policy.reports.categories.get(category)
        return known.labels.get("zh-CN", category) if known is not None else category

    def summary_zh(
        self,
        measure: str,
        subject_type: str,
        subject: str,
        category: str | None,
        reason: str,
        start_ts: int,
        end_ts: int | None,
        evidence: int,
    ) -> str:
        """The Chinese summary of a reported measure (what, whom, when, until when, why, on what evidence)."""
        if end_ts is None:
            until = "，永久有效"
        elif end_ts > start_ts:
            until = f"，至 {format_time(end_ts)}"
        else:
            until = ""
        return (
            f"{format_time(start_ts)}，平台依据{LEGAL_BASIS}，对{_SUBJECT_ZH.get(subject_type, subject_type)} {subject}"
            f" 采取“{measure_label(measure, 'zh-CN')}”措施{until}。违规类别：{self._category_zh(category)}。"
            f"理由：{reason}。留存证据 {evidence} 项（内容摘要）。"
        )

    def for_measure(self, kind: str, sanction: Sanction) -> RegulatorReport:
        """The report of a measure, to be stored in the measure's transaction."""
        return RegulatorReport(
            _new_id(),
            self._clock.now_ms(),
            kind,
            sanction.subject_type,
            sanction.subject,
            sanction.id,
            None,
            sanction.category,
            f"{sanction.measure} of {sanction.subject_type} {sanction.subject}: {sanction.reason}",
            [{"event_id": item["event_id"], "content_sha256": item["content_sha256"]} for item in sanction.evidence],
            LEGAL_BASIS,
            sanction.actor,
            summary_zh=self.summary_zh(
                sanction.measure,
                sanction.subject_type,
                sanction.subject,
                sanction.category,
                sanction.reason,
                sanction.start_ts,
                sanction.end_ts,
                len(sanction.evidence),
            ),
        )

    async def add_for_blacklisting(self, entry: BlacklistEntry) -> RegulatorReport | None:
        """Store the report of a new blacklist entry with its audit record (when the policy reports blacklistings)."""
        if Measure.BLACKLIST not in self._policy.sanctions.reportable_measures:
            return None
        now = self._clock.now_ms()
        report = RegulatorReport(
            _new_id(),
            now,
            "blacklist",
            entry.subject_type,
            entry.subject,
            None,
            entry.id,
            None,
            f"blacklisting of {entry.subject_type} {entry.subject}: {entry.reason}",
            [],
            LEGAL_BASIS,
            entry.actor,
            summary_zh=self.summary_zh(
                "blacklist_entry", entry.subject_type, entry.subject, None, entry.reason, now, entry.until_ts, 0
            ),
        )
        audit = AuditRecord(entry.actor, "regulator_report.add", entry.subject, {"id": report.id, "kind": "blacklist"})
        await self._store.add(report, audit)
        return report

    async def between(
        self, since_ms: int | None, until_ms: int | None, limit: int, status: str | None = None
    ) -> list[RegulatorReport]:
        """The reports of a time range (and status), newest first."""
        return await self._store.between(since_ms, until_ms, limit, status)

    async def get(self, report_id: str) -> RegulatorReport:
        """One report.

        Raises:
            RequestError: 404 unknown.
        """
        report = await self._store.get(report_id)
        if report is None:
            raise NotFound("No such regulator report")
        return report

    async def update(self, actor: str, report_id: str, body: RegulatorReportUpdate, reason: str) -> RegulatorReport:
        """Record a submission or an acknowledgement.

        `{"status": "submitted", "submitted_to", "submitted_at"?}` (the time defaults to now) or
        `{"status": "acknowledged", "receipt"}` (from a draft also with `submitted_to`).

        Raises:
            RequestError: 400 bad input; 404 unknown report; 409 the status does not move forward.
            InvalidNumber: `submitted_at` is not a time (a 400 `invalid_number`).
        """
        status = body.status
        if status not in REPORT_STATUSES or status == "draft":
            raise _bad("'status' must be submitted or acknowledged")
        submitted_to = _text(body.submitted_to, "submitted_to", MAX_SUBMITTED_TO)
        receipt = _text(body.receipt, "receipt", MAX_RECEIPT)
        at = body.submitted_at
        submitted_ts = time_ms(at, "submitted_at") if at is not None else None
        report = await self.get(report_id)
        if report.status not in _FROM[status]:
            raise Conflict(f"This report is {report.status}; it cannot become {status}")
        now = self._clock.now_ms()
        if submitted_ts is not None and submitted_ts > now + CLOCK_SKEW_MS:
            raise _bad("'submitted_at' cannot be in the future")
        if report.status == "draft":
            if submitted_to is None:
                raise _bad("'submitted_to' (the authority it went to) is required to record a submission")
            submitted_ts = submitted_ts if submitted_ts is not None else now
        elif submitted_to is not None or submitted_ts is not None:
            raise _bad("The submission is recorded already; only 'receipt' may be added")
        if status == "acknowledged" and receipt is None:
            raise _bad("'receipt' (the authority's acknowledgement) is required")
        if status == "submitted" and receipt is not None:
            raise _bad("A receipt comes with status acknowledged")
        change = Submission(status, report.status, submitted_to, submitted_ts, receipt)
        audit = AuditRecord(
            actor,
            "regulator_report.update",
            report.subject,
            {
                "id": report.id,
                "from": report.status,
                "to": status,
                "submitted_to": submitted_to,
                "submitted_at": submitted_ts,
                "receipt": receipt,
                "reason": reason,
            },
        )
        updated = await self._store.update(report.id, change, now, audit)
        if updated is None:
            raise Conflict("This report was changed meanwhile; look at it again")
        return updated


def _text(value: object, name: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise _bad(f"'{name}' must be text of 1 to {limit} characters")
    return value.strip()
