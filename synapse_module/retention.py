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

from .errors import StoreError

if TYPE_CHECKING:
    from .module import QunzuModule

logger = logging.getLogger(__name__)

JOB_NAME = "records_retention"
EVERY_MS = 3600 * 1000


class Retention:
    """The purge of expired network log and audit rows."""

    def __init__(self, module: QunzuModule) -> None:
        self._module = module

    def cutoff_ms(self) -> int:
        return self._module.clock.now_ms() - self._module.config.policy.retention.days * DAY_MS

    async def run(self) -> dict[str, Any]:
        module = self._module
        batch = module.config.policy.retention.purge_batch_size
        before = self.cutoff_ms()
        netlog = 0
        while (purged := await module.store.netlog.purge_before(before, batch)) > 0:
            netlog += purged
            if purged < batch:
                break
        # The sealed evidence of refused content and public reports' contact data age like the log.
        evidence = 0
        while (purged := await module.store.evidence.purge_before(before, batch)) > 0:
            evidence += purged
            if purged < batch:
                break
        public = 0
        while (purged := await module.store.public_reports.purge_before(before, batch)) > 0:
            public += purged
            if purged < batch:
                break
        audit = 0
        refused: str | None = None
        try:
            while (purged := await module.store.audit.purge_before(before, batch)) > 0:
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
            await module.store.audit.append("module:retention", "records.purge", "records", result)
        return result
