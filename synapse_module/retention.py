"""Retention (Art. 13: network logs kept at least six months, then purged).

One job, once per cluster: rows of the network log, of the sealed evidence of
refused content (evidence.py), of public reports (their contact data and
follow-up tokens; the tickets stay) and of the audit log older than
`retention.days` (policy; never under 184) go in batches of
`retention.purge_batch_size`, each batch its own short transaction (one
DELETE by primary key of the oldest rows, found by the `ts` index), so no long
lock is held and a crash mid-way loses nothing (the next run carries on).
Between batches the purge pauses `PAUSE_RATIO` times as long as the batch
took, at least `MIN_PAUSE_S`: the database and Synapse's reactor serve
requests meanwhile, and a loaded server (slower batches) gets longer pauses, so
the purge takes at most about a twentieth of the database's time (a sender's
p95 beside it: bench/ANALYSIS.md). A million rows take four to eight minutes,
depending on the machine; the job runs hourly and needs only to keep up.

The audit chain survives: before a prefix of `qunzu_audit` is deleted, a
checkpoint (sequence number and hash of its last row, MAC'd with a key of its
own) is written in the same transaction, and the verifier starts there. A
prefix that does not verify is never purged — a purge cannot launder tampering.

Measures, tickets, blacklist entries and emergency records are not purged
here: they are the records of Art. 11 and stay as long as the operator keeps them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from policies.api import IdentitiesPurged, RetentionRun
from policies.constants import DAY_MS

from . import metrics
from .errors import StoreError

if TYPE_CHECKING:
    from policies import Policy

    from .clock import Clock
    from .store.audit import AuditStore
    from .store.evidence import EvidenceStore
    from .store.identities import IdentityStore
    from .store.netlog import NetlogStore
    from .store.public_reports import PublicReportStore

logger = logging.getLogger(__name__)

JOB_NAME = "records_retention"
EVERY_MS = 3600 * 1000
IDENTITIES_JOB_NAME = "purge_deactivated_identities"
IDENTITIES_EVERY_MS = 6 * 3600 * 1000
IDENTITIES_BATCH = 500
# The pause after a batch, as a multiple of the batch's own time (a twentieth of the time busy), and its floor.
PAUSE_RATIO = 19.0
MIN_PAUSE_S = 0.02


class Retention:
    """The purge of expired network log and audit rows."""

    def __init__(
        self,
        clock: Clock,
        policy: Policy,
        *,
        netlog: NetlogStore,
        evidence: EvidenceStore,
        public_reports: PublicReportStore,
        audit: AuditStore,
        identities: IdentityStore,
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._policy = policy
        self._netlog = netlog
        self._evidence = evidence
        self._public_reports = public_reports
        self._audit = audit
        self._identities = identities

    def cutoff_ms(self) -> int:
        return self._clock.now_ms() - self._policy.retention.days * DAY_MS

    async def _drain(
        self, purge: Callable[[int, int], Awaitable[int]], before: int, batch: int, counts: dict[str, int], key: str
    ) -> None:
        """Purge batch after batch until a batch comes back short, counting into `counts[key]` as it goes."""
        counts[key] = 0
        while True:
            started = time.monotonic()
            purged = await purge(before, batch)
            counts[key] += purged
            if purged < batch:
                return
            # Paced by the batch's wall time (queueing for a connection included): the
            # busier the server, the longer the pause.
            await self._sleep(max(MIN_PAUSE_S, PAUSE_RATIO * (time.monotonic() - started)))

    async def run(self) -> RetentionRun:
        batch = self._policy.retention.purge_batch_size
        before = self.cutoff_ms()
        started = time.monotonic()
        counts: dict[str, int] = {}
        await self._drain(self._netlog.purge_before, before, batch, counts, "netlog")
        # The sealed evidence of refused content and public reports' contact data age like the log.
        await self._drain(self._evidence.purge_before, before, batch, counts, "evidence")
        await self._drain(self._public_reports.purge_before, before, batch, counts, "public_reports")
        refused: str | None = None
        try:
            await self._drain(self._audit.purge_before, before, batch, counts, "audit")
        except StoreError as exc:
            refused = str(exc)
            logger.error("qunzu: the audit log was not purged: %s", refused)
        result = RetentionRun(
            before=before,
            netlog=counts["netlog"],
            evidence=counts["evidence"],
            public_reports=counts["public_reports"],
            audit=counts["audit"],
            ms=int((time.monotonic() - started) * 1000),
        )
        if refused is not None:
            result = result.model_copy(update={"audit_refused": refused})
        if any(counts.values()) or refused:
            details = result.model_dump(mode="json", exclude_unset=True)
            await self._audit.append("module:retention", "records.purge", "records", details)
        return result

    async def purge_deactivated_identities(self) -> IdentitiesPurged:
        """Art. 13 keeps records six months; after the retention period identities of closed accounts go."""
        before = self.cutoff_ms()
        total = 0
        while (purged := await self._identities.purge_deactivated(before, IDENTITIES_BATCH)) > 0:
            total += purged
            metrics.PURGED_IDENTITIES.inc(purged)
        if total:
            await self._audit.append("module:jobs", "realname.purge", "identities", {"rows": total})
        return IdentitiesPurged(purged=total)
