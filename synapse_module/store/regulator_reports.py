"""SQL of regulator reports (向有关主管部门报告, Art. 11): `qunzu_regulator_reports`.

A report that a measure causes is inserted in the measure's own transaction
(store/measures.py calls `insert_regulator_report_txn`); one that a blacklist
entry causes is stored here with its audit record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from synapse.module_api import LoggingTransaction, ModuleApi

from ..audit import AuditChain, canonical_json
from .audit import AuditRecord, append_record_txn
from .sql import Where


@dataclass(frozen=True)
class RegulatorReport:
    """向有关主管部门报告: what happened, to whom, when, on what evidence and legal basis."""

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

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": self.ts,
            "kind": self.kind,
            "subject": {"type": self.subject_type, "id": self.subject},
            "sanction": self.sanction_id,
            "blacklist_entry": self.blacklist_id,
            "category": self.category,
            "summary": self.summary,
            "evidence": [dict(item) for item in self.evidence],
            "legal_basis": self.legal_basis,
            "actor": self.actor,
        }


class RegulatorReportStore:
    """Async access to `qunzu_regulator_reports`."""

    def __init__(self, api: ModuleApi, chain: AuditChain) -> None:
        self._api = api
        self._chain = chain

    async def add(self, report: RegulatorReport, audit: AuditRecord) -> None:
        await self._api.run_db_interaction("qunzu_add_regulator_report", _add_txn, self._chain, report, audit)

    async def between(self, since_ms: int | None, until_ms: int | None, limit: int) -> list[RegulatorReport]:
        return await self._api.run_db_interaction("qunzu_list_regulator_reports", _list_txn, since_ms, until_ms, limit)


_COLUMNS = (
    "id, ts, kind, subject_type, subject, sanction_id, blacklist_id, category, summary, evidence, legal_basis, actor"
)


def insert_regulator_report_txn(txn: LoggingTransaction, report: RegulatorReport) -> None:
    """Insert the report in the caller's transaction (the measure that causes it)."""
    txn.execute(
        f"INSERT INTO qunzu_regulator_reports ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        ),
    )


def _add_txn(txn: LoggingTransaction, chain: AuditChain, report: RegulatorReport, audit: AuditRecord) -> None:
    insert_regulator_report_txn(txn, report)
    append_record_txn(txn, chain, report.ts, audit)


def _list_txn(txn: LoggingTransaction, since_ms: int | None, until_ms: int | None, limit: int) -> list[RegulatorReport]:
    where = (
        Where().add("ts >= ?", since_ms, when=since_ms is not None).add("ts < ?", until_ms, when=until_ms is not None)
    )
    txn.execute(
        f"SELECT {_COLUMNS} FROM qunzu_regulator_reports {where} ORDER BY ts DESC, id LIMIT ?",
        (*where.args, limit),
    )
    return [
        RegulatorReport(
            r[0], int(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], r[8], tuple(json.loads(r[9])), r[10], r[11]
        )
        for r in txn.fetchall()
    ]
