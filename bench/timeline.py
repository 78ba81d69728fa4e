"""`python -m bench.timeline`: where the time of one join goes, vanilla Synapse vs Qunzu, step by step.

    python -m bench.timeline                       # 60 invited joins into a 41-member room
    python -m bench.timeline --no-greeting         # the same with greet_new_accounts: false

`bench.trace` counts a request's transactions; this times them. Both servers of `server_pair`
log `synapse.storage.txn` at DEBUG. A public room at the huge tier gets its members, then each
joiner is invited (untimed), joins (timed) and leaves, the two servers taking turns join by join,
so that the machine's drift falls on both. For every join request, each gap between two
consecutive log lines of that request is named by the two lines (a transaction's name, without
its per-process counter; the nth time it occurs in the request); the table lists, per gap, its
median on each server weighted by how often it occurs, largest difference first. A gap only Qunzu
has is a step Qunzu added; a gap both have but Qunzu's is longer is Synapse's own work taking
longer on the Qunzu server.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime
import re
import statistics
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from devtools.homeserver import Account

from .harness import Server, greeted, server_pair
from .scenarios import grant_huge
from .trace import SETTLE_S, log_transactions

JOIN_PATH = "/_matrix/client/v3/join/"
# "2026-12-05 22:11:48,056 synapse.storage.txn DEBUG POST-16 [TXN START] {get_users_in_room-3a}"
_LINE = re.compile(r"^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \S+ \S+ (?P<request>[A-Z]+-\d+) (?P<message>.*)$")
_COUNTER = re.compile(r"-[0-9a-f]+\}")
_DURATION = re.compile(r" [\d.]+ sec$")

Gap = tuple[str, str]


def join_requests(log_text: str) -> set[str]:
    """The ids of the join requests Synapse finished in this log (`POST-12`, …)."""
    matches = (_LINE.match(line) for line in log_text.splitlines())
    return {
        match.group("request")
        for match in matches
        if match is not None
        and "Processed request" in match.group("message")
        and f"POST {JOIN_PATH}" in match.group("message")
    }


def _step(message: str) -> str:
    if "Processed request" in message:
        return "(answered)"
    return _DURATION.sub("", _COUNTER.sub("}", message))[:100]


def gaps(log_text: str, requests: set[str]) -> dict[Gap, list[float]]:
    """Milliseconds between consecutive log lines of each request in `requests`, by the pair of lines."""
    lines: dict[str, list[tuple[datetime.datetime, str]]] = collections.defaultdict(list)
    for raw in log_text.splitlines():
        match = _LINE.match(raw)
        if match is None or match.group("request") not in requests:
            continue
        when = datetime.datetime.strptime(match.group("ts"), "%Y-%m-%d %H:%M:%S,%f")
        lines[match.group("request")].append((when, _step(match.group("message"))))
    found: dict[Gap, list[float]] = collections.defaultdict(list)
    for steps in lines.values():
        seen: collections.Counter[str] = collections.Counter()
        previous, previous_at = "(first line)", steps[0][0]
        for when, step in steps:
            seen[step] += 1
            name = step if seen[step] == 1 else f"{step} #{seen[step]}"
            found[(previous, name)].append((when - previous_at).total_seconds() * 1000)
            previous, previous_at = name, when
    return found


def gap_table(vanilla: Mapping[Gap, list[float]], qunzu: Mapping[Gap, list[float]], requests: int, rows: int) -> str:
    """Per gap: the median on each server times the share of requests that have it, largest difference first."""

    def weighted(found: Mapping[Gap, list[float]], gap: Gap) -> float:
        values = found.get(gap, [])
        return statistics.median(values) * len(values) / requests if values else 0.0

    table = sorted(
        ((weighted(qunzu, gap) - weighted(vanilla, gap), weighted(vanilla, gap), weighted(qunzu, gap), gap))
        for gap in set(vanilla) | set(qunzu)
    )
    lines = ["   added   vanilla    qunzu  from → to"]
    for added, on_vanilla, on_qunzu, (first, then) in sorted(table, reverse=True)[:rows]:
        lines.append(f"{added:+7.1f} {on_vanilla:9.1f} {on_qunzu:8.1f}  {first} → {then}")
    return "\n".join(lines)


async def _room_with_joiners(server: Server, members: int, joiners: int) -> tuple[str, list[Account]]:
    server.admin = await server.register("boss", admin=True)
    await server.verify(server.admin)
    room_id, _ = await server.create_room(server.admin, preset="public_chat", name="大群")
    for index in range(members):
        member = await server.register(f"member{index}")
        await server.verify(member)
        await server.join(member, room_id)
    await grant_huge(server, room_id)
    accounts = []
    for index in range(joiners):
        joiner = await server.register(f"joiner{index}")
        await server.verify(joiner)
        # The access token's first use costs transactions of its own.
        await server.ok("GET", "/_matrix/client/v3/account/whoami", joiner.access_token)
        accounts.append(joiner)
    return room_id, accounts


def _without_greeting(server: Server) -> None:
    path = server.process.config_path
    config = yaml.safe_load(path.read_text())
    config["modules"][0]["config"]["greet_new_accounts"] = False
    path.write_text(yaml.safe_dump(config, allow_unicode=True))


async def timeline(count: int, members: int, *, greeting: bool, rows: int = 25) -> str:
    """Time `count` invited joins on both servers, turn by turn; the added p50 and the gap table."""
    with tempfile.TemporaryDirectory(prefix="qunzu-timeline-") as base:
        async with server_pair(Path(base)) as servers:
            for server in servers:
                log_transactions(server)
                if server.qunzu and not greeting:
                    _without_greeting(server)
                server.process.stop()
                server.process.start(timeout=120)
            prepared = [await _room_with_joiners(server, members, count) for server in servers]
            for server in servers:
                await greeted(server, print)
            await asyncio.sleep(SETTLE_S)
            logs = [server.process.config_path.parent / "homeserver.log" for server in servers]
            starts = [log.stat().st_size for log in logs]
            times: list[list[float]] = [[] for _ in servers]
            for index in range(count):
                for position, (server, (room_id, joiners)) in enumerate(zip(servers, prepared, strict=True)):
                    await server.invite(joiners[index], room_id)
                    times[position].append(await server.join(joiners[index], room_id))
                    await server.leave(joiners[index], room_id)
            texts = [log.read_bytes()[start:].decode(errors="replace") for log, start in zip(logs, starts, strict=True)]
    found = [gaps(text, join_requests(text)) for text in texts]
    vanilla_p50, qunzu_p50 = (statistics.median(values) for values in times)
    head = (
        f"## join, {count} invited joins into a {members + 1}-member room at the huge tier"
        f"{'' if greeting else ', greet_new_accounts: false'}\n"
        f"client p50: vanilla {vanilla_p50:.1f} ms, Qunzu {qunzu_p50:.1f} ms, added {qunzu_p50 - vanilla_p50:+.1f} ms\n"
    )
    return head + gap_table(found[0], found[1], count, rows)


def _positive(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 200:
        raise argparse.ArgumentTypeError("1 to 200")
    return value


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.timeline", description="Where a join's time goes.")
    parser.add_argument("--count", type=_positive, default=60, help="joins on each server (1 to 200)")
    parser.add_argument("--members", type=_positive, default=40, help="members besides the owner (1 to 200)")
    parser.add_argument("--no-greeting", action="store_true", help="the Qunzu server with greet_new_accounts: false")
    args = parser.parse_args(list(argv) if argv is not None else None)
    print(asyncio.run(timeline(args.count, args.members, greeting=not args.no_greeting)))


if __name__ == "__main__":
    main()
