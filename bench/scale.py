"""Scenarios of scale: a 3,000-member room, and main + 2 generic workers on PostgreSQL + Redis.

Both reuse what setup made on the pair of servers (accounts, tokens, rooms):

- `send_huge` grows the large room to the huge tier's ceiling and measures sends
  there (run it after the scenarios that need the 2,000-member room);
- `scale_out` stops the two single-process servers, starts each as a cluster
  (`devtools.workers.render_cluster`) on the same database, keys and secrets,
  measures through the workers, then starts the single processes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import shutil
import statistics
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import yaml

from devtools.homeserver import free_port, module_block, terminate
from devtools.workers import Cluster, render_cluster

from .harness import Server, alternate, analyzed, bench_database, bounded, greeted, summary
from .scenarios import FILLER, Bench, Result, Scenario, grant_huge, send_throughput, value_range

# -- 1b. send throughput at the huge tier's ceiling --------------------------------------


async def _grow(server: Server, room_id: str, members: int, have: int, log: Any) -> None:
    """Register, verify and join accounts until the room holds `members` (it holds `have`).

    On the Qunzu server staff grant the room the huge tier first (the large tier's cap is
    2,000); rooms of that tier admit by invite or knock, so each newcomer is invited.
    Vanilla joins them straight into the public room. None of this is timed.
    """
    start = time.monotonic()
    await grant_huge(server, room_id)
    count = members - have
    accounts = await bounded(server.register(f"h{index:05d}") for index in range(count))
    await bounded((server.verify(account) for account in accounts), limit=2)  # audit chain: see harness.populate

    async def enter(account: Any) -> None:
        if server.qunzu:
            await server.invite(account, room_id)
        await server.join(account, room_id)

    await bounded(enter(account) for account in accounts)
    server.users.extend(accounts)
    log(f"{server.label}: room grown to {members} members in {time.monotonic() - start:.0f}s")
    await greeted(server, log)
    await analyzed(server, log)


async def send_huge(bench: Bench, scenario: Scenario) -> Result:
    """Scenario 1's send throughput after the room has grown to `members`."""
    params = scenario.params
    room = params["room"]
    have = bench.population.rooms[room]
    await asyncio.gather(
        *(_grow(server, server.rooms[room], params["members"], have, bench.log) for server in bench.servers)
    )
    result = await send_throughput(bench, scenario)
    result.note = (
        f"the {have:,}-member room of scenario 1 grown to {params['members']:,} (Qunzu: staff granted the huge "
        "tier, newcomers invited); same senders and rounds"
    )
    return result


# -- 7. main + 2 generic workers ----------------------------------------------------------


@contextlib.contextmanager
def _redis() -> Iterator[int]:
    """A Redis of its own for one cluster: both clusters keep the server name `localhost`,
    and Redis pub/sub channels are shared across a server's databases."""
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip() != b"PONG":
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"redis-server on port {port} did not start")
            time.sleep(0.1)
        yield port
    finally:
        terminate(process)


def _cluster_of(server: Server, redis_port: int, workers: int) -> Cluster:
    """The server's database, keys and secrets as main + `workers` generic workers."""
    source = server.process.config_path.parent
    data_dir = source / "cluster"
    data_dir.mkdir(parents=True, exist_ok=True)
    for name in ("secrets.json", "signing.key", "qunzu.key"):
        shutil.copy2(source / name, data_dir / name)
    modules: list[dict[str, Any]] = []
    if server.qunzu:
        modules = [module_block(data_dir, policy_file=str(source / "policy.yaml"))]
    cluster = render_cluster(
        data_dir,
        database=bench_database(server.dbname),
        workers=workers,
        modules=modules,
        redis_port=redis_port,
        server_name="localhost",
    )
    # INFO everywhere, as on the single processes (devtools logs Qunzu at DEBUG).
    for log_yaml in [data_dir / "log.yaml", *(data_dir / name / "log.yaml" for name in cluster.workers)]:
        config = yaml.safe_load(log_yaml.read_text())
        config.setdefault("loggers", {}).setdefault("synapse_module", {})["level"] = "INFO"
        log_yaml.write_text(yaml.safe_dump(config))
    return cluster


_ACCESS = re.compile(
    r"Processed request: [\d.]+sec/[\d.]+sec ru=\(([\d.]+)sec, ([\d.]+)sec\) db=\([\d.]+sec/([\d.]+)sec/(\d+)\)"
    r'.*"(\w+) (\S+) HTTP'
)


def _access_costs(cluster: Cluster, method: str, fragment: str) -> dict[str, float]:
    """Per-request costs the workers' access logs give for `method` requests whose path holds `fragment`:
    median CPU (ms, user + system), time waiting for a database connection (ms) and transactions. Unlike wall time these
    hardly move with other load on the machine."""
    cpu, db, txns = [], [], []
    for name in cluster.workers:
        for line in cluster.log_path(name).read_text(errors="replace").splitlines():
            match = _ACCESS.search(line)
            if match and match.group(5) == method and fragment in match.group(6):
                cpu.append((float(match.group(1)) + float(match.group(2))) * 1000)
                db.append(float(match.group(3)) * 1000)
                txns.append(float(match.group(4)))
    if not cpu:
        return {"n": 0}
    return {
        "n": len(cpu),
        "cpu_ms": statistics.median(cpu),
        "db_wait_ms": statistics.median(db),
        "txns": statistics.median(txns),
    }


@dataclasses.dataclass
class _Routed:
    """One cluster as the clients see it: each account's requests stick to one worker."""

    label: str
    via: list[Server]  # one Server view per worker, same accounts and rooms
    main: Server

    def worker_for(self, slot: int) -> Server:
        return self.via[slot % len(self.via)]


async def scale_out(bench: Bench, scenario: Scenario) -> Result:
    """Send throughput and join latency through 2 generic workers, vanilla vs Qunzu clusters."""
    params = scenario.params
    room = params["room"]
    joiners = bench.take_extra(params["joins_per_round"] * params["rounds"])
    for server in bench.servers:
        await grant_huge(server, server.rooms[room])  # as in scenario 2
    with contextlib.ExitStack() as stack:
        clusters: dict[str, Cluster] = {}
        for server in bench.servers:
            redis_port = stack.enter_context(_redis())
            clusters[server.label] = _cluster_of(server, redis_port, params["workers"])
        started = time.monotonic()
        await asyncio.gather(*(asyncio.to_thread(server.process.stop) for server in bench.servers))
        try:
            # One cluster at a time: six Synapse processes starting at once on two cores time out.
            for cluster in clusters.values():
                await asyncio.to_thread(cluster.start, 180)
            bench.log(f"scale_out: both clusters up in {time.monotonic() - started:.0f}s")
            routed = {
                server.label: _Routed(
                    server.label,
                    [
                        dataclasses.replace(server, process=process)
                        for process in clusters[server.label].workers.values()
                    ],
                    dataclasses.replace(server, process=clusters[server.label].main),
                )
                for server in bench.servers
            }
            result = await _measure_cluster(bench, scenario, routed, joiners)
            costs = {
                label: {
                    "join": await asyncio.to_thread(_access_costs, cluster, "POST", "/join/"),
                    "send": await asyncio.to_thread(_access_costs, cluster, "PUT", "/send/m.room.message/"),
                }
                for label, cluster in clusters.items()
            }
            result.raw["access_log"] = costs
            vanilla, qunzu = costs["vanilla"], costs["qunzu"]
            if vanilla["join"]["n"] and qunzu["join"]["n"]:
                result.note += (
                    f"; per join on the workers (access log, medians): CPU {vanilla['join']['cpu_ms']:.1f} → "
                    f"{qunzu['join']['cpu_ms']:.1f} ms, waiting for a database connection "
                    f"{vanilla['join']['db_wait_ms']:.1f} → "
                    f"{qunzu['join']['db_wait_ms']:.1f} ms, in {vanilla['join']['txns']:.0f} → "
                    f"{qunzu['join']['txns']:.0f} transactions; per send CPU {vanilla['send']['cpu_ms']:.1f} → "
                    f"{qunzu['send']['cpu_ms']:.1f} ms"
                )
        finally:
            for cluster in clusters.values():
                await asyncio.to_thread(cluster.stop)
            await asyncio.gather(*(asyncio.to_thread(server.process.start, 120) for server in bench.servers))
    result.raw["cluster_overhead_s"] = time.monotonic() - started
    return result


async def _measure_cluster(bench: Bench, scenario: Scenario, routed: dict[str, _Routed], joiners: range) -> Result:
    params = scenario.params
    room, senders, seconds, per_round = params["room"], params["senders"], params["seconds"], params["joins_per_round"]
    # `alternate` takes servers; the workers' first view stands for each cluster.
    stand_ins = [cluster.via[0] for cluster in routed.values()]

    def cluster_of(server: Server) -> _Routed:
        return routed[server.label]

    for cluster in routed.values():  # warm every worker's caches of the room
        await asyncio.gather(
            *(
                cluster.worker_for(s).send(cluster.main.users[s], cluster.main.rooms[room], "warm")
                for s in range(senders * 2)
            )
        )

    async def sends(server: Server, index: int) -> float:
        cluster = cluster_of(server)
        room_id = server.rooms[room]
        deadline = time.perf_counter() + seconds
        counts = [0] * senders

        async def sender(slot: int) -> None:
            via, account = cluster.worker_for(slot), server.users[slot]
            while time.perf_counter() < deadline:
                await via.send(account, room_id, f"{index}/{slot}/{counts[slot]} {FILLER}")
                counts[slot] += 1

        start = time.perf_counter()
        await asyncio.gather(*(sender(slot) for slot in range(senders)))
        return sum(counts) / (time.perf_counter() - start)

    async def joins(server: Server, index: int) -> list[float]:
        cluster = cluster_of(server)
        room_id = server.rooms[room]
        times = []
        for offset, user_index in enumerate(joiners[index * per_round : (index + 1) * per_round]):
            via, account = cluster.worker_for(offset), server.users[user_index]
            await via.invite(account, room_id)
            times.append(await via.join(account, room_id))
            await via.leave(account, room_id)
        return times

    rates = await alternate(stand_ins, params["rounds"], sends)
    times = await alternate(stand_ins, params["rounds"], joins)
    baseline, qunzu = statistics.median(rates["vanilla"]), statistics.median(rates["qunzu"])
    flat = {label: [t for batch in runs for t in batch] for label, runs in times.items()}
    stats = {label: summary(values) for label, values in flat.items()}
    added_p50 = stats["qunzu"]["p50"] - stats["vanilla"]["p50"]
    ratio = qunzu / baseline
    return Result(
        scenario.key,
        scenario.title,
        "events/s",
        baseline,
        qunzu,
        scenario.target,
        ratio >= params["min_ratio"] and added_p50 <= params["max_added_ms"],
        params["rounds"],
        f"vanilla {value_range(rates['vanilla'])}, Qunzu {value_range(rates['qunzu'])} events/s; "
        f"join p50 {stats['vanilla']['p50']:.1f} → {stats['qunzu']['p50']:.1f} ms",
        f"main + {params['workers']} generic workers per cluster on PostgreSQL + its own Redis, the "
        f"single-process servers' databases; {senders} senders, each sticking to one worker; joins through the "
        f"workers, added p50 {added_p50:+.1f} ms (p95 {stats['vanilla']['p95']:.1f} → "
        f"{stats['qunzu']['p95']:.1f} ms), {per_round} per round; Qunzu's event follower on the background "
        "worker (worker1), its callbacks on every process",
        raw={"rates": rates, "times": times, "stats": stats, "added_p50": added_p50, **params},
    )


HUGE_ROOM = 3000


def scale_scenarios(quick: bool, send: dict[str, Any]) -> list[Scenario]:
    """The scale rows, after every other scenario: `send_3000` grows the large room for good."""
    return [
        Scenario(
            "scale_out",
            "7. Main + 2 generic workers (PostgreSQL + Redis), 2,000-member room",
            scale_out,
            {
                "room": "large",
                "workers": 2,
                "senders": 4,
                "seconds": send["seconds"],
                "rounds": send["rounds"] if quick else 4,
                "joins_per_round": 5 if quick else 10,
                "min_ratio": 0.95,
                "max_added_ms": 2.0,
            },
            "send ratio ≥ 0.95; join ≤ 2 ms added at p50",
        ),
        Scenario(
            "send_3000",
            "1. Send throughput, 4 senders, 3,000-member room (huge tier's ceiling)",
            send_huge,
            {"room": "large", "members": 150 if quick else HUGE_ROOM, **send},
            "ratio ≥ 0.95",
        ),
    ]
