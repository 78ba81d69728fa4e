"""The docker workers stack (main + 2 generic workers, PostgreSQL, Redis) shared by one test module.

Import the fixtures into a test module (pytest registers them under their names)::

    from .worker_fixtures import cluster_fixture, on_fixture, stack_fixture  # noqa: F401  (fixtures)

The stack is what `docker/docker-compose.workers.yml` runs, rendered by the images'
entrypoint for this machine (tests/e2e/docker_stack.py); a module's `stack_settings`
fixture adds environment variables (a policy file, say). It starts on a fresh
PostgreSQL database whose Synapse schema was prepared beforehand, so main and both
workers start at the same moment and race for Qunzu's own migration; the
entrypoint's first-run init then creates the bot account and the moderation room.
Tests skip (and say why) only where PostgreSQL or Redis is not reachable.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest

from devtools.homeserver import Account
from devtools.workers import Cluster

from .conftest import fresh_localpart, fresh_pg_database
from .docker_stack import run_entrypoint, stack_environment, start_workers_stack
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


@pytest.fixture(name="stack_settings", scope="module")
def stack_settings_fixture() -> dict[str, str]:
    """Environment variables of the stack besides this machine's; a test module may override this fixture."""
    return {}


@dataclass(frozen=True)
class Stack:
    """The started workers stack: its environment, main's rendered config, its processes, and what init said."""

    env: dict[str, str]
    config_path: Path
    cluster: Cluster
    init: dict[str, Any]


@pytest.fixture(name="stack", scope="module")
def stack_fixture(
    tmp_path_factory: pytest.TempPathFactory, cluster_database: str, stack_settings: dict[str, str]
) -> Iterator[Stack]:
    """main + worker1 (background tasks) + worker2 as the docker stack runs them, started all at once."""
    reason = redis_unreachable_reason()
    if reason is not None:
        pytest.skip(f"workers need Redis: {reason}")
    env = stack_environment(tmp_path_factory.mktemp("cluster"), cluster_database)
    # People verify themselves here (no staff review), and are not greeted: the tests register
    # hundreds of accounts (docs/development.md).
    env.update(QUNZU_REALNAME_PROVIDER="checksum", QUNZU_GREET_NEW_ACCOUNTS="false", **stack_settings)
    config_path, cluster = start_workers_stack(env, ("worker1", "worker2"))
    try:
        yield Stack(env, config_path, cluster, json.loads(run_entrypoint(env, "init")))
    finally:
        cluster.stop()


@pytest.fixture(name="cluster", scope="module")
def cluster_fixture(stack: Stack) -> Cluster:
    """The stack's processes (`cluster.process("worker2")`)."""
    return stack.cluster


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
