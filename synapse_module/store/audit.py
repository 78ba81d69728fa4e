"""SQL of the audit log: append with a chained hash, query, verify in batches."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from synapse.module_api import LoggingTransaction, ModuleApi

from ..audit import AuditChain, AuditEntry, ChainVerifier, Checkpoint, VerifyResult, canonical_json
from ..clock import Clock
from ..errors import StoreError
from .sql import Where, run_contended

AUDIT_VERIFY_BATCH = 1000


@dataclass(frozen=True)
class AuditRecord:
    """An audit row written in the transaction of what it records (no personal data in `details`)."""

    actor: str
    action: str
    subject: str
    details: Mapping[str, Any]


def append_record_txn(txn: LoggingTransaction, chain: AuditChain, now_ms: int, record: AuditRecord) -> AuditEntry:
    """Append `record` inside the caller's transaction: the change and its record commit together."""
    return _append_audit_txn(
        txn, chain, now_ms, record.actor, record.action, record.subject, canonical_json(dict(record.details))
    )


class AuditStore:
    """Async access to `qunzu_audit` and its head row."""

    def __init__(self, api: ModuleApi, clock: Clock, chain: AuditChain) -> None:
        self._api = api
        self._clock = clock
        self._chain = chain

    async def append(
        self, actor: str, action: str, subject: str, details: Mapping[str, Any] | None = None
    ) -> AuditEntry:
        """Append one row to the audit chain and return it."""
        details_json = canonical_json(dict(details or {}))
        return await run_contended(
            self._api,
            "qunzu_append_audit",
            _append_audit_txn,
            self._chain,
            self._clock.now_ms(),
            actor,
            action,
            subject,
            details_json,
        )

    async def query(
        self,
        subject: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        return await self._api.run_db_interaction(
            "qunzu_query_audit", _query_audit_txn, subject, since_ms, until_ms, limit
        )

    async def verify(self) -> VerifyResult:
        """Walk the whole chain in batches and check every row and the head."""
        checkpoint = await self._api.run_db_interaction("qunzu_audit_checkpoint", _checkpoint_txn)
        # The head first: a row and the head are written in one transaction, so every row up to
        # this head exists; rows appended while the walk runs are past it and left to the next check.
        head_seq, head_hash = await self._api.run_db_interaction("qunzu_audit_head", _audit_head_txn)
        verifier = ChainVerifier(self._chain, checkpoint)
        after = 0 if checkpoint is None else checkpoint.seq
        while True:
            rows = await self._api.run_db_interaction("qunzu_audit_batch", _audit_batch_txn, after, AUDIT_VERIFY_BATCH)
            for row in rows:
                if row[0] > head_seq:
                    return verifier.finish(head_seq, head_hash)
                if not verifier.feed(row):
                    return verifier.finish(head_seq, head_hash)
            if len(rows) < AUDIT_VERIFY_BATCH:
                break
            after = rows[-1][0]
        return verifier.finish(head_seq, head_hash)

    async def purge_before(self, before_ms: int, limit: int) -> int:
        """Delete up to `limit` of the oldest rows older than `before_ms`, behind a signed checkpoint.

        Only an intact prefix is purged: rows that fail verification stay, so a
        purge can never launder tampering (the purge refuses and says so).

        Raises:
            StoreError: the rows to be purged do not verify.
        """
        return await self._api.run_db_interaction(
            "qunzu_purge_audit", _purge_audit_txn, self._chain, before_ms, limit, self._clock.now_ms()
        )

    async def checkpoint(self) -> Checkpoint | None:
        return await self._api.run_db_interaction("qunzu_audit_checkpoint", _checkpoint_txn)


def _checkpoint_txn(txn: LoggingTransaction) -> Checkpoint | None:
    txn.execute("SELECT seq, hash, ts, mac FROM qunzu_audit_checkpoint WHERE id = 1")
    row = txn.fetchone()
    return None if row is None else Checkpoint(int(row[0]), str(row[1]), int(row[2]), str(row[3]))


def _purge_audit_txn(txn: LoggingTransaction, chain: AuditChain, before_ms: int, limit: int, now_ms: int) -> int:
    start = _checkpoint_txn(txn)
    txn.execute(
        "SELECT seq, ts, actor, action, subject, details, prev_hash, hash FROM qunzu_audit"
        " WHERE seq > ? ORDER BY seq LIMIT ?",
        (0 if start is None else start.seq, limit),
    )
    rows = [
        (int(r[0]), int(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), str(r[6]), str(r[7])) for r in txn.fetchall()
    ]
    # A prefix only: stop at the first row that is still inside the retention period.
    prefix = []
    for row in rows:
        if row[1] >= before_ms:
            break
        prefix.append(row)
    if not prefix:
        return 0
    verifier = ChainVerifier(chain, start)
    for row in prefix:
        if not verifier.feed(row):
            raise StoreError(f"audit rows to be purged do not verify ({verifier.problem}); nothing was purged")
    last = prefix[-1]
    checkpoint = chain.checkpoint(last[0], last[7], last[1])
    txn.execute(
        "INSERT INTO qunzu_audit_checkpoint (id, seq, hash, ts, created_ts, mac) VALUES (1, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, ts = excluded.ts,"
        " created_ts = excluded.created_ts, mac = excluded.mac",
        (checkpoint.seq, checkpoint.hash, checkpoint.ts, now_ms, checkpoint.mac),
    )
    txn.execute("DELETE FROM qunzu_audit WHERE seq <= ?", (checkpoint.seq,))
    return len(prefix)


def _append_audit_txn(
    txn: LoggingTransaction,
    chain: AuditChain,
    now_ms: int,
    actor: str,
    action: str,
    subject: str,
    details_json: str,
) -> AuditEntry:
    txn.execute("SELECT seq, hash FROM qunzu_audit_head WHERE id = 1")
    head = txn.fetchone()
    if head is None:
        raise StoreError("qunzu_audit_head is empty: the schema was not migrated")
    prev_seq, prev_hash = int(head[0]), str(head[1])
    seq = prev_seq + 1
    row_hash = chain.hash_row(seq, now_ms, actor, action, subject, details_json, prev_hash)
    # Conditional on the head we read: a concurrent append on PostgreSQL makes
    # this a serialization failure, and Synapse retries the whole function.
    txn.execute(
        "UPDATE qunzu_audit_head SET seq = ?, hash = ? WHERE id = 1 AND seq = ?",
        (seq, row_hash, prev_seq),
    )
    if txn.rowcount != 1:
        raise StoreError("the audit head moved during an append")
    txn.execute(
        "INSERT INTO qunzu_audit (seq, ts, actor, action, subject, details, prev_hash, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, now_ms, actor, action, subject, details_json, prev_hash, row_hash),
    )
    return AuditEntry(seq, now_ms, actor, action, subject, json.loads(details_json), prev_hash, row_hash)


def _query_audit_txn(
    txn: LoggingTransaction,
    subject: str | None,
    since_ms: int | None,
    until_ms: int | None,
    limit: int,
) -> list[AuditEntry]:
    where = (
        Where()
        .add("subject = ?", subject, when=subject is not None)
        .add("ts >= ?", since_ms, when=since_ms is not None)
        .add("ts < ?", until_ms, when=until_ms is not None)
    )
    txn.execute(
        "SELECT seq, ts, actor, action, subject, details, prev_hash, hash FROM qunzu_audit"
        f" {where} ORDER BY seq DESC LIMIT ?",
        (*where.args, limit),
    )
    return [AuditEntry(int(r[0]), int(r[1]), r[2], r[3], r[4], json.loads(r[5]), r[6], r[7]) for r in txn.fetchall()]


def _audit_batch_txn(
    txn: LoggingTransaction, after_seq: int, limit: int
) -> list[tuple[int, int, str, str, str, str, str, str]]:
    txn.execute(
        "SELECT seq, ts, actor, action, subject, details, prev_hash, hash FROM qunzu_audit"
        " WHERE seq > ? ORDER BY seq LIMIT ?",
        (after_seq, limit),
    )
    return [
        (int(r[0]), int(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), str(r[6]), str(r[7])) for r in txn.fetchall()
    ]


def _audit_head_txn(txn: LoggingTransaction) -> tuple[int, str]:
    txn.execute("SELECT seq, hash FROM qunzu_audit_head WHERE id = 1")
    row = txn.fetchone()
    return (int(row[0]), str(row[1])) if row else (0, "")
