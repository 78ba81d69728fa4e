"""`make bench`: run the scenarios side by side (vanilla Synapse vs Synapse with Qunzu), write RESULTS.md.

python -m bench                       # everything, writes bench/RESULTS.md and RESULTS.json (about an hour)
python -m bench --quick               # small rooms, short rounds: checks the harness in ~3 minutes
python -m bench --only send_500,join_2000
python -m bench --only content_matcher  # needs no server: starts none, done in about a minute
python -m bench --render bench/RESULTS.json   # RESULTS.md again from a run's raw JSON (after editing ANALYSIS.md)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import shutil
import tempfile
import time
import traceback
from pathlib import Path

from . import report
from .harness import populate, server_pair
from .plan import scenarios
from .scenarios import Bench, Result, Scenario, failed, population

START = time.monotonic()


def log(message: str) -> None:
    print(f"[bench {time.monotonic() - START:6.0f}s] {message}", flush=True)


async def run(args: argparse.Namespace) -> list[Result]:
    chosen = [s for s in scenarios(args.quick) if not args.only or s.key in args.only]
    people = population(args.quick)
    if args.only:  # setup of a 2,000-member room costs minutes; make only the rooms chosen scenarios use
        people = people.only({str(s.params["room"]) for s in chosen if "room" in s.params})
    results: dict[str, Result] = {}
    # Scenarios that need no server run first, before minutes of setup they do not use.
    offline = Bench([], people, log)
    for scenario in chosen:
        if not scenario.servers:
            results[scenario.key] = await _run_one(offline, scenario)
    online = [scenario for scenario in chosen if scenario.servers]
    if online:
        tmp = Path(tempfile.mkdtemp(prefix="qunzu-bench-"))
        log(f"server data and logs in {tmp}")
        try:
            async with server_pair(tmp, keep=args.keep, log=log) as servers:
                log(f"servers up: {', '.join(f'{s.label} {s.base_url}' for s in servers)}")
                await asyncio.gather(*(populate(server, people, log) for server in servers))
                bench = Bench(servers, people, log)
                for scenario in online:
                    results[scenario.key] = await _run_one(bench, scenario)
        finally:
            if not args.keep:
                shutil.rmtree(tmp, ignore_errors=True)
    return [results[scenario.key] for scenario in chosen]


async def _run_one(bench: Bench, scenario: Scenario) -> Result:
    log(f"{scenario.key}: running")
    try:
        result = await scenario.run(bench, scenario)
    except Exception as exc:
        # One broken scenario must not throw away the others' minutes of measuring.
        log(f"{scenario.key}: FAILED\n{traceback.format_exc()}")
        result = failed(scenario, exc)
    ratio = "" if result.ratio is None else f" ratio {result.ratio:.3f}"
    log(f"{scenario.key}: baseline {result.baseline} Qunzu {result.qunzu}{ratio} — {result.note}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small rooms and short rounds (harness check)")
    parser.add_argument("--only", type=lambda text: set(text.split(",")), help="comma-separated scenario keys")
    parser.add_argument("--keep", action="store_true", help="keep the server directories and databases")
    parser.add_argument("--output", type=Path, help="write the table here instead of bench/RESULTS.md")
    parser.add_argument("--render", type=Path, metavar="RAW_JSON", help="only write the table from a run's raw JSON")
    args = parser.parse_args()
    if args.render:
        report.rerender(args.render, args.output or report.RESULTS)
        log(f"wrote {args.output or report.RESULTS} from {args.render}")
        return
    started = datetime.datetime.now(datetime.UTC)
    results = asyncio.run(run(args))
    # Partial runs stay out of the committed table.
    default = report.RESULTS if not (args.quick or args.only) else report.BENCH_DIR / "raw" / "RESULTS.partial.md"
    target = args.output or default
    raw = report.write(results, started, time.monotonic() - START, results_file=target)
    log(f"wrote {target} and {raw}")


if __name__ == "__main__":
    main()
