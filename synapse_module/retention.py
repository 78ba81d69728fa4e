"""Retention (Art. 13: network logs kept at least six months, then purged).

One job, once per cluster: rows of the network log, of the sealed evidence of
refused content (evidence.py), of public reports (their contact data and
follow-up tokens; the tickets stay) and of the audit log older than
`retention.days` (policy; never under 184) go in batches of
`retention.purge_batch_size`, each batch its own short transaction, so no
long lock is held and a crash mid-way loses nothing (the next run carries on).

The audit chain survives: before a prefix of `qunzu_audit` is deleted, a
checkpoint (sequence number and hash of its last row, MAC'd with a key of its
own) is written in the same transaction, and the verifier starts there. A
prefix that does not verify is never purged — a purge cannot launder tampering.

Measures, tickets, blacklist entries and emergency records are not purged
here: they are the records of Art. 11 and stay as long as the operator keeps them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

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
    ) -> None:
        self._clock = clock
        self._policy = policy
        self._netlog = netlog
        self._evidence = evidence
        self._public_reports = public_reports
        self._audit = audit
        self._identities = identities

    def cutoff_ms(self) -> int:
        return self._clock.now_ms() - self._policy.retention.days * DAY_MS

    async def run(self) -> dict[str, Any]:
        batch = self._policy.retention.purge_batch_size
        before = self.cutoff_ms()
        netlog = 0
        while (purged := await self._netlog.purge_before(before, batch)) > 0:
            netlog += purged
            if purged < batch:
                break
        # The sealed evidence of refused content and public reports' contact data age like the log.
        evidence = 0
        while (purged := await self._evidence.purge_before(before, batch)) > 0:
            evidence += purged
            if purged < batch:
                break
        public = 0
        while (purged := await self._public_reports.purge_before(before, batch)) > 0:
            public += purged
            if purged < batch:
                break
        audit = 0
        refused: str | None = None
        try:
            while (purged := await self._audit.purge_before(before, batch)) > 0:
                audit += purged
                if purged < batch:
                    break
        except StoreError as exc:
            refused = str(exc)
            logger.error("qunzu: the audit log was not purged: %s", refused)
        result: dict[str, Any] = {
            "before": before,
            "netlog": netlog,
            "evidence": evidence,
            "public_reports": public,
            "audit": audit,
        }
        if refused is not None:
            result["audit_refused"] = refused
        if netlog or evidence or public or audit or refused:
            await self._audit.append("module:retention", "records.purge", "records", result)
        return result

    async def purge_deactivated_identities(self) -> dict[str, Any]:
        """Art. 13 keeps records six months; after the retention period identities of closed accounts go."""
        before = self.cutoff_ms()
        total = 0
        while (purged := await self._identities.purge_deactivated(before, IDENTITIES_BATCH)) > 0:
            total += purged
            metrics.PURGED_IDENTITIES.inc(purged)
        if total:
            await self._audit.append("module:jobs", "realname.purge", "identities", {"rows": total})
        return {"purged": total}
