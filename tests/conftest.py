"""Session-wide: the `e2e` marker, and how many Synapse processes the run started.

A Synapse start costs seconds of the suite's time whatever the machine's load,
so the count is the number to watch when adding end-to-end tests: share a
server (`synapse`, or a module-scoped one per config) rather than start one.
With pytest-xdist, each worker counts its own and the controller adds them up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devtools.homeserver import SynapseProcess

_STARTS_KEY = "qunzu_synapse_starts"
_starts = pytest.StashKey[int]()
_by_worker = pytest.StashKey[dict[str, int]]()


E2E = Path(__file__).resolve().parent / "e2e"


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_starts] = 0


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/e2e starts Synapse: marked `e2e` (`make test-fast` leaves it out).

    With `--dist loadgroup` (`make test`), a test without an `xdist_group` mark is
    grouped with the rest of its file, as `--dist loadfile` would: module-scoped
    servers start once. Files that share a session-scoped server (a `shared_servers`
    config, the content server) name one group, so that server starts on one worker
    only. Runs before pytest-xdist turns the marks into scopes.
    """
    for item in items:
        if item.path.is_relative_to(E2E):
            item.add_marker(pytest.mark.e2e)
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.path.relative_to(item.config.rootpath).as_posix()))


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput: dict[str, Any] | None = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[_STARTS_KEY] = SynapseProcess.starts


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist: a worker finished; add its count to the controller's."""
    count = int(node.workeroutput.get(_STARTS_KEY, 0))
    node.config.stash[_starts] += count
    node.config.stash.setdefault(_by_worker, {})[str(node.gateway.id)] = count


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    starts = config.stash[_starts] + SynapseProcess.starts
    workers = config.stash.get(_by_worker, {})
    detail = f" ({', '.join(f'{name}: {count}' for name, count in sorted(workers.items()))})" if workers else ""
    terminalreporter.write_line(f"Synapse processes started: {starts}{detail}")
