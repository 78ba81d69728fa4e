"""The append-only, hash-chained audit log (Art. 11, 13: keep records).

Each row's hash is a keyed MAC over its own fields and the previous row's
hash. Editing, deleting or reordering rows breaks the chain at that row, and
without the module's key nobody can forge a consistent replacement chain.
The head row (last sequence number and hash) also catches a deleted tail.

Never put personal data (names, ID numbers, phone numbers, message text) in
`details`: audit rows are shown to staff and exported to regulators.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from policies import api

from .crypto import derive_key, mac_hex

GENESIS = ""


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit log."""

    seq: int
    ts: int
    actor: str
    action: str
    subject: str
    details: Mapping[str, Any]
    prev_hash: str
    hash: str

    def record(self) -> api.AuditEntry:
        return api.AuditEntry(
            seq=self.seq,
            ts=self.ts,
            actor=self.actor,
            action=self.action,
            subject=self.subject,
            details=dict(self.details),
            prev_hash=self.prev_hash,
            hash=self.hash,
        )


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of checking the chain: `first_bad` is the first row that fails."""

    ok: bool
    rows: int
    first_bad: int | None
    problem: str | None = None

    def record(self) -> api.ChainCheck:
        return api.ChainCheck(ok=self.ok, rows=self.rows, first_bad=self.first_bad, problem=self.problem)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Checkpoint:
    """The signed end of a purged prefix (Art. 13: retention purges keep the chain provable).

    `seq` and `hash` are those of the last purged row, `ts` its time; `mac` binds
    them with a key of its own, so nobody without the module key can move the start.
    """

    seq: int
    hash: str
    ts: int
    mac: str


class AuditChain:
    """Computes and checks row hashes with a key derived from the module key."""

    def __init__(self, master_key: bytes) -> None:
        self._key = derive_key(master_key, "qunzu/audit-chain/v1")
        self._checkpoint_key = derive_key(master_key, "qunzu/audit-checkpoint/v1")

    def checkpoint(self, seq: int, row_hash: str, ts: int) -> Checkpoint:
        """A signed checkpoint for the prefix ending at row `seq`."""
        return Checkpoint(seq, row_hash, ts, self._checkpoint_mac(seq, row_hash, ts))

    def checkpoint_is_valid(self, checkpoint: Checkpoint) -> bool:
        return hmac.compare_digest(checkpoint.mac, self._checkpoint_mac(checkpoint.seq, checkpoint.hash, checkpoint.ts))

    def _checkpoint_mac(self, seq: int, row_hash: str, ts: int) -> str:
        payload = canonical_json(["checkpoint", seq, row_hash, ts])
        return mac_hex(self._checkpoint_key, payload.encode("utf-8"))

    def hash_row(
        self, seq: int, ts: int, actor: str, action: str, subject: str, details_json: str, prev_hash: str
    ) -> str:
        payload = canonical_json([seq, ts, actor, action, subject, details_json, prev_hash])
        return mac_hex(self._key, payload.encode("utf-8"))


class ChainVerifier:
    """Walks rows in sequence order and reports the first one that breaks the chain."""

    def __init__(self, chain: AuditChain, start: Checkpoint | None = None) -> None:
        self._chain = chain
        self.rows = 0
        self.first_bad: int | None = None
        self.problem: str | None = None
        self._expected_seq: int | None = None
        self._prev_hash = GENESIS
        if start is not None:
            # After a retention purge the chain starts after the signed checkpoint.
            if not chain.checkpoint_is_valid(start):
                self.first_bad = start.seq + 1
                self.problem = "the retention checkpoint is not signed by this server's key"
            self._expected_seq = start.seq + 1
            self._prev_hash = start.hash

    def feed(self, row: tuple[int, int, str, str, str, str, str, str]) -> bool:
        """Check one row; returns False once the chain is broken."""
        seq, ts, actor, action, subject, details_json, prev_hash, stored_hash = row
        if self.first_bad is not None:
            return False
        self.rows += 1
        expected_seq = 1 if self._expected_seq is None else self._expected_seq
        if seq != expected_seq:
            return self._fail(seq, f"row {expected_seq} is missing")
        if prev_hash != self._prev_hash:
            return self._fail(seq, "does not follow the row before it")
        if self._chain.hash_row(seq, ts, actor, action, subject, details_json, prev_hash) != stored_hash:
            return self._fail(seq, "was changed after it was written")
        self._expected_seq = seq + 1
        self._prev_hash = stored_hash
        return True

    def finish(self, head_seq: int, head_hash: str) -> VerifyResult:
        """Compare the last row with the head record (catches a deleted tail)."""
        if self.first_bad is None:
            last_seq = 0 if self._expected_seq is None else self._expected_seq - 1
            if (last_seq, self._prev_hash) != (head_seq, head_hash):
                self.first_bad = last_seq + 1 if head_seq > last_seq else head_seq
                self.problem = f"the log ends at row {last_seq} but row {head_seq} was written"
        return VerifyResult(self.first_bad is None, self.rows, self.first_bad, self.problem)

    def _fail(self, seq: int, problem: str) -> bool:
        self.first_bad = seq
        self.problem = f"row {seq} {problem}" if not problem.startswith("row") else problem
        return False
