"""SQL of regulator reports (向有关主管部门报告, Art. 11): `qunzu_regulator_reports`.

A report that a measure causes is inserted in the measure's own transaction
(store/measures.py calls `insert_regulator_report_txn`); one that a blacklist
entry causes is stored here with its audit record. A report starts as a `draft`;
staff record its submission (to whom, when) and the authority's acknowledgement
(`receipt`), each with its audit record in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from synapse.module_api import LoggingTransaction, ModuleApi

from policies import api
from policies.constants import ReportStatus

from ..audit import AuditChain, canonical_json
from .audit import AuditRecord, append_record_txn
from .sql import Where


@dataclass(frozen=True)
class RegulatorReport:
    """向有关主管部门报告: what happened, to whom, when, on what evidence and legal basis; and its submission."""

    id: str
    ts: int
    kind: str
    subject_type: str
    subject: str
    sanction_id: str | None
    blacklist_id: str | None
    category: str | None
    summary: str
    evidence: Sequence[Mapping[str, Any]]
    legal_basis: str
    actor: str
    summary_zh: str | None = None
    status: str = "draft"
    submitted_to: str | None = None
    submitted_ts: int | None = None
    receipt: str | None = None
    updated_ts: int | None = None

    def record(self) -> api.RegulatorReport:
        return api.RegulatorReport(
            id=self.id,
            ts=self.ts,
            kind=self.kind,
            subject=api.Subject(type=self.subject_type, id=self.subject),
            sanction=self.sanction_id,
            blacklist_entry=self.blacklist_id,
            category=self.category,
            summary=self.summary,
            summary_zh=self.summary_zh,
            evidence=[dict(item) for item in self.evidence],
            legal_basis=self.legal_basis,
            actor=self.actor,
            status=self.status,
            submitted_to=self.submitted_to,
            submitted_at=self.submitted_ts,
            receipt=self.receipt,
            updated_ts=self.updated_ts,
        )


@dataclass(frozen=True)
class Submission:
    """A change of a report's status: what staff recorded (validated by the service)."""

    status: ReportStatus
    expected: ReportStatus
    submitted_to: str | None
    submitted_ts: int | None
    receipt: str | None


class RegulatorReportStore:
    """Async access to `qunzu_regulator_reports`."""

    def __init__(self, api: ModuleApi, chain: AuditChain) -> None:
        self._api = api
        self._chain = chain

    async def add(self, report: RegulatorReport, audit: AuditRecord) -> None:
        await self._api.run_db_interaction("qunzu_add_regulator_report", _add_txn, self._chain, report, audit)

    async def between(
        self, since_ms: int | None, until_ms: int | None, limit: int, status: str | None = None
    ) -> list[RegulatorReport]:
        return await self._api.run_db_interaction(
            "qunzu_list_regulator_reports", _list_txn, since_ms, until_ms, limit, status
        )

    async def get(self, report_id: str) -> RegulatorReport | None:
        return await self._api.run_db_interaction("qunzu_get_regulator_report", _get_txn, report_id)

    async def update(
        self, report_id: str, change: Submission, now_ms: int, audit: AuditRecord
    ) -> RegulatorReport | None:
        """Record the change if the report is still in `change.expected`; None when it is not (a race, or moved on)."""
        return await self._api.run_db_interaction(
            "qunzu_update_regulator_report", _update_txn, self._chain, report_id, change, now_ms, audit
        )


_COLUMNS = (
    "id, ts, kind, subject_type, subject, sanction_id, blacklist_id, category, summary, evidence, legal_basis, actor,"
    " summary_zh, status, submitted_to, submitted_ts, receipt, updated_ts"
)


def insert_regulator_report_txn(txn: LoggingTransaction, report: RegulatorReport) -> None:
    """Insert the report in the caller's transaction (the measure that causes it)."""
    txn.execute(
        f"INSERT INTO qunzu_regulator_reports ({_COLUMNS})"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            report.id,
            report.ts,
            report.kind,
            report.subject_type,
            report.subject,
            report.sanction_id,
            report.blacklist_id,
            report.category,
            report.summary,
            canonical_json([dict(item) for item in report.evidence]),
            report.legal_basis,
            report.actor,
            report.summary_zh,
            report.status,
            report.submitted_to,
            report.submitted_ts,
            report.receipt,
            report.updated_ts,
        ),
    )


def _add_txn(txn: LoggingTransaction, chain: AuditChain, report: RegulatorReport, audit: AuditRecord) -> None:
    insert_regulator_report_txn(txn, report)
    append_record_txn(txn, chain, report.ts, audit)


def _row(r: Sequence[Any]) -> RegulatorReport:
    return RegulatorReport(
        r[0],
        int(r[1]),
        r[2],
        r[3],
        r[4],
        r[5],
        r[6],
        r[7],
        r[8],
        tuple(json.loads(r[9])),
        r[10],
        r[11],
        summary_zh=r[12],
        status=str(r[13]),
        submitted_to=r[14],
        submitted_ts=None if r[15] is None else int(r[15]),
        receipt=r[16],
        updated_ts=None if r[17] is None else int(r[17]),
    )


def _list_txn(
    txn: LoggingTransaction, since_ms: int | None, until_ms: int | None, limit: int, status: str | None = None
) -> list[RegulatorReport]:
    where = (
        Where()
        .add("ts >= ?", since_ms, when=since_ms is not None)
        .add("ts < ?", until_ms, when=until_ms is not None)
        .add("status = ?", status, when=status is not None)
    )
    txn.execute(
        f"SELECT {_COLUMNS} FROM qunzu_regulator_reports {where} ORDER BY ts DESC, id LIMIT ?",
        (*where.args, limit),
    )
    return [_row(r) for r in txn.fetchall()]


def _get_txn(txn: LoggingTransaction, report_id: str) -> RegulatorReport | None:
    txn.execute(f"SELECT {_COLUMNS} FROM qunzu_regulator_reports WHERE id = ?", (report_id,))
    row = txn.fetchone()
    return None if row is None else _row(row)


def _update_txn(
    txn: LoggingTransaction,
    chain: AuditChain,
    report_id: str,
    change: Submission,
    now_ms: int,
    audit: AuditRecord,
) -> RegulatorReport | None:
    txn.execute(
        "UPDATE qunzu_regulator_reports SET status = ?, submitted_to = COALESCE(?, submitted_to),"
        " submitted_ts = COALESCE(?, submitted_ts), receipt = COALESCE(?, receipt), updated_ts = ?"
        " WHERE id = ? AND status = ?",
        (change.status, change.submitted_to, change.submitted_ts, change.receipt, now_ms, report_id, change.expected),
    )
    if txn.rowcount != 1:
        return None
    append_record_txn(txn, chain, now_ms, audit)
    return _get_txn(txn, report_id)
