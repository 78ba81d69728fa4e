"""The scenarios of `make bench`: one function per kind, the list of runs as data (`SCENARIOS`)."""

from __future__ import annotations

import asyncio
import json
import random
import re
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg2
import yaml

from devtools.homeserver import SERVER_NAME, SERVICE_LOCALPART, Account, terminate
from policies import load_policy_from_mapping
from policies.constants import DAY_MS
from policies.content import Matcher, TermList

from .harness import API, BENCH_POLICY, PG_DSN, BenchError, Population, Server, alternate, bounded, percentile, summary

FILLER = "今天的会议改到下午三点，请大家准时参加。The build is green again, thanks for the quick fix! "


@dataclass
class Bench:
    """The running servers and the accounts setup left for the scenarios."""

    servers: list[Server]
    population: Population
    log: Callable[[str], None]
    _next_extra: int = 0

    def take_extra(self, count: int) -> range:
        """Indexes of `count` accounts (same on both servers) not used by another scenario yet."""
        start = self.population.members + self._next_extra
        self._next_extra += count
        if self._next_extra > self.population.extra_users:
            raise ValueError("the population has too few extra accounts for the scenarios")
        return range(start, start + count)


@dataclass
class Result:
    """One row of RESULTS.md, with everything measured kept for the raw JSON."""

    key: str
    title: str
    unit: str
    baseline: float | None
    qunzu: float | None
    target: str
    met: bool | None
    runs: int
    spread: str
    note: str = ""
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.qunzu is None or self.baseline == 0:
            return None
        return self.qunzu / self.baseline


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    run: Callable[[Bench, Scenario], Awaitable[Result]]
    params: Mapping[str, Any]
    target: str
    # False for a scenario that measures in this process only: a run of such scenarios
    # alone starts no server and fills no room.
    servers: bool = True


def failed(scenario: Scenario, error: Exception) -> Result:
    """The row of a scenario that could not finish (its traceback is in the run's log)."""
    return Result(scenario.key, scenario.title, "—", None, None, scenario.target, False, 0, "—", f"failed: {error!r}")


def value_range(values: list[float], fmt: str = "{:.1f}") -> str:
    """The lowest and highest of `values`, as `low–high` each formatted with `fmt`."""
    return f"{fmt.format(min(values))}–{fmt.format(max(values))}"


# -- 1. send throughput ------------------------------------------------------------------


async def send_throughput(bench: Bench, scenario: Scenario) -> Result:
    """Events/s with `senders` concurrent senders into a populated room, `seconds` per round."""
    params = scenario.params
    room, senders, seconds = params["room"], params["senders"], params["seconds"]

    async def measure(server: Server, index: int) -> float:
        room_id = server.rooms[room]
        deadline = time.perf_counter() + seconds
        counts = [0] * senders

        async def sender(slot: int) -> None:
            account = server.users[slot]
            while time.perf_counter() < deadline:
                await server.send(account, room_id, f"{index}/{slot}/{counts[slot]} {FILLER}")
                counts[slot] += 1

        start = time.perf_counter()
        await asyncio.gather(*(sender(slot) for slot in range(senders)))
        return sum(counts) / (time.perf_counter() - start)

    for server in bench.servers:  # warm Synapse's caches of the room
        await asyncio.gather(*(server.send(server.users[s], server.rooms[room], "warm") for s in range(senders)))
    rates = await alternate(bench.servers, params["rounds"], measure)
    baseline, qunzu = statistics.median(rates["vanilla"]), statistics.median(rates["qunzu"])
    return Result(
        scenario.key,
        scenario.title,
        "events/s",
        baseline,
        qunzu,
        scenario.target,
        qunzu / baseline >= params["min_ratio"],
        len(rates["qunzu"]),
        f"vanilla {value_range(rates['vanilla'])}, Qunzu {value_range(rates['qunzu'])} events/s",
        raw={"rates": rates, **params},
    )


# -- 2. join latency ---------------------------------------------------------------------


async def join_latency(bench: Bench, scenario: Scenario) -> Result:
    """Sequential joins of invited, verified users into a populated room; each leaves again (untimed)."""
    params = scenario.params
    room, per_round, rounds = params["room"], params["per_round"], params["rounds"]
    joiners = bench.take_extra(per_round * rounds)
    for server in bench.servers:
        await grant_huge(server, server.rooms[room])

    async def measure(server: Server, index: int) -> list[float]:
        accounts = [server.users[i] for i in joiners[index * per_round : (index + 1) * per_round]]
        times = []
        for account in accounts:
            # Invited first (untimed) on both servers: rooms of the huge tier admit by invite or knock.
            await server.invite(account, server.rooms[room])
            times.append(await server.join(account, server.rooms[room]))
            await server.leave(account, server.rooms[room])  # the room stays at its size
        return times

    times = await alternate(bench.servers, rounds, measure)
    flat = {label: [t for batch in runs for t in batch] for label, runs in times.items()}
    stats = {label: summary(values) for label, values in flat.items()}
    added_p50 = stats["qunzu"]["p50"] - stats["vanilla"]["p50"]
    added_p95 = stats["qunzu"]["p95"] - stats["vanilla"]["p95"]
    medians = {label: [statistics.median(batch) for batch in runs] for label, runs in times.items()}
    return Result(
        scenario.key,
        scenario.title,
        "ms (p50)",
        stats["vanilla"]["p50"],
        stats["qunzu"]["p50"],
        scenario.target,
        added_p50 <= params["max_added_ms"],
        rounds,
        f"round p50s: vanilla {value_range(medians['vanilla'])}, Qunzu {value_range(medians['qunzu'])} ms",
        f"added p50 {added_p50:+.1f} ms, added p95 {added_p95:+.1f} ms "
        f"(p95 {stats['vanilla']['p95']:.1f} → {stats['qunzu']['p95']:.1f} ms), {per_round} joins per round",
        raw={"times": times, "stats": stats, **params},
    )


async def grant_huge(server: Server, room_id: str) -> None:
    """Staff lift the room's cap to the huge tier (Qunzu only).

    A join that is left again keeps its place held for a minute (the guarded join check's
    reservation), so join-and-leave rounds at 1,998 members would hit the 2,000 cap
    (bench/ANALYSIS.md). Granting the tier changes the cap, not the work of the check.
    """
    if not server.qunzu or server.admin is None:
        return
    token = server.admin.access_token
    group = await server.ok("GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/state/cn.qunzu.group", token)
    body = {"tier": "huge", "reason": "benchmark: join latency at 2,000 members"}
    await server.ok("POST", f"{API}/admin/groups/{group['code']}/tier", token, body)


# -- 3. room creation --------------------------------------------------------------------


async def room_creation(bench: Bench, scenario: Scenario) -> Result:
    """Sequential createRoom calls; each round's creator is a fresh verified user (caps are per creator)."""
    params = scenario.params
    per_round, rounds = params["per_round"], params["rounds"]
    creators = bench.take_extra(rounds)

    async def measure(server: Server, index: int) -> list[float]:
        creator = server.users[creators[index]]
        body = {"preset": "private_chat", "name": "bench", "topic": "room creation benchmark"}
        return [(await server.create_room(creator, **body))[1] for _ in range(per_round)]

    times = await alternate(bench.servers, rounds, measure)
    flat = {label: [t for batch in runs for t in batch] for label, runs in times.items()}
    stats = {label: summary(values) for label, values in flat.items()}
    medians = {label: [statistics.median(batch) for batch in runs] for label, runs in times.items()}
    added = stats["qunzu"]["p50"] - stats["vanilla"]["p50"]
    return Result(
        scenario.key,
        scenario.title,
        "ms (p50)",
        stats["vanilla"]["p50"],
        stats["qunzu"]["p50"],
        scenario.target,
        added <= params["max_added_ms"],
        rounds,
        f"round p50s: vanilla {value_range(medians['vanilla'])}, Qunzu {value_range(medians['qunzu'])} ms",
        f"added p50 {added:+.1f} ms (p95 {stats['vanilla']['p95']:.1f} → {stats['qunzu']['p95']:.1f} ms); "
        "Qunzu adds the code reservation, the group state, the alias and the bot's invite",
        raw={"times": times, "stats": stats, **params},
    )


# -- 4. content matcher ------------------------------------------------------------------


def _terms(rng: random.Random, count: int) -> list[str]:
    """Synthetic term list: 70 % Chinese terms of 2–4 characters, 30 % Latin words."""
    terms: set[str] = set()
    while len(terms) < count:
        if rng.random() < 0.7:
            terms.add("".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(rng.randrange(2, 5))))
        else:
            terms.add("".join(chr(rng.randrange(97, 123)) for _ in range(rng.randrange(4, 11))))
    return sorted(terms)


def _messages(rng: random.Random, terms: list[str], count: int, size: int) -> list[str]:
    """`count` messages of `size` UTF-8 bytes, mixed Chinese and English; one in a hundred holds a term."""
    words = [FILLER[i : i + 7] for i in range(0, len(FILLER), 7)]
    messages = []
    for index in range(count):
        parts: list[str] = []
        if index % 100 == 0:
            parts.append(rng.choice(terms) + " ")
        while len(" ".join(parts).encode()) < size:
            parts.append(rng.choice(words))
        text = " ".join(parts)
        while len(text.encode()) > size:
            text = text[:-1]
        messages.append(text)
    return messages


def _rate(scan: Callable[[str], object], messages: list[str], seconds: float) -> float:
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for message in messages:
            scan(message)
        done += len(messages)
    return done / (time.perf_counter() - start)


async def content_matcher(bench: Bench, scenario: Scenario) -> Result:
    """Messages/s on one core: Qunzu's matcher vs a regex alternation of the same terms vs no filter."""
    params = scenario.params
    rng = random.Random(10)
    terms = _terms(rng, params["terms"])
    messages = _messages(rng, terms, params["messages"], params["bytes"])
    start = time.perf_counter()
    matcher = Matcher([TermList("bench", "block", tuple(terms))])
    build_s = time.perf_counter() - start
    regex = re.compile("|".join(re.escape(term) for term in sorted(terms, key=len, reverse=True)))
    hits = sum(matcher.scan(m) is not None for m in messages)
    variants: dict[str, Callable[[str], object]] = {
        "none": lambda text: None,
        "regex": lambda text: regex.search(text.lower()),
        "qunzu": matcher.scan,
    }
    rates: dict[str, list[float]] = {name: [] for name in variants}
    for index in range(params["rounds"]):
        names = list(variants) if index % 2 == 0 else list(reversed(variants))
        for name in names:
            sample = messages if name != "regex" else messages[: params["regex_messages"]]
            rates[name].append(await asyncio.to_thread(_rate, variants[name], sample, params["seconds"]))
    baseline, qunzu = statistics.median(rates["regex"]), statistics.median(rates["qunzu"])
    return Result(
        scenario.key,
        scenario.title,
        "messages/s/core",
        baseline,
        qunzu,
        scenario.target,
        qunzu >= params["min_rate"],
        params["rounds"],
        f"Qunzu {value_range(rates['qunzu'], '{:,.0f}')}, regex {value_range(rates['regex'], '{:,.0f}')}",
        f"baseline = one regex alternation of the same terms (no normalisation); no filter "
        f"{statistics.median(rates['none']):,.0f}/s; {hits} of {len(messages)} messages hit; "
        f"automaton built in {build_s:.2f}s",
        raw={"rates": rates, "build_s": build_s, "hits": hits, **params},
    )


# -- 5. retention purge ------------------------------------------------------------------

_INSERT_EXPIRING_ROWS = """
INSERT INTO qunzu_netlog (id, kind, ts, user_id, room_id, event_type, content_enc)
SELECT 'bench:' || g, 'message',
       %(first_expiry)s + ((g - 1) / %(per_part)s) * %(period_ms)s - 1000
           + ((g - 1) %% %(per_part)s) * 1000 / %(per_part)s,
       '@bench:localhost', '!bench:localhost', 'm.room.message', repeat('x', 200)
FROM generate_series(1, %(rows)s) AS g
"""


def insert_expiring_netlog_rows(dbname: str, rows: int, parts: int, first_expiry_ms: int, period_ms: int) -> None:
    """`rows` network-log rows, straight into PostgreSQL, in `parts` equal parts.

    Part k (from 0) falls out of retention at `first_expiry_ms + k * period_ms`, within the
    second before: its rows are dated that moment minus the retention period. Dates rise with
    the insertion order, as a log's do, so the oldest rows lie together on disk.

    Raises:
        BenchError: `rows` does not split into `parts` equal parts.
    """
    if rows % parts:
        raise BenchError(f"{rows} rows do not split into {parts} equal parts")
    connection = psycopg2.connect(PG_DSN.replace("dbname=postgres", f"dbname={dbname}"))
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(
                _INSERT_EXPIRING_ROWS,
                {"first_expiry": first_expiry_ms, "per_part": rows // parts, "period_ms": period_ms, "rows": rows},
            )
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE qunzu_netlog")
    finally:
        connection.close()


async def retention_purge(bench: Bench, scenario: Scenario) -> Result:
    """A 1,000,000-row purge of the network log on the Qunzu server, with one user sending throughout.

    The sends' latency drifts over minutes by more than the 10 % the target allows (Synapse's
    unread-summary job, the database's own housekeeping), so one window before a long purge
    is no fair baseline. Instead the rows fall out of retention in `parts` equal parts, one
    every `period_seconds`, and the purge job (whose cutoff is fixed when it starts) runs
    once per part, right after that part expired. Before each part the same sender is
    measured for `idle_seconds` without a purge: windows with and without it alternate,
    and their sends are pooled on each side.
    """
    params = scenario.params
    server = next(s for s in bench.servers if s.qunzu)
    assert server.admin is not None
    sender, room_id = server.users[0], server.rooms[params["room"]]
    rows, parts, period_s, idle_s = params["rows"], params["parts"], params["period_seconds"], params["idle_seconds"]
    retention_ms = load_policy_from_mapping(BENCH_POLICY).retention.days * DAY_MS

    async def send_while(going: Callable[[], bool]) -> list[float]:
        times: list[float] = []
        while going():
            times.append(await server.send(sender, room_id, f"during purge {len(times)}"))
        return times

    async def send_until(wall_s: float) -> list[float]:
        return await send_while(lambda: time.time() < wall_s)

    async def send_until_set(event: asyncio.Event) -> list[float]:
        return await send_while(lambda: not event.is_set())

    # Steady sending into a 500-member room slows down by itself after its first half minute:
    # Synapse folds push actions (one per member and message) into its unread summaries every
    # 30 s, and from then on that job runs nearly all the time. Measuring starts after it has.
    first_expiry_s = time.time() + params["insert_seconds"] + params["warmup_seconds"] + idle_s
    start = time.perf_counter()
    await asyncio.to_thread(
        insert_expiring_netlog_rows,
        server.dbname,
        rows,
        parts,
        int(first_expiry_s * 1000) - retention_ms,
        period_s * 1000,
    )
    bench.log(f"retention: {rows:,} rows inserted in {time.perf_counter() - start:.0f}s")
    without: list[list[float]] = []
    beside: list[list[float]] = []
    purged: list[int] = []
    purge_times: list[float] = []
    for part in range(parts):
        expiry_s = first_expiry_s + part * period_s
        await send_until(expiry_s - idle_s)  # unmeasured: waiting for the window's start
        idle_until = time.time() + idle_s
        without.append(await send_until(idle_until))
        await send_until(expiry_s + 1.0)  # the part's rows have all expired
        finished = asyncio.Event()
        sending = asyncio.create_task(send_until_set(finished))
        start = time.perf_counter()
        reply = await server.ok("POST", f"{API}/admin/jobs/records_retention", server.admin.access_token, {}, 1800)
        purge_times.append(time.perf_counter() - start)
        finished.set()
        beside.append(await sending)
        purged.append(int(reply["result"]["netlog"]))
        bench.log(f"retention: part {part + 1}/{parts}: {purged[-1]:,} rows in {purge_times[-1]:.1f}s")
    base = summary([t for window in without for t in window])
    during = summary([t for window in beside for t in window])
    pairs = [percentile(d, 0.95) / percentile(w, 0.95) for w, d in zip(without, beside, strict=True)]
    purge_s = sum(purge_times)
    return Result(
        scenario.key,
        scenario.title,
        "ms (send p95)",
        base["p95"],
        during["p95"],
        scenario.target,
        # Each part purged on its own: a run late enough to take the next part too would blur the pairs.
        purged == [rows // parts] * parts and during["p95"] <= base["p95"] * params["max_p95_ratio"],
        parts,
        f"send p50 {base['p50']:.1f} → {during['p50']:.1f} ms, max {base['max']:.0f} → {during['max']:.0f} ms; "
        f"p95 ratio per pair {', '.join(f'{ratio:.2f}' for ratio in pairs)}",
        f"{sum(purged):,} rows purged in {purge_s:.1f}s of purging ({sum(purged) / purge_s:,.0f} rows/s, batches "
        f"of 1,000 with pauses between), in {parts} parts {period_s}s apart (rows per part: "
        f"{', '.join(f'{count:,}' for count in purged)}; seconds: {', '.join(f'{t:.0f}' for t in purge_times)}); "
        f"{during['n']} sends beside the purge, "
        f"{base['n']} in the {idle_s}s before each part without it (the same sender, server and room), after "
        f"{params['warmup_seconds']}s of the same sends unmeasured (Qunzu server only: vanilla has no network log)",
        raw={"purge_times": purge_times, "purged": purged, "without": without, "beside": beside, **params},
    )


# -- 6. report → ticket in the moderation room -------------------------------------------

BOT_USER = f"@{SERVICE_LOCALPART}:{SERVER_NAME}"
REPO = Path(__file__).resolve().parent.parent
# Small filters: the staff member and the bot's invite check read only what they need.
_NOTHING: dict[str, Any] = {"types": []}
_INVITES_ONLY = {"presence": _NOTHING, "account_data": _NOTHING, "room": {"timeline": {"limit": 1}, "state": _NOTHING}}


def _desk_filter(room_id: str) -> str:
    room = {"rooms": [room_id], "timeline": {"limit": 200}, "state": {"lazy_load_members": True}}
    return json.dumps({"presence": _NOTHING, "account_data": _NOTHING, "room": {**room, "ephemeral": _NOTHING}})


_FIRST_SYNC_WAIT_S = 600.0


async def _bot_token(server: Server) -> str:
    """A fresh access token of the service account (setup registered it with a password it did not keep)."""
    assert server.admin is not None
    path = f"/_synapse/admin/v1/users/{quote(BOT_USER)}/login"
    return str((await server.ok("POST", path, server.admin.access_token, {}))["access_token"])


async def _decline_invites(server: Server, token: str) -> None:
    """The module invited the bot into every bench room; a first start would join them all (2,000 members).

    Untimed setup: the service account's first sync walks its bot chat with every account (2,157
    here), which took more than a minute on a slow machine.
    """
    path = f"/_matrix/client/v3/sync?filter={quote(json.dumps(_INVITES_ONLY))}"
    reply = await server.ok("GET", path, token, wait_s=_FIRST_SYNC_WAIT_S)
    for room_id in (reply.get("rooms") or {}).get("invite") or {}:
        await server.ok("POST", f"/_matrix/client/v3/rooms/{quote(room_id)}/leave", token, {})


def _start_bot(directory: Path, server: Server, token: str, moderation_room: str) -> subprocess.Popen[bytes]:
    """`python -m bot` with a rendered bot.yaml, as `make run` starts it; the desk at its default interval."""
    directory.mkdir(parents=True, exist_ok=True)
    config = {
        "homeserver": server.base_url,
        "user_id": BOT_USER,
        "access_token": token,
        "state_db": str(directory / "state.sqlite"),
        "moderation_room": moderation_room,
        "language": "zh-CN",
    }
    path = directory / "bot.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    path.chmod(0o600)
    with (directory / "bot.log").open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "bot", "-c", str(path)], stdout=log, stderr=log, cwd=REPO)


# The service account is in every group and every person's bot chat (thousands of rooms after setup):
# the bot's first sync covers them all and takes tens of seconds before it answers anything.
BOT_START_S = 300


async def _until_joined(server: Server, bot: subprocess.Popen[bytes], token: str, room_id: str, log: Path) -> None:
    deadline = time.monotonic() + BOT_START_S
    while time.monotonic() < deadline:
        if bot.poll() is not None:
            tail = (await asyncio.to_thread(log.read_text, errors="replace"))[-2000:]
            raise BenchError(f"the bot exited ({bot.returncode}):\n{tail}")
        status, reply = await server.call("GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/joined_members", token)
        if status == 200 and BOT_USER in (reply.get("joined") or {}):
            return
        await asyncio.sleep(0.25)
    raise BenchError(f"the bot did not join {room_id} within {BOT_START_S}s (log: {log})")


async def _until_answering(server: Server, account: Account, room_id: str) -> None:
    """Until the bot answers a command in the room: what it sees in the sync that joins it is history
    and never answered, so a report sent right after its join could be lost to the measurement."""
    deadline = time.monotonic() + BOT_START_S
    while time.monotonic() < deadline:
        probe = await _post(server, account, room_id, "!rules")
        asked = time.monotonic()
        while time.monotonic() - asked < 5:
            path = f"/_matrix/client/v3/rooms/{quote(room_id)}/messages?dir=b&limit=50"
            for event in (await server.ok("GET", path, account.access_token)).get("chunk") or []:
                relates = (event.get("content") or {}).get("m.relates_to") or {}
                if event.get("sender") == BOT_USER and (relates.get("m.in_reply_to") or {}).get("event_id") == probe:
                    return
            await asyncio.sleep(0.25)
    raise BenchError(f"the bot did not answer in {room_id} within {BOT_START_S}s")


@dataclass
class _DeskWatch:
    """The staff member's /sync of the moderation room: when each reported event's ticket was first seen."""

    server: Server
    token: str
    room_id: str
    expected: int
    wanted: set[str] = field(default_factory=set)
    seen_at: dict[str, float] = field(default_factory=dict)
    since: str | None = None
    all_seen: asyncio.Event = field(default_factory=asyncio.Event)

    async def sync(self, timeout_ms: int) -> None:
        path = f"/_matrix/client/v3/sync?filter={quote(_desk_filter(self.room_id))}&timeout={timeout_ms}"
        if self.since is not None:
            path += f"&since={quote(self.since)}"
        reply = await self.server.ok("GET", path, self.token, wait_s=timeout_ms / 1000 + 60)
        at = time.perf_counter()
        self.since = str(reply["next_batch"])
        room = ((reply.get("rooms") or {}).get("join") or {}).get(self.room_id) or {}
        for event in (room.get("timeline") or {}).get("events") or []:
            body = str((event.get("content") or {}).get("body", ""))
            if event.get("sender") != BOT_USER or "新工单" not in body:
                continue
            for event_id in [e for e in self.wanted if e in body]:
                self.seen_at.setdefault(event_id, at)
        if len(self.seen_at) >= self.expected:
            self.all_seen.set()

    async def run(self) -> None:
        while True:
            await self.sync(10_000)


async def report_to_desk(bench: Bench, scenario: Scenario) -> Result:
    """Reports at a steady rate, alternating `!report` and the client report API, until staff see each ticket.

    Each report names a message of its own (a report of an event with an open ticket joins it,
    and a joined report is not a new ticket). Latency runs from the report request's return to
    the staff member's /sync delivering the desk's announcement that names the message.
    """
    params = scenario.params
    server = next(s for s in bench.servers if s.qunzu)
    assert server.admin is not None
    total = params["per_minute"] * params["seconds"] // 60
    accounts = [server.users[i] for i in bench.take_extra(2 * params["reporters"] + 1)]
    speaker, command_reporters, button_reporters = accounts[0], accounts[1::2], accounts[2::2]

    staff = await server.register("bench_desk_staff", admin=True)  # server admins are staff
    moderation_room, _ = await server.create_room(staff, preset="private_chat", name="bench moderation")
    room_id, _ = await server.create_room(server.admin, preset="public_chat", name="bench reports")
    await bounded(server.join(account, room_id) for account in accounts)
    target_ids = [await _post(server, speaker, room_id, f"bench message {index}") for index in range(total)]

    token = await _bot_token(server)
    await _decline_invites(server, token)
    directory = server.process.config_path.parent / "bench-bot"
    bot = _start_bot(directory, server, token, moderation_room)
    started = time.monotonic()
    watch = _DeskWatch(server, staff.access_token, moderation_room, total)
    watching: asyncio.Task[None] | None = None
    try:
        # The module invited the bot into both rooms when they were created; a first start joins them.
        await _until_joined(server, bot, staff.access_token, moderation_room, directory / "bot.log")
        await _until_answering(server, speaker, room_id)
        first_answer_s = time.monotonic() - started
        await watch.sync(0)
        watching = asyncio.create_task(watch.run())
        bench.log(
            f"report_to_desk: bot up, answering {first_answer_s:.0f}s after its start; "
            f"{total} reports over {params['seconds']}s"
        )
        sent_at: dict[str, tuple[str, float]] = {}

        async def report(index: int) -> None:
            event_id = target_ids[index]
            watch.wanted.add(event_id)
            if index % 2 == 0:
                reporter = command_reporters[(index // 2) % len(command_reporters)]
                path = f"/_matrix/client/v3/rooms/{quote(room_id)}/send/m.room.message/{secrets.token_hex(8)}"
                body = {
                    "msgtype": "m.text",
                    "body": "!report fraud 基准测试",
                    "m.relates_to": {"m.in_reply_to": {"event_id": event_id}},
                }
                # The module files it and refuses the event, so nobody in the room sees who reported.
                status, reply = await server.call("PUT", path, reporter.access_token, body)
                if status != 403 or reply.get("cn.qunzu.reason") != "report_received":
                    raise BenchError(f"report_to_desk: a !report was not filed: {status} {reply}")
                sent_at[event_id] = ("command", time.perf_counter())
            else:
                reporter = button_reporters[(index // 2) % len(button_reporters)]
                path = f"/_matrix/client/v3/rooms/{quote(room_id)}/report/{quote(event_id)}"
                await server.ok("POST", path, reporter.access_token, {"reason": "诈骗 基准测试"})
                sent_at[event_id] = ("button", time.perf_counter())

        # Open loop: each report starts at its time, whatever the previous ones are doing.
        interval = 60 / params["per_minute"]
        start = time.perf_counter()
        jobs = []
        for index in range(total):
            await asyncio.sleep(max(0.0, start + index * interval - time.perf_counter()))
            jobs.append(asyncio.create_task(report(index)))
        await asyncio.gather(*jobs)
        seen = asyncio.create_task(watch.all_seen.wait())
        await asyncio.wait({seen, watching}, timeout=params["drain_seconds"], return_when=asyncio.FIRST_COMPLETED)
        seen.cancel()
        if watching.done():
            watching.result()  # raises what stopped the staff member's sync
    finally:
        if watching is not None:
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
        await asyncio.to_thread(terminate, bot)

    latencies: dict[str, list[float]] = {"command": [], "button": []}
    for event_id, (way, at) in sent_at.items():
        if event_id in watch.seen_at:
            latencies[way].append((watch.seen_at[event_id] - at) * 1000)
    missing = {way: sum(1 for w, _ in sent_at.values() if w == way) - len(values) for way, values in latencies.items()}
    if not latencies["command"] or not latencies["button"]:
        raise BenchError(f"report_to_desk: no ticket reached the moderation room (missing {missing}; see {directory})")
    stats = {way: summary(values) for way, values in latencies.items()}
    command, button = stats["command"], stats["button"]
    return Result(
        scenario.key,
        scenario.title,
        "ms (p95, report button)",
        None,
        button["p95"],
        scenario.target,
        button["p95"] <= params["max_button_p95_ms"] and not missing["button"],
        1,
        f"`!report` p50 {command['p50']:,.0f} / p95 {command['p95']:,.0f} ms; "
        f"report button p50 {button['p50']:,.0f} / p95 {button['p95']:,.0f} ms",
        f"{total} reports at {params['per_minute']}/min for {params['seconds']}s, alternating `!report` (the "
        f"module files it, refuses the event and nudges the desk) and the client report API (the module's "
        f"import of new ids every 0.5 s, then the same nudge); the desk's poll stays at its default 5 s; from "
        f"the request's return to the staff member's /sync showing the ticket; "
        f"n = {command['n']} / {button['n']}, max {command['max']:,.0f} / {button['max']:,.0f} ms, "
        f"not seen within {params['drain_seconds']}s: {missing['command']} / {missing['button']} "
        "(Qunzu server only: vanilla has no bot)",
        raw={"latencies": latencies, "stats": stats, "missing": missing, **params},
    )


async def _post(server: Server, account: Account, room_id: str, text: str) -> str:
    """Send one message; returns its event id."""
    path = f"/_matrix/client/v3/rooms/{quote(room_id)}/send/m.room.message/{secrets.token_hex(8)}"
    return str((await server.ok("PUT", path, account.access_token, {"msgtype": "m.text", "body": text}))["event_id"])


# -- the list ----------------------------------------------------------------------------

LARGE_ROOM = 2000
MEDIUM_ROOM = 500


def population(quick: bool) -> Population:
    """Rooms by name with their member counts (owner included), and accounts left for joiners/creators.

    The bench owner is staff, so the large room's cap is the large tier's 2,000 (the join
    scenario lifts it, see `grant_huge`). It holds 1,998 members; each measured join makes
    1,999 and leaves again before the next.
    """
    if quick:
        return Population(rooms={"medium": 50, "large": 120}, extra_users=60)
    return Population(rooms={"medium": MEDIUM_ROOM, "large": LARGE_ROOM - 2}, extra_users=160)
