"""A Synapse cluster (main + 2 generic workers, PostgreSQL, Redis) shared by one test module.

Import the fixtures into a test module (pytest registers them under their names)::

    from .worker_fixtures import cluster_fixture, on_fixture  # noqa: F401  (fixtures)

The cluster starts on a fresh PostgreSQL database whose Synapse schema was
prepared beforehand, so main and both workers start at the same moment and
race for Qunzu's own migration. Tests skip (and say why) only where
PostgreSQL or Redis is not reachable.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest

from devtools.homeserver import SERVICE_LOCALPART, Account, PortInUse, postgres_database
from devtools.workers import Cluster, render_cluster

from .conftest import PORT_ATTEMPTS, SERVICE_PASSWORD, TEST_SERVER_MODULE_DEFAULTS, fresh_localpart, fresh_pg_database
from .matrix import Matrix

REDIS = ("127.0.0.1", 6379)
T = TypeVar("T")


def redis_unreachable_reason() -> str | None:
    """Why Redis cannot be used, or None when it answers PING."""
    try:
        with socket.create_connection(REDIS, timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            if sock.recv(16).startswith(b"+PONG"):
                return None
            return f"Redis at {REDIS[0]}:{REDIS[1]} did not answer PING"
    except OSError as exc:
        return f"Redis is not reachable at {REDIS[0]}:{REDIS[1]} ({exc.__class__.__name__})"


@pytest.fixture(name="cluster_database", scope="module")
def cluster_database_fixture() -> Iterator[str]:
    """A fresh PostgreSQL database (C collation) for one module's cluster."""
    with fresh_pg_database("qunzu_workers", "the worker topology") as name:
        yield name


@pytest.fixture(name="cluster_options", scope="module")
def cluster_options_fixture() -> dict[str, Any]:
    """Keys merged into the module block of the cluster; a test module may override this fixture."""
    return {}


@pytest.fixture(name="cluster", scope="module")
def cluster_fixture(
    tmp_path_factory: pytest.TempPathFactory, cluster_database: str, cluster_options: dict[str, Any]
) -> Iterator[Cluster]:
    """main + worker1 (background tasks) + worker2, started all at once on a fresh database."""
    reason = redis_unreachable_reason()
    if reason is not None:
        pytest.skip(f"workers need Redis: {reason}")
    data_dir: Path = tmp_path_factory.mktemp("cluster")
    module_config = {**TEST_SERVER_MODULE_DEFAULTS, **cluster_options}
    cluster = render_cluster(
        data_dir, database=postgres_database(cluster_database), module_config=module_config, workers=2
    )
    cluster.prepare_database()
    for attempt in range(1, PORT_ATTEMPTS + 1):
        try:
            cluster.start()
            break
        except PortInUse:
            # Another program took a port first: the same cluster again on new ports.
            if attempt == PORT_ATTEMPTS:
                raise
            cluster = render_cluster(
                data_dir,
                database=postgres_database(cluster_database),
                module_config=module_config,
                workers=2,
                server_name=cluster.server_name,
            )
    # As in production, the service account exists before anyone creates a room (conftest.ServerFactory).
    cluster.main.ensure_account(SERVICE_LOCALPART, SERVICE_PASSWORD)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(name="on")
async def on_fixture(cluster: Cluster) -> AsyncIterator[Callable[[str, Account], Matrix]]:
    """`on(process_name, account)`: client-server calls as `account`, sent to that process."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:

        def make(name: str, account: Account) -> Matrix:
            return Matrix(session, cluster.process(name).base_url, account)

        yield make


def new_account(cluster: Cluster, prefix: str = "user", *, admin: bool = False) -> Account:
    """Register an account (shared-secret registration is an admin API: main only)."""
    return cluster.main.register(fresh_localpart(prefix), admin=admin)


async def poll_until(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], *, within_s: float, interval_s: float = 0.02
) -> tuple[T, float]:
    """Call `probe` until `done(result)` or the deadline; return the last result and the seconds it took."""
    start = time.monotonic()
    while True:
        result = await probe()
        elapsed = time.monotonic() - start
        if done(result) or elapsed >= within_s:
            return result, elapsed
        await asyncio.sleep(interval_s)
