"""Read-only SQL for the regulator export and the filing statistics.

These read tables of other concerns (tickets, blacklist, groups, sanctions,
regulator reports, credit) that may not exist yet in a given installation:
every reader checks the table and its columns first and answers "absent"
instead of failing (a failed statement would abort a PostgreSQL transaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from synapse.module_api import LoggingTransaction, ModuleApi

from ..migrations import dialect_of


@dataclass(frozen=True)
class TableRows:
    """Rows of one table as dicts; `present` is False when the table does not exist."""

    present: bool
    rows: list[dict[str, Any]]


def columns_of(txn: LoggingTransaction, table: str) -> set[str]:
    """The table's column names; empty when it does not exist."""
    if dialect_of(txn) == "sqlite":
        txn.execute("SELECT name FROM pragma_table_info(?)", (table,))
    else:
        txn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND table_name = ?",
            (table,),
        )
    return {str(row[0]) for row in txn.fetchall()}


class RecordsStore:
    """Reads for export and filing."""

    def __init__(self, api: ModuleApi) -> None:
        self._api = api

    async def table_in_range(
        self,
        table: str,
        ts_column: str,
        since_ms: int,
        until_ms: int,
        subject_columns: Sequence[str],
        subjects: Sequence[str],
        limit: int,
    ) -> TableRows:
        return await self._api.run_db_interaction(
            f"qunzu_records_{table}",
            _table_in_range_txn,
            table,
            ts_column,
            since_ms,
            until_ms,
            list(subject_columns),
            list(subjects),
            limit,
        )

    async def audit_in_range(self, since_ms: int, until_ms: int, limit: int) -> list[dict[str, Any]]:
        return await self._api.run_db_interaction("qunzu_records_audit", _audit_txn, since_ms, until_ms, limit)

    async def group_codes(self) -> dict[str, str]:
        """room id → group code (Art. 8), from the groups registry when it exists."""
        return await self._api.run_db_interaction("qunzu_records_codes", _group_codes_txn)

    async def column_values(self, table: str, columns: Sequence[str], where: str = "") -> TableRows:
        """All rows of some columns of a table (statistics); `where` is a fixed SQL condition."""
        return await self._api.run_db_interaction(
            f"qunzu_records_values_{table}", _column_values_txn, table, list(columns), where
        )


def _table_in_range_txn(
    txn: LoggingTransaction,
    table: str,
    ts_column: str,
    since_ms: int,
    until_ms: int,
    subject_columns: list[str],
    subjects: list[str],
    limit: int,
) -> TableRows:
    columns = columns_of(txn, table)
    if not columns or ts_column not in columns:
        return TableRows(False, [])
    clauses = [f"{ts_column} >= ?", f"{ts_column} < ?"]
    args: list[Any] = [since_ms, until_ms]
    usable = [column for column in subject_columns if column in columns]
    if subjects:
        if not usable:
            return TableRows(True, [])
        marks = ", ".join("?" * len(subjects))
        clauses.append("(" + " OR ".join(f"{column} IN ({marks})" for column in usable) + ")")
        for _ in usable:
            args += subjects
    order = ", id" if "id" in columns else ""
    txn.execute(
        f"SELECT * FROM {table} WHERE {' AND '.join(clauses)} ORDER BY {ts_column}{order} LIMIT ?",
        (*args, limit),
    )
    names = [str(d[0]) for d in txn.description or ()]
    return TableRows(True, [dict(zip(names, row, strict=True)) for row in txn.fetchall()])


def _audit_txn(txn: LoggingTransaction, since_ms: int, until_ms: int, limit: int) -> list[dict[str, Any]]:
    txn.execute(
        "SELECT seq, ts, actor, action, subject, details, prev_hash, hash FROM qunzu_audit"
        " WHERE ts >= ? AND ts < ? ORDER BY seq LIMIT ?",
        (since_ms, until_ms, limit),
    )
    keys = ("seq", "ts", "actor", "action", "subject", "details", "prev_hash", "hash")
    return [dict(zip(keys, row, strict=True)) for row in txn.fetchall()]


def _group_codes_txn(txn: LoggingTransaction) -> dict[str, str]:
    if not {"code", "room_id"} <= columns_of(txn, "qunzu_groups"):
        return {}
    txn.execute("SELECT room_id, code FROM qunzu_groups WHERE room_id IS NOT NULL")
    return {str(row[0]): str(row[1]) for row in txn.fetchall()}


def _column_values_txn(txn: LoggingTransaction, table: str, columns: list[str], where: str) -> TableRows:
    if not set(columns) <= columns_of(txn, table):
        return TableRows(False, [])
    txn.execute(f"SELECT {', '.join(columns)} FROM {table} {where}")
    return TableRows(True, [dict(zip(columns, row, strict=True)) for row in txn.fetchall()])
