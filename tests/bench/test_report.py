"""The benchmark's report: the committed table, its raw JSON, and a scenario that fails."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from bench import report
from bench.plan import scenarios
from bench.scale import _access_costs
from bench.scenarios import Result, failed

STARTED = datetime.datetime(2026, 11, 30, 8, 48, tzinfo=datetime.UTC)


def _results() -> list[Result]:
    by_key = {scenario.key: scenario for scenario in scenarios(quick=False)}
    send, join = by_key["send_500"], by_key["join_2000"]
    return [
        Result(send.key, send.title, "events/s", 11.1, 10.7, send.target, True, 6, "vanilla 10–12", raw={"r": [1.5]}),
        failed(join, ValueError("too few extra accounts")),
    ]


def test_a_failed_scenario_is_a_missed_row_with_its_reason_and_the_others_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report, "BENCH_DIR", tmp_path)
    table = tmp_path / "RESULTS.md"
    report.write(_results(), STARTED, 600.0, results_file=table)
    text = table.read_text()
    assert "| 1. Send throughput, 4 senders, 500-member room | events/s | 11.1 | 10.7 | 0.964 |" in text
    row = next(line for line in text.splitlines() if line.startswith("| 2. Join latency"))
    assert "**missed**" in row
    assert "failed: ValueError('too few extra accounts')" in text


def test_render_from_the_raw_json_writes_the_same_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "BENCH_DIR", tmp_path)
    written = tmp_path / "RESULTS.md"
    raw = report.write(_results(), STARTED, 600.0, results_file=written)
    payload = json.loads(raw.read_text())
    assert payload["results"][0]["raw"] == {"r": [1.5]} and payload["results"][0]["ratio"] == pytest.approx(10.7 / 11.1)

    again = tmp_path / "again.md"
    report.rerender(raw, again)
    assert again.read_text() == written.read_text()


def test_only_the_committed_table_leaves_its_raw_json_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report, "BENCH_DIR", tmp_path)
    monkeypatch.setattr(report, "RESULTS", tmp_path / "RESULTS.md")
    monkeypatch.setattr(report, "RESULTS_RAW", tmp_path / "RESULTS.json")
    report.write(_results(), STARTED, 600.0, results_file=tmp_path / "partial.md")
    assert not (tmp_path / "RESULTS.json").exists()
    report.write(_results(), STARTED, 600.0, results_file=tmp_path / "RESULTS.md")
    assert json.loads((tmp_path / "RESULTS.json").read_text())["started"] == STARTED.isoformat()


def test_the_room_grown_to_the_huge_ceiling_is_grown_after_every_scenario_that_needs_it_at_2000() -> None:
    order = [scenario.key for scenario in scenarios(quick=False)]
    large = [s.key for s in scenarios(quick=False) if s.params.get("room") == "large" and s.key != "send_3000"]
    assert large and all(order.index(key) < order.index("send_3000") for key in large)


def test_the_scale_out_row_reads_cpu_and_database_costs_from_synapse_access_lines(tmp_path: Path) -> None:
    line = (
        "2026-12-05 01:23:51,310 synapse.access.http.29967 INFO POST-37 127.0.0.1 - 29967 - {@u00119:localhost} "
        "Processed request: 1.185sec/0.003sec ru=(0.013sec, 0.002sec) db=(0.109sec/0.274sec/26) 58B 200 "
        '"POST /_matrix/client/v3/join/!T7zb:localhost HTTP/1.1" "Python/3.11 aiohttp/3.9.5" [0 dbevts]'
    )
    (tmp_path / "worker1").mkdir()
    (tmp_path / "worker1" / "homeserver.log").write_text(line + "\nunrelated\n")

    class Logs:
        def __init__(self) -> None:
            self.workers = {"worker1": None}

        def log_path(self, name: str) -> Path:
            return tmp_path / name / "homeserver.log"

    costs = _access_costs(Logs(), "POST", "/join/")  # type: ignore[arg-type]
    assert costs == {"n": 1, "cpu_ms": pytest.approx(15.0), "db_wait_ms": pytest.approx(274.0), "txns": 26}
    assert _access_costs(Logs(), "PUT", "/send/") == {"n": 0}  # type: ignore[arg-type]
