"""What the pytest-xdist workers of one test run share: a directory, a lock, the databases made for all.

A session-scoped fixture runs once per worker. Something costly that every worker would make
alike (the module tier's schema templates: Synapse's `update_synapse_database` in a process of
its own, seconds each) is made once per run instead: the first worker to need it makes it while
holding the run's lock for it, the others wait for the lock and use what it made. PostgreSQL
databases made that way outlive the worker that made them; the run's controller drops them when
every worker has finished (`drop_shared_databases`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Set by the controller before its workers start; they inherit it with the environment.
RUN_ID_ENV = "QUNZU_TEST_RUN"
_DATABASES_FILE = "shared-databases"


def begin_run(config: pytest.Config) -> None:
    """Give the run its id (in the controller, or in a run without workers)."""
    if not hasattr(config, "workerinput"):
        os.environ[RUN_ID_ENV] = uuid.uuid4().hex[:12]


def run_dir(factory: pytest.TempPathFactory) -> Path:
    """The directory all workers of this run share: their base temp directories' parent."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextlib.contextmanager
def run_lock(factory: pytest.TempPathFactory, name: str) -> Iterator[Path]:
    """Hold the run-wide lock called `name`; yields the run's shared directory."""
    shared = run_dir(factory)
    with (shared / f"{name}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield shared
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def shared_database_name(factory: pytest.TempPathFactory, prefix: str) -> str:
    """A PostgreSQL database name for the whole run, recorded so that the controller drops it at the end.

    Call it while holding the run's lock for that database.
    """
    name = f"{prefix}_run_{os.environ.get(RUN_ID_ENV) or uuid.uuid4().hex[:12]}"
    listed = run_dir(factory) / _DATABASES_FILE
    with listed.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        if name not in handle.read().split():
            handle.write(name + "\n")
    return name


def drop_shared_databases(config: pytest.Config) -> None:
    """Drop the run's shared PostgreSQL databases (in the controller, once every worker has finished)."""
    if hasattr(config, "workerinput"):
        return
    factory: pytest.TempPathFactory | None = getattr(config, "_tmp_path_factory", None)
    if factory is None:
        return
    listed = factory.getbasetemp() / _DATABASES_FILE
    if not listed.exists():
        return
    from tests.e2e.conftest import drop_pg_database

    for name in listed.read_text().split():
        drop_pg_database(name)
    listed.unlink()
