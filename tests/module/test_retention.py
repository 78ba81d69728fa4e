"""Retention (Art. 13) on SQLite and PostgreSQL: the module's job, its clock moved past the retention period.

Network log rows and a prefix of the audit chain older than `retention.days`
are purged behind a signed checkpoint; recent rows stay; the chain still
verifies, and a checkpoint moved without the key does not. The same job
through the HTTP API of a real server: tests/e2e/test_records.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.homeserver import module_block, write_qunzu_key
from policies import default_policy
from policies.api import RetentionRun
from policies.constants import DAY_MS
from synapse_module import retention
from synapse_module.config import QunzuConfig, parse_module_config
from synapse_module.module import QunzuModule
from synapse_module.store.netlog import LogEntry

from .harness import NOW, Database, MovableClock

OLD_ROOM, NEW_ROOM = "!old:localhost", "!new:localhost"
# Small batches, so every purge here runs several of them with their pauses between.
BATCH = 4


@pytest.fixture(name="module_config")
def small_batches_config(tmp_path: Path) -> QunzuConfig:
    write_qunzu_key(tmp_path / "qunzu.key")
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump({"retention": {"purge_batch_size": BATCH}}))
    return parse_module_config(module_block(tmp_path, policy_file=str(policy))["config"])


def entries(room: str, ts: int, count: int) -> list[LogEntry]:
    return [
        LogEntry(id=f"${room}-{n}", kind="message", ts=ts + n, user_id="@old:localhost", room_id=room)
        for n in range(count)
    ]


async def test_retention_purges_old_rows_keeps_recent_ones_and_the_chain_verifies(
    module: QunzuModule, clock: MovableClock, database: Database
) -> None:
    # Half a year and more ago: three log rows and five audited staff calls (after the schema's own row).
    await module.store.netlog.insert(entries(OLD_ROOM, NOW, 3))
    for _ in range(5):
        await module.store.audit.append("@staff:localhost", "api.GET /admin/audit", "audit", {})
    (upto,) = database.query("SELECT MAX(seq) FROM qunzu_audit")[0]
    clock.advance(10 * DAY_MS)
    await module.store.netlog.insert(entries(NEW_ROOM, clock.now_ms(), 3))
    for _ in range(2):  # the last rows stay recent
        await module.store.audit.append("@staff:localhost", "api.GET /admin/audit", "audit", {})
    clock.advance((module.config.policy.retention.days - 9) * DAY_MS)

    assert (await module.store.audit.verify()).ok
    ran = await module.jobs.run_now(retention.JOB_NAME)
    assert ran is not None

    count = "SELECT COUNT(*) FROM qunzu_netlog WHERE room_id = ?"
    assert database.query(count, (OLD_ROOM,)) == [(0,)]
    assert database.query(count, (NEW_ROOM,)) == [(3,)]
    assert database.query("SELECT MIN(seq) FROM qunzu_audit") == [(upto + 1,)]
    assert database.query("SELECT seq FROM qunzu_audit_checkpoint") == [(upto,)]
    after = await module.store.audit.verify()
    assert after.ok, after.problem
    (purge,) = [entry for entry in await module.store.audit.query(subject="records") if entry.action == "records.purge"]
    assert purge.details["audit"] >= upto and purge.details["netlog"] >= 3

    # Moving the checkpoint without the key is caught.
    database.query("UPDATE qunzu_audit_checkpoint SET seq = seq + 1")
    assert not (await module.store.audit.verify()).ok


async def test_retention_purges_in_batches_exactly_the_rows_past_the_cutoff(
    module: QunzuModule, clock: MovableClock, database: Database
) -> None:
    # 23 rows expired (5 full batches and a short one), the rows at and after the cutoff stay.
    clock.advance(module.config.policy.retention.days * DAY_MS)
    cutoff = clock.now_ms() - module.config.policy.retention.days * DAY_MS
    await module.store.netlog.insert(entries(OLD_ROOM, cutoff - 23, 23))
    await module.store.netlog.insert(entries(NEW_ROOM, cutoff, 3))

    ran = await module.jobs.run_now(retention.JOB_NAME)

    assert isinstance(ran, RetentionRun)
    assert ran.netlog == 23
    assert ran.ms >= 0
    count = "SELECT COUNT(*) FROM qunzu_netlog WHERE room_id = ?"
    assert database.query(count, (OLD_ROOM,)) == [(0,)]
    assert database.query("SELECT ts FROM qunzu_netlog WHERE room_id = ? ORDER BY ts", (NEW_ROOM,)) == [
        (cutoff,),
        (cutoff + 1,),
        (cutoff + 2,),
    ]


class _SlowBatches:
    """A store whose purge deletes `full` whole batches, then a short one; each takes `batch_s`."""

    def __init__(self, full: int, batch_s: float) -> None:
        self.left, self.batch_s, self.calls = full, batch_s, 0

    async def purge_before(self, before: int, batch: int) -> int:
        self.calls += 1
        await asyncio.sleep(self.batch_s)
        if self.left == 0:
            return 0
        self.left -= 1
        return batch


class _Nothing:
    async def purge_before(self, before: int, batch: int) -> int:
        return 0

    async def append(self, *args: Any) -> None:
        return None


async def test_the_purge_rests_nineteen_times_as_long_as_each_batch_took() -> None:
    # The purge shares the database with every request: it may take about a twentieth of its
    # time (bench/ANALYSIS.md: at a fifth, a concurrent sender's p95 rose 1.15×; at a twentieth, 1.02×).
    netlog = _SlowBatches(full=3, batch_s=0.01)
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    purge = retention.Retention(
        MovableClock(),
        default_policy(),
        netlog=netlog,  # type: ignore[arg-type]
        evidence=_Nothing(),  # type: ignore[arg-type]
        public_reports=_Nothing(),  # type: ignore[arg-type]
        audit=_Nothing(),  # type: ignore[arg-type]
        identities=_Nothing(),  # type: ignore[arg-type]
        sleep=sleep,
    )
    ran = await purge.run()

    assert ran.netlog == 3 * default_policy().retention.purge_batch_size
    # A pause after each full batch, none after the short last one.
    assert netlog.calls == 4 and len(pauses) == 3
    assert all(pause >= retention.PAUSE_RATIO * 0.01 for pause in pauses), pauses
    assert retention.PAUSE_RATIO == 19.0
