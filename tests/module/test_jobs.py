"""The job scheduler (jobs.py) in process, on real SQLite and PostgreSQL, with a movable clock.

What operators read of a job is its run records in the audit log (`job.run`, also what
`/health` and the scheduler after a restart read): a run that did something or failed is
always recorded, an idle one at most hourly, and a job runs again only when its interval
has passed, on this process or, after a restart, by the recorded run.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from prometheus_client import REGISTRY

from policies.api import JobResult
from synapse_module.jobs import IDLE_RECORD_EVERY_MS, TICK_MS, Job, Jobs
from synapse_module.module import QunzuModule
from tests.module.harness import Database, FakeModuleApi, MovableClock

MINUTE_MS = 60_000


class Imported(JobResult):
    """A test job's count of what it did."""

    imported: int = 0


class Outcomes:
    """A job's results, one per run, in order (idle when none is left); an exception is raised instead."""

    def __init__(self) -> None:
        self.next: list[JobResult | Exception] = []
        self.runs = 0

    async def run(self) -> JobResult:
        self.runs += 1
        outcome = self.next.pop(0) if self.next else Imported()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def recorded(database: Database, name: str) -> list[tuple[str, dict[str, Any]]]:
    """The job's run records in the audit log: (actor, details), oldest first."""
    rows = database.query(
        "SELECT actor, details FROM qunzu_audit WHERE action = 'job.run' AND subject = ? ORDER BY seq", (f"job:{name}",)
    )
    return [(str(actor), json.loads(details)) for actor, details in rows]


def job_runs(job: str, outcome: str) -> float:
    """`qunzu_job_runs_total{job,outcome}` of this process (0 before the first run)."""
    return REGISTRY.get_sample_value("qunzu_job_runs_total", {"job": job, "outcome": outcome}) or 0.0


class Scheduler:
    """A `Jobs` of its own beside the module's, ticked by hand as Synapse's looping call would."""

    def __init__(self, module: QunzuModule, module_api: FakeModuleApi, clock: MovableClock) -> None:
        self.jobs = Jobs(module_api.as_module_api(), clock, health=module.health, audit=module.store.audit)
        self.jobs.schedule()
        self._tick, interval, _ = module_api.looping_calls[-1]
        assert interval == TICK_MS

    def add(self, name: str, every_ms: int, outcomes: Outcomes) -> None:
        self.jobs.add(Job(name, every_ms, outcomes.run))

    async def tick(self) -> None:
        await self._tick()


@pytest.fixture
def outcomes() -> Outcomes:
    return Outcomes()


async def test_idle_runs_are_recorded_hourly_busy_and_failed_ones_always(
    module: QunzuModule, module_api: FakeModuleApi, clock: MovableClock, database: Database, outcomes: Outcomes
) -> None:
    jobs = Scheduler(module, module_api, clock)
    jobs.add("every_tick", 0, outcomes)
    counted_before = {outcome: job_runs("every_tick", outcome) for outcome in ("ok", "failed")}

    # The first run of a fresh installation is recorded, idle or not.
    await jobs.tick()
    assert len(recorded(database, "every_tick")) == 1
    # Due at every tick: idle ticks over the next 55 minutes run the job each time and record nothing.
    for _ in range(11):
        clock.advance(5 * MINUTE_MS)
        await jobs.tick()
    assert outcomes.runs == 12
    assert len(recorded(database, "every_tick")) == 1

    # A run that did something is recorded at once, and so is a failed one.
    outcomes.next = [Imported(imported=2), RuntimeError("the database went away")]
    clock.advance(MINUTE_MS)
    await jobs.tick()
    clock.advance(MINUTE_MS)
    await jobs.tick()
    records = recorded(database, "every_tick")
    assert len(records) == 3
    assert records[1][1] == {"instance": "master", "ok": True, "result": {"imported": 2}}
    assert records[2][1] == {"instance": "master", "ok": False, "result": {}}

    # The next idle run is recorded an hour after the last record, not before.
    clock.advance(IDLE_RECORD_EVERY_MS - TICK_MS)
    await jobs.tick()
    assert len(recorded(database, "every_tick")) == 3
    clock.advance(TICK_MS)
    await jobs.tick()
    assert len(recorded(database, "every_tick")) == 4
    assert outcomes.runs == 16
    # Every run, recorded or not, is counted in the metrics.
    counted = {outcome: job_runs("every_tick", outcome) - counted_before[outcome] for outcome in ("ok", "failed")}
    assert counted == {"ok": 15, "failed": 1}
    assert {actor for actor, _ in recorded(database, "every_tick")} == {"module:master"}


async def test_a_job_runs_when_its_interval_has_passed_and_a_restart_neither_skips_nor_repeats_it(
    module: QunzuModule, module_api: FakeModuleApi, clock: MovableClock, database: Database, outcomes: Outcomes
) -> None:
    jobs = Scheduler(module, module_api, clock)
    jobs.add("hourly", 3600 * 1000, outcomes)
    await jobs.tick()
    clock.advance(59 * MINUTE_MS)
    await jobs.tick()
    assert outcomes.runs == 1

    # A new process (a restart) knows the last run only from its record: not due yet, then due.
    restarted = Scheduler(module, module_api, clock)
    restarted.add("hourly", 3600 * 1000, outcomes)
    await restarted.tick()
    assert outcomes.runs == 1
    clock.advance(MINUTE_MS)
    await restarted.tick()
    assert outcomes.runs == 2
    # Idle, but the first run of this process after a record an hour old: recorded.
    assert len(recorded(database, "hourly")) == 2


async def test_a_failing_job_does_not_stop_the_others(
    module: QunzuModule, module_api: FakeModuleApi, clock: MovableClock, database: Database
) -> None:
    failing, working = Outcomes(), Outcomes()
    failing.next = [RuntimeError("broken")]
    jobs = Scheduler(module, module_api, clock)
    jobs.add("failing", 0, failing)
    jobs.add("working", 0, working)
    await jobs.tick()
    assert (failing.runs, working.runs) == (1, 1)
    assert [details["ok"] for _, details in recorded(database, "failing")] == [False]
    assert [details["ok"] for _, details in recorded(database, "working")] == [True]


async def test_after_a_restart_a_job_not_yet_due_is_looked_up_once_not_at_every_tick(
    module: QunzuModule,
    module_api: FakeModuleApi,
    clock: MovableClock,
    outcomes: Outcomes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    jobs = Scheduler(module, module_api, clock)
    jobs.add("hourly", 3600 * 1000, outcomes)
    await jobs.tick()
    restarted = Scheduler(module, module_api, clock)
    restarted.add("hourly", 3600 * 1000, outcomes)
    lookups: list[str] = []
    original = module_api.run_db_interaction

    async def counting(desc: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        if desc == "qunzu_last_job_run":
            lookups.append(desc)
        return await original(desc, func, *args, **kwargs)

    monkeypatch.setattr(module_api, "run_db_interaction", counting)
    for _ in range(30):
        clock.advance(TICK_MS)
        await restarted.tick()
    assert (outcomes.runs, len(lookups)) == (1, 1)

    # Due by its record: asked again, and run.
    clock.advance(3600 * 1000)
    await restarted.tick()
    assert (outcomes.runs, len(lookups)) == (2, 2)
