"""Which scenarios `python -m bench --only` runs, and what setup it does for them."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import bench.__main__ as main
from bench.plan import scenarios
from bench.scenarios import Bench, Result, Scenario


class _ServersStarted(Exception):
    pass


def _no_servers(tmp: Path, keep: bool, log: Callable[[str], None]) -> contextlib.AbstractAsyncContextManager[list[Any]]:
    raise _ServersStarted


async def _measure(bench: Bench, scenario: Scenario) -> Result:
    return Result(scenario.key, scenario.title, "x/s", 1.0, 2.0, scenario.target, True, 1, "—")


def _scenarios(quick: bool) -> list[Scenario]:
    return [
        Scenario("offline", "In-process", _measure, {}, "—", servers=False),
        Scenario("online", "Against Synapse", _measure, {}, "—"),
    ]


def _args(only: set[str] | None) -> argparse.Namespace:
    return argparse.Namespace(quick=True, only=only, keep=False)


async def test_only_an_in_process_scenario_starts_no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(main, "scenarios", _scenarios)
    monkeypatch.setattr(main, "server_pair", _no_servers)
    results = await main.run(_args({"offline"}))
    assert [(result.key, result.qunzu) for result in results] == [("offline", 2.0)]


async def test_a_scenario_against_synapse_still_sets_the_servers_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(main, "scenarios", _scenarios)
    monkeypatch.setattr(main, "server_pair", _no_servers)
    with pytest.raises(_ServersStarted):
        await main.run(_args(None))


def test_the_content_matcher_needs_no_server() -> None:
    by_key = {scenario.key: scenario for scenario in scenarios(quick=False)}
    assert not by_key["content_matcher"].servers
    assert all(scenario.servers for key, scenario in by_key.items() if key != "content_matcher")
