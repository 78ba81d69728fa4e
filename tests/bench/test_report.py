"""The benchmark's report: the committed table, its raw JSON, and a scenario that fails."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from bench import report
from bench.scenarios import Result, failed, scenarios

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
