"""Measure what registering `check_event_allowed` costs per message in a large room (docs/sanctions.md).

Run: `.venv/bin/python -m tests.e2e.measure_check_event_allowed [members] [messages]`.
Two plain Synapse processes (SQLite, no Qunzu), one with a no-op `check_event_allowed`
module; the same room size and messages; median and p90 send latency for each.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from devtools.homeserver import SynapseProcess, free_port, render_config, sqlite_database

from .conftest import fresh_localpart
from .matrix import Matrix

ROOT = Path(__file__).resolve().parents[2]


async def _measure(server: SynapseProcess, members: int, messages: int) -> list[float]:
    async with aiohttp.ClientSession() as session:
        owner = Matrix(session, server.base_url, server.register(fresh_localpart("owner")))
        room = await owner.new_room(preset="public_chat")
        for _ in range(members):
            person = Matrix(session, server.base_url, server.register(fresh_localpart("m")))
            status, _reply = await person.join(room)
            assert status == 200
        for _ in range(20):  # warm caches
            await owner.send_text(room, "warm")
        times = []
        for index in range(messages):
            start = time.perf_counter()
            status, _reply = await owner.send_text(room, f"message {index}")
            times.append((time.perf_counter() - start) * 1000)
            assert status == 200
        return times


def _server(base: Path, modules: list[dict[str, Any]]) -> SynapseProcess:
    data = base / f"hs-{len(list(base.iterdir()))}"
    port = free_port()
    path = render_config(data, port=port, database=sqlite_database(data / "homeserver.db"), modules=modules)
    return SynapseProcess(path, port)


async def main(members: int, messages: int) -> None:
    # Synapse runs in its data directory: let it import devtools.noop_event_rules from here.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for label, modules in (
            ("without check_event_allowed", []),
            (
                "with a no-op check_event_allowed",
                [{"module": "devtools.noop_event_rules.NoopEventRules", "config": {}}],
            ),
        ):
            server = _server(base, modules)
            server.start()
            try:
                times = sorted(await _measure(server, members, messages))
            finally:
                server.stop()
            p50 = statistics.median(times)
            p90 = times[int(len(times) * 0.9)]
            print(f"{label}: {members} members, {messages} sends: p50 {p50:.2f} ms, p90 {p90:.2f} ms")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 500, int(sys.argv[2]) if len(sys.argv) > 2 else 300))
