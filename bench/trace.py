"""`python -m bench.trace`: the database transactions one request costs, vanilla Synapse vs Qunzu.

    python -m bench.trace                      # send, join and create, 20 of each
    python -m bench.trace --ops join --count 40

Latency tables say how much slower a request is; this says where the difference goes. Both
servers of `server_pair` log `synapse.storage.txn` at DEBUG (one line per transaction, with the
request it ran for). Each operation runs `count` times one after another; only the transactions
of those requests are counted (`PUT-…`, `POST-…`), and the same transactions counted over an
equally long idle window just after are taken off, so background jobs that happen to tick meanwhile
do not count. The answer is a table per operation: transactions per request on each server and
the difference, largest first. Transactions run on Synapse's thread pool one at a time per
connection, so on the request path each costs a round trip to the database.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path

import yaml

from .harness import Server, greeted, server_pair

OPERATIONS = ("send", "join", "create")
# "2026-12-05 22:11:48,056 synapse.storage.txn DEBUG POST-16 [TXN START] {get_users_in_room-3a}"
_TXN = re.compile(r" (?P<request>[A-Z]+-\d+) \[TXN START\] \{(?P<name>[^}]+)\}")
# A transaction's description ends in a per-process counter (hexadecimal): the same name is one row.
_COUNTER = re.compile(r"-[0-9a-f]+$")
SETTLE_S = 20.0  # after setup: the follower, greetings and first job runs are done


def request_transactions(log_text: str, methods: Iterable[str]) -> collections.Counter[str]:
    """Transactions by name that ran for requests of the given HTTP methods."""
    wanted = tuple(f"{method}-" for method in methods)
    counts: collections.Counter[str] = collections.Counter()
    for match in _TXN.finditer(log_text):
        if match["request"].startswith(wanted):
            counts[_COUNTER.sub("", match["name"])] += 1
    return counts


def per_request(measured: Mapping[str, int], idle: Mapping[str, int], requests: int) -> dict[str, float]:
    """Transactions per request: the measured window less the idle one, divided by the requests."""
    names = set(measured) | set(idle)
    return {name: (measured.get(name, 0) - idle.get(name, 0)) / requests for name in names}


def difference_table(vanilla: Mapping[str, float], qunzu: Mapping[str, float], *, at_least: float = 0.05) -> str:
    """Rows `qunzu vanilla name`, the largest difference first; the totals on top."""
    lines = [
        f"{'qunzu':>7} {'vanilla':>7}  transaction",
        f"{sum(qunzu.values()):7.2f} {sum(vanilla.values()):7.2f}  (all)",
    ]
    names = sorted(set(vanilla) | set(qunzu), key=lambda name: -(qunzu.get(name, 0) - vanilla.get(name, 0)))
    for name in names:
        if abs(qunzu.get(name, 0) - vanilla.get(name, 0)) >= at_least:
            lines.append(f"{qunzu.get(name, 0):7.2f} {vanilla.get(name, 0):7.2f}  {name}")
    return "\n".join(lines)


def log_transactions(server: Server) -> None:
    """Have `server` log every database transaction (`synapse.storage.txn` at DEBUG) from its next start."""
    path = server.process.config_path.parent / "log.yaml"
    config = yaml.safe_load(path.read_text())
    config["loggers"]["synapse.storage.txn"] = {"level": "DEBUG"}
    path.write_text(yaml.safe_dump(config))


async def _prepare(server: Server, count: int) -> Callable[[str], Awaitable[None]]:
    """Accounts and a room on `server`; returns the function that runs operation `op` once."""
    owner = await server.register("owner")
    await server.verify(owner)
    room_id, _ = await server.create_room(owner, preset="public_chat")
    joiners = [await server.register(f"joiner{i}") for i in range(count)]
    creators = [await server.register(f"creator{i}") for i in range(count)]
    for account in (*joiners, *creators):
        await server.verify(account)
    member = await server.register("member")
    await server.verify(member)
    await server.join(member, room_id)
    # Each account has made a request before: the access token's first use costs transactions of its own.
    for account in (*joiners, *creators):
        await server.ok("GET", "/_matrix/client/v3/account/whoami", account.access_token)
    left = {"join": list(joiners), "create": list(creators)}

    async def run(op: str) -> None:
        if op == "send":
            await server.send(member, room_id, "今天的会议改到下午三点")
        elif op == "join":
            await server.join(left["join"].pop(), room_id)
        else:
            await server.create_room(left["create"].pop(), preset="public_chat", name="新群")

    return run


async def _measure(server: Server, run: Callable[[str], Awaitable[None]], op: str, count: int) -> dict[str, float]:
    log = server.process.config_path.parent / "homeserver.log"
    methods = ("PUT",) if op == "send" else ("POST",)
    start = log.stat().st_size
    began = time.monotonic()
    for _ in range(count):
        await run(op)
    await asyncio.sleep(1)
    took = time.monotonic() - began
    middle = log.stat().st_size
    await asyncio.sleep(took)
    text = log.read_bytes().decode(errors="replace")
    measured = request_transactions(text[start:middle], methods)
    idle = request_transactions(text[middle:], methods)
    return per_request(measured, idle, count)


async def trace(ops: list[str], count: int) -> str:
    """Run each operation `count` times on both servers; the tables, one per operation."""
    with tempfile.TemporaryDirectory(prefix="qunzu-trace-") as base:
        async with server_pair(Path(base)) as servers:
            for server in servers:
                log_transactions(server)
                server.process.stop()
                server.process.start(timeout=120)
            runners = [await _prepare(server, count) for server in servers]
            for server in servers:
                await greeted(server, print)
            await asyncio.sleep(SETTLE_S)
            tables = []
            for op in ops:
                vanilla, qunzu = [await _measure(s, run, op, count) for s, run in zip(servers, runners, strict=True)]
                tables.append(
                    f"## {op} (transactions per request, {count} requests)\n{difference_table(vanilla, qunzu)}"
                )
            return "\n\n".join(tables)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.trace", description="Transactions per request, vanilla vs Qunzu."
    )
    parser.add_argument("--ops", default=",".join(OPERATIONS), help="comma separated: send, join, create")
    parser.add_argument("--count", type=int, default=20, help="requests of each operation (at most 50)")
    args = parser.parse_args()
    ops = [op for op in args.ops.split(",") if op]
    unknown = set(ops) - set(OPERATIONS)
    if unknown or not 1 <= args.count <= 50:
        parser.error(f"--ops takes {', '.join(OPERATIONS)}; --count 1 to 50")
    print(asyncio.run(trace(ops, args.count)))


if __name__ == "__main__":
    main()
