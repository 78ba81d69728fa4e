"""RESULTS.md and the raw JSON of one `make bench` run."""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import json
import os
import platform
from pathlib import Path
from typing import Any

from .scenarios import Result

BENCH_DIR = Path(__file__).resolve().parent
ANALYSIS = BENCH_DIR / "ANALYSIS.md"
RESULTS = BENCH_DIR / "RESULTS.md"
#: The raw samples behind the committed RESULTS.md (other runs' raw JSON stays in bench/raw/).
RESULTS_RAW = BENCH_DIR / "RESULTS.json"


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "synapse": importlib.metadata.version("matrix-synapse"),
        "os": platform.platform(),
    }


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}"


def _verdict(result: Result) -> str:
    return {True: "met", False: "**missed**", None: "reported"}[result.met]


def render(results: list[Result], info: dict[str, Any], started: datetime.datetime, elapsed_s: float) -> str:
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m bench`); do not edit by hand — the analysis below comes from",
        "`bench/ANALYSIS.md`. Vanilla Synapse and Synapse with Qunzu ran side by side in one run, on",
        "PostgreSQL, alternating round by round; values are medians over the rounds (latencies: over all",
        "requests of all rounds). Raw samples of this run: `bench/RESULTS.json`.",
        "",
        f"- date: {started:%Y-%m-%d %H:%M} UTC, whole run {elapsed_s / 60:.1f} min",
        f"- machine: {info['cores']} cores, {info['cpu']}, {info['os']}",
        f"- Python {info['python']}, Synapse {info['synapse']}, PostgreSQL on loopback",
        "",
        "| scenario | unit | baseline | with Qunzu | ratio | target | result | runs | spread |",
        "|---|---|---:|---:|---:|---|---|---:|---|",
    ]
    for r in results:
        ratio = "—" if r.ratio is None else f"{r.ratio:.3f}"
        lines.append(
            f"| {r.title} | {r.unit} | {_number(r.baseline)} | {_number(r.qunzu)} | {ratio} | {r.target} "
            f"| {_verdict(r)} | {r.runs} | {r.spread} |"
        )
    lines += ["", "## Details", ""]
    lines += [f"- **{r.title}**: {r.note}" for r in results if r.note]
    if ANALYSIS.exists():
        lines += ["", ANALYSIS.read_text().strip()]
    return "\n".join(lines) + "\n"


def write(results: list[Result], started: datetime.datetime, elapsed_s: float, *, results_file: Path) -> Path:
    """Write RESULTS.md (or `results_file`) and bench/raw/<time>.json; returns the JSON's path.

    A run written to the committed RESULTS.md also leaves its raw JSON in bench/RESULTS.json.
    """
    info = machine()
    raw_dir = BENCH_DIR / "raw"
    raw_dir.mkdir(exist_ok=True)
    results_file.write_text(render(results, info, started, elapsed_s))
    raw = raw_dir / f"{started:%Y%m%dT%H%M%S}.json"
    payload = {
        "started": started.isoformat(),
        "elapsed_s": elapsed_s,
        "machine": info,
        "results": [{**dataclasses.asdict(r), "ratio": r.ratio} for r in results],
    }
    text = json.dumps(payload, indent=1, ensure_ascii=False)
    raw.write_text(text)
    if results_file.resolve() == RESULTS:
        RESULTS_RAW.write_text(text)
    return raw


def rerender(raw: Path, results_file: Path) -> None:
    """Write `results_file` again from a run's raw JSON, with the current ANALYSIS.md.

    The analysis is written after the numbers are in; this puts it beside them
    without measuring again.
    """
    payload = json.loads(raw.read_text())
    fields = {f.name for f in dataclasses.fields(Result)}
    results = [Result(**{k: v for k, v in item.items() if k in fields}) for item in payload["results"]]
    started = datetime.datetime.fromisoformat(payload["started"])
    results_file.write_text(render(results, payload["machine"], started, payload["elapsed_s"]))
