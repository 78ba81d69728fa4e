"""One harness for `make bench`: a vanilla Synapse and a Synapse with Qunzu, side by side.

Both servers run on PostgreSQL (a fresh database each) on loopback, with the
same config except the `modules:` block (`devtools.homeserver.render_config`).
Setup registers the accounts through the shared-secret admin API, verifies them
on the Qunzu server, and fills the rooms once; every scenario then reuses them.
Comparisons alternate the two servers round by round (ABBA order), so drift of
a noisy machine hits both sides alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import secrets
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import psycopg2
import yaml

from devtools.homeserver import (
    SERVICE_LOCALPART,
    Account,
    SynapseProcess,
    free_port,
    module_block,
    postgres_database,
    registration_mac,
    render_config,
)
from policies.identity import id_check_character

from .autovacuum import autovacuum_stand_in

PG_DSN = os.environ.get("QUNZU_BENCH_PG_DSN", "host=127.0.0.1 user=postgres dbname=postgres")
# Setup requests in flight per server: enough to keep both cores busy, few enough
# that joins into one room do not pile up behind Synapse's per-room linearizer.
SETUP_CONCURRENCY = 8
API = "/_synapse/client/qunzu/v1"
# The bench policy differs from the default in one key: joins into large rooms are
# open (no knock), so setup can fill a 2,000-member room without 2,000 invites.
# The join check itself (counts, caps, real name) runs exactly as with the default.
BENCH_POLICY = {"scale_tiers": {"approval_from_tier": "huge"}}


class BenchError(Exception):
    """A server refused something setup or a scenario needs."""


Reply = tuple[int, dict[str, Any]]


def fresh_id_number() -> str:
    """A valid 18-character ID number (the checksum provider accepts it)."""
    rng = secrets.SystemRandom()
    birth = datetime.date(1960, 1, 1) + datetime.timedelta(days=rng.randrange(40 * 365))
    first17 = f"110105{birth:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + id_check_character(first17)


@dataclass
class Server:
    """One Synapse process and what setup made on it."""

    label: str
    process: SynapseProcess
    dbname: str
    qunzu: bool
    session: aiohttp.ClientSession
    admin: Account | None = None
    users: list[Account] = field(default_factory=list)
    rooms: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.process.base_url

    async def call(self, method: str, path: str, token: str | None, body: Any = None, wait_s: float = 60) -> Reply:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        limit = aiohttp.ClientTimeout(total=wait_s)
        async with self.session.request(
            method, self.base_url + path, json=body, headers=headers, timeout=limit
        ) as response:
            data = await response.json(content_type=None)
            return response.status, data if isinstance(data, dict) else {}

    async def ok(self, method: str, path: str, token: str | None, body: Any = None, wait_s: float = 60) -> Any:
        status, reply = await self.call(method, path, token, body, wait_s)
        if status != 200:
            raise BenchError(f"{self.label}: {method} {path}: {status} {reply}")
        return reply

    async def register(self, localpart: str, *, admin: bool = False) -> Account:
        password = secrets.token_urlsafe(12)
        url = "/_synapse/admin/v1/register"
        nonce = (await self.ok("GET", url, None))["nonce"]
        mac = registration_mac(self.process.shared_secret, nonce, localpart, password, admin=admin)
        body = {"nonce": nonce, "username": localpart, "password": password, "admin": admin, "mac": mac}
        reply = await self.ok("POST", url, None, body)
        return Account(reply["user_id"], password, reply["access_token"], reply["device_id"])

    async def verify(self, account: Account) -> None:
        """Real-name verification and the convention (Qunzu only; vanilla has neither)."""
        if not self.qunzu:
            return
        health = await self.ok("GET", f"{API}/health", None)
        body = {"name": "张三", "id_number": fresh_id_number(), "convention_version": health["convention_version"]}
        await self.ok("POST", f"{API}/realname", account.access_token, body)

    async def send(self, account: Account, room_id: str, text: str) -> float:
        """Send one message; returns its latency in milliseconds."""
        path = f"/_matrix/client/v3/rooms/{quote(room_id)}/send/m.room.message/{secrets.token_hex(8)}"
        start = time.perf_counter()
        await self.ok("PUT", path, account.access_token, {"msgtype": "m.text", "body": text})
        return (time.perf_counter() - start) * 1000

    async def join(self, account: Account, room_id: str) -> float:
        start = time.perf_counter()
        await self.ok("POST", f"/_matrix/client/v3/join/{quote(room_id)}", account.access_token, {})
        return (time.perf_counter() - start) * 1000

    async def invite(self, account: Account, room_id: str) -> None:
        """The bench admin (owner of every bench room) invites `account`."""
        assert self.admin is not None
        path = f"/_matrix/client/v3/rooms/{quote(room_id)}/invite"
        await self.ok("POST", path, self.admin.access_token, {"user_id": account.user_id})

    async def leave(self, account: Account, room_id: str) -> None:
        await self.ok("POST", f"/_matrix/client/v3/rooms/{quote(room_id)}/leave", account.access_token, {})

    async def create_room(self, account: Account, **body: Any) -> tuple[str, float]:
        start = time.perf_counter()
        reply = await self.ok("POST", "/_matrix/client/v3/createRoom", account.access_token, body)
        return str(reply["room_id"]), (time.perf_counter() - start) * 1000


# -- statistics ---------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": statistics.median(values),
        "p95": percentile(values, 0.95),
        "max": max(values),
    }


SETTLE_S = 2.0


async def alternate(
    servers: Sequence[Server], rounds: int, measure: Callable[[Server, int], Awaitable[Any]]
) -> dict[str, list[Any]]:
    """Run `measure` on each server, `rounds` times, in ABBA order; results by server label.

    Each measurement starts after `SETTLE_S` of quiet: a server keeps working after a
    burst (push rules, Qunzu's event follower and log batches a second later), and on
    two shared cores that work would otherwise slow the other server's round.
    """
    results: dict[str, list[Any]] = {server.label: [] for server in servers}
    for index in range(rounds):
        order = servers if index % 2 == 0 else list(reversed(servers))
        for server in order:
            await asyncio.sleep(SETTLE_S)
            results[server.label].append(await measure(server, index))
    return results


async def bounded(jobs: Iterable[Awaitable[Any]], limit: int = SETUP_CONCURRENCY) -> list[Any]:
    """Await `jobs` with at most `limit` in flight; results in order."""
    gate = asyncio.Semaphore(limit)

    async def one(job: Awaitable[Any]) -> Any:
        async with gate:
            return await job

    return list(await asyncio.gather(*(one(job) for job in jobs)))


# -- servers ------------------------------------------------------------------------------


def _pg(sql: str, dbname: str | None = None) -> None:
    connection = psycopg2.connect(PG_DSN) if dbname is None else psycopg2.connect(PG_DSN, dbname=dbname)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        connection.close()


def bench_database(dbname: str) -> dict[str, Any]:
    """Synapse's `database` block for a bench process: a pool of 10 connections per process.

    That is Synapse's default and the docker stack's (`docker/entrypoint.py`); devtools keeps
    its test servers at 5. Single processes and every process of a cluster get the same.
    """
    database = postgres_database(dbname)
    database["args"]["cp_max"] = 10
    return database


def _quiet_logs(data_dir: Path) -> None:
    """Both servers log at INFO (devtools logs Qunzu at DEBUG, which would tax one side only)."""
    path = data_dir / "log.yaml"
    config = yaml.safe_load(path.read_text())
    config["loggers"]["synapse_module"]["level"] = "INFO"
    path.write_text(yaml.safe_dump(config))


def start_server(base: Path, label: str, *, qunzu: bool, session: aiohttp.ClientSession) -> Server:
    data_dir = base / label
    dbname = f"qunzu_bench_{label}_{os.getpid()}"
    _pg(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")
    _pg(f"CREATE DATABASE {dbname} ENCODING 'UTF8' LC_COLLATE='C' LC_CTYPE='C' TEMPLATE template0")
    modules: list[dict[str, Any]] = []
    if qunzu:
        data_dir.mkdir(parents=True, exist_ok=True)
        policy = data_dir / "policy.yaml"
        policy.write_text(yaml.safe_dump(BENCH_POLICY))
        modules = [module_block(data_dir, policy_file=str(policy))]
    port = free_port()
    path = render_config(data_dir, port=port, database=bench_database(dbname), modules=modules)
    _quiet_logs(data_dir)
    process = SynapseProcess(path, port)
    process.start(timeout=120)
    return Server(label, process, dbname, qunzu, session)


def stop_server(server: Server, *, keep_database: bool = False) -> None:
    server.process.stop()
    if not keep_database:
        _pg(f"DROP DATABASE IF EXISTS {server.dbname} WITH (FORCE)")


@contextlib.asynccontextmanager
async def server_pair(
    base: Path, *, keep: bool = False, log: Callable[[str], None] = print
) -> AsyncIterator[list[Server]]:
    """A vanilla Synapse and one with Qunzu, stopped (and their databases dropped) afterwards.

    While they run, autovacuum's rules are applied to both databases if the PostgreSQL server
    has autovacuum off, as a production server would (`bench/autovacuum.py`).
    """
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as session:
        servers: list[Server] = []
        try:
            for label, qunzu in (("vanilla", False), ("qunzu", True)):
                servers.append(await asyncio.to_thread(start_server, base, label, qunzu=qunzu, session=session))
            async with autovacuum_stand_in(PG_DSN, lambda: [server.dbname for server in servers], log):
                yield servers
        finally:
            for server in servers:
                await asyncio.to_thread(stop_server, server, keep_database=keep)


# -- setup --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Population:
    """What setup makes on each server; scenarios take accounts from `users` by index."""

    rooms: dict[str, int]  # room name -> members including the owner
    extra_users: int  # accounts not joined anywhere (joiners, creators)

    @property
    def members(self) -> int:
        return max(self.rooms.values(), default=1) - 1

    def only(self, rooms: set[str]) -> Population:
        """The same population with only `rooms` (an `--only` run makes no room it does not use)."""
        return Population({name: size for name, size in self.rooms.items() if name in rooms}, self.extra_users)


async def populate(server: Server, population: Population, log: Callable[[str], None]) -> None:
    """Register, verify and join everyone; rooms are public and owned by a server admin.

    The owner is an admin so that on the Qunzu server no owner level bounds the
    rooms (staff own them); the members are ordinary verified users.
    """
    start = time.monotonic()
    server.admin = await server.register("bench_admin", admin=True)
    await server.register(SERVICE_LOCALPART)  # the bot's account: Qunzu invites it into every room
    count = population.members + population.extra_users
    server.users = await bounded(server.register(f"u{index:05d}") for index in range(count))
    # Two at a time: each verification appends to the audit chain, and on PostgreSQL more
    # concurrent appends exhaust Synapse's five serialization retries (a 500; see ANALYSIS.md).
    await bounded((server.verify(account) for account in server.users), limit=2)
    log(f"{server.label}: {count} accounts registered and verified in {time.monotonic() - start:.0f}s")
    for name, size in population.rooms.items():
        room_id, _ = await server.create_room(server.admin, preset="public_chat", name=f"bench {name}")
        server.rooms[name] = room_id
        await bounded(server.join(account, room_id) for account in server.users[: size - 1])
        log(f"{server.label}: room {name} has {size} members ({time.monotonic() - start:.0f}s)")
    await greeted(server, log)
    await analyzed(server, log)


async def analyzed(server: Server, log: Callable[[str], None]) -> None:
    """Fresh planner statistics after setup's bulk writes, as autovacuum would give them in time.

    Setup writes in minutes what a server gathers over months; until PostgreSQL's autovacuum
    analyzes the tables again, its plans for them are those of nearly empty tables. The first full
    run measured a Qunzu server still on those plans (more rows: greetings, bot chats, the
    network log): Synapse's chain cover index took 85 ms per event instead of 6, which looked like
    Qunzu's cost. Both servers get the same treatment.
    """
    start = time.monotonic()
    await asyncio.to_thread(_pg, "ANALYZE", server.dbname)
    log(f"{server.label}: database analyzed in {time.monotonic() - start:.0f}s")


async def greeted(server: Server, log: Callable[[str], None], limit_s: float = 1800) -> None:
    """Until the Qunzu server has greeted every new account (its bot chat and welcome).

    Registering thousands of accounts in a minute leaves the module minutes of greetings to send
    in the background (two at a time); measuring meanwhile would charge that setup work to the
    scenarios. Vanilla has none.
    """
    if not server.qunzu:
        return
    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        health = await server.ok("GET", "/_synapse/client/qunzu/v1/health", None)
        greetings = health.get("greetings") or {}
        if not greetings.get("waiting") and not greetings.get("greeters"):
            log(f"{server.label}: every account greeted ({time.monotonic() - start:.0f}s after setup)")
            return
        await asyncio.sleep(2)
    raise BenchError(f"{server.label}: greetings still under way after {limit_s:.0f}s")
