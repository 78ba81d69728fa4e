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
the purge takes at most about a fifth of the database's time. A million rows
take a few minutes; the job runs hourly and needs only to keep up.

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
from typing import TYPE_CHECKING, Any

from policies.constants import DAY_MS

from .errors import StoreError

if TYPE_CHECKING:
    from .module import QunzuModule

logger = logging.getLogger(__name__)

JOB_NAME = "records_retention"
EVERY_MS = 3600 * 1000
# The pause after a batch, as a multiple of the batch's own time, and its floor.
PAUSE_RATIO = 4.0
MIN_PAUSE_S = 0.02


class Retention:
    """The purge of expired network log and audit rows."""

    def __init__(self, module: QunzuModule) -> None:
        self._module = module

    def cutoff_ms(self) -> int:
        return self._module.clock.now_ms() - self._module.config.policy.retention.days * DAY_MS

    async def _drain(
        self, purge: Callable[[int, int], Awaitable[int]], before: int, batch: int, counts: dict[str, Any], key: str
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
            await self._module.api.sleep(max(MIN_PAUSE_S, PAUSE_RATIO * (time.monotonic() - started)))

    async def run(self) -> dict[str, Any]:
        module = self._module
        store = module.store
        batch = module.config.policy.retention.purge_batch_size
        before = self.cutoff_ms()
        started = time.monotonic()
        result: dict[str, Any] = {"before": before}
        await self._drain(store.netlog.purge_before, before, batch, result, "netlog")
        # The sealed evidence of refused content and public reports' contact data age like the log.
        await self._drain(store.evidence.purge_before, before, batch, result, "evidence")
        await self._drain(store.public_reports.purge_before, before, batch, result, "public_reports")
        refused: str | None = None
        try:
            await self._drain(store.audit.purge_before, before, batch, result, "audit")
        except StoreError as exc:
            refused = str(exc)
            logger.error("qunzu: the audit log was not purged: %s", refused)
        result["ms"] = int((time.monotonic() - started) * 1000)
        if refused is not None:
            result["audit_refused"] = refused
        purged = any(result[key] for key in ("netlog", "evidence", "public_reports", "audit"))
        if purged or refused:
            await module.store.audit.append("module:retention", "records.purge", "records", result)
        return result
