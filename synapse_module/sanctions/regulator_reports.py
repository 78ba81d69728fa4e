"""Reports to the authorities (向有关主管部门报告, Art. 11; Cybersecurity Law Art. 47).

A closure, a measure in a severe category and a blacklisting are reported:
what happened, to whom, when, on what evidence and legal basis. A measure's
report is stored in the measure's own transaction (the measures service asks
for it with `for_measure`); a blacklisting's is stored here.
"""

from __future__ import annotations

import secrets

from ..clock import Clock
from ..store.audit import AuditRecord
from ..store.blacklist import BlacklistEntry
from ..store.measures import Sanction
from ..store.regulator_reports import RegulatorReport, RegulatorReportStore

LEGAL_BASIS = "《互联网群组信息服务管理规定》第十一条；《中华人民共和国网络安全法》第四十七条"


def _new_id() -> str:
    return "rr_" + secrets.token_hex(8)


class RegulatorReports:
    """Writes and lists regulator reports."""

    def __init__(self, store: RegulatorReportStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

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
        )

    async def add_for_blacklisting(self, entry: BlacklistEntry) -> RegulatorReport:
        """Store the report of a new blacklist entry with its audit record."""
        report = RegulatorReport(
            _new_id(),
            self._clock.now_ms(),
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
        )
        audit = AuditRecord(entry.actor, "regulator_report.add", entry.subject, {"id": report.id, "kind": "blacklist"})
        await self._store.add(report, audit)
        return report

    async def between(self, since_ms: int | None, until_ms: int | None, limit: int) -> list[RegulatorReport]:
        """The reports of a time range, newest first."""
        return await self._store.between(since_ms, until_ms, limit)
