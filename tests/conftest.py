"""Session-wide: the `e2e` marker, and how many Synapse processes the run started.

A Synapse start costs seconds of the suite's time whatever the machine's load,
so the count is the number to watch when adding end-to-end tests: share a
server (`synapse`, or a module-scoped one per config) rather than start one.
With pytest-xdist, each worker counts its own and the controller adds them up.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from devtools.homeserver import SynapseProcess
from tests.run_shared import begin_run, drop_shared_databases

_STARTS_KEY = "qunzu_synapse_starts"
_starts = pytest.StashKey[int]()
_EVENTS_KEY = "qunzu_stored_events"
_events = pytest.StashKey[int]()
_by_worker = pytest.StashKey[dict[str, int]]()
# Where each running server's log stood when a test began: a failure shows what came after.
_log_marks = pytest.StashKey[dict[int, tuple[SynapseProcess, int]]]()
_LOG_LINES = 40
_LOG_LEVELS = (" WARNING ", " ERROR ", " CRITICAL ")


E2E = Path(__file__).resolve().parent / "e2e"


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_starts] = 0
    config.stash[_events] = 0
    begin_run(config)
    _temporary_files_in_memory(config)
    # Servers fork from one process that imported Synapse once (devtools/forkserver.py).
    SynapseProcess.fork = os.environ.get("QUNZU_TEST_FORK", "1") != "0"


def pytest_unconfigure(config: pytest.Config) -> None:
    drop_shared_databases(config)
    if SynapseProcess.forkserver is not None:
        SynapseProcess.forkserver.close()
        SynapseProcess.forkserver = None


# /dev/shm is a tmpfs on Linux; a container may give it only 64 MB, too little for a run's servers.
_MEMORY_DIR = Path("/dev/shm")
_MEMORY_DIR_MIN_FREE = 2 * 1024**3


def _temporary_files_in_memory(config: pytest.Config) -> None:
    """Tests' temporary files (the servers' SQLite files and logs among them) go to a tmpfs if there is one.

    Every transaction of a Synapse on SQLite ends with an fsync; on a disk the
    servers wait for those and the suite takes about a sixth longer. The files
    stay real SQLite files; only a power cut would treat them differently.
    An explicit `--basetemp` or `TMPDIR` is left alone.
    """
    if config.option.basetemp or os.environ.get("TMPDIR") or not _MEMORY_DIR.is_dir():
        return
    try:
        stats = os.statvfs(_MEMORY_DIR)
    except OSError:
        return
    if stats.f_bavail * stats.f_frsize >= _MEMORY_DIR_MIN_FREE and os.access(_MEMORY_DIR, os.W_OK):
        # The xdist workers and the servers they start inherit it; `tempfile` reads it again.
        os.environ["TMPDIR"] = str(_MEMORY_DIR)
        tempfile.tempdir = None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/e2e starts Synapse: marked `e2e` (`make test-fast` leaves it out).

    The files (and `FILE_GROUPS` groups) are then ordered by their expected cost, the
    costliest first: pytest-xdist hands them out in that order, so the long ones start at
    once and the short ones fill in at the end instead of one long group finishing alone.

    Raises:
        pytest.UsageError: a test uses a `FILE_GROUPS` group's servers from a file outside it.
    """
    for item in items:
        if item.path.is_relative_to(E2E):
            item.add_marker(pytest.mark.e2e)
    _check_file_groups(items)
    _costliest_units_first(items)


# An end-to-end test takes about thirty times as long as one that starts no Synapse.
_E2E_COST = 30


def _unit_of(nodeid: str) -> str:
    """What pytest-xdist schedules as one: a test's file, or the `FILE_GROUPS` group the file is in."""
    path = nodeid.split("::", 1)[0]
    return _GROUP_OF.get(path, path)


def _costliest_units_first(items: list[pytest.Item]) -> None:
    cost: dict[str, int] = {}
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        unit = _unit_of(item.nodeid)
        cost[unit] = cost.get(unit, 0) + (_E2E_COST if item.get_closest_marker("e2e") else 1)
        first.setdefault(unit, index)
    # A stable sort: each unit stays together and in its own order.
    items.sort(key=lambda item: (-cost[_unit_of(item.nodeid)], first[_unit_of(item.nodeid)]))


# Test files that share a session-scoped server (a `shared_servers` config, `restartable`, the
# content server): with `--dist loadfile` each group runs on one worker, as one file would, so
# its servers start once rather than once per worker. A file in no group is a group of its own.
FILE_GROUPS: dict[str, tuple[str, ...]] = {
    "shared-servers": (
        "test_bot_chat.py",
        "test_bot_commands.py",
        "test_group_alias.py",
        "test_group_lifecycle.py",
        "test_groups.py",
        "test_limits.py",
        "test_owner_tools.py",
        "test_realname_form_errors.py",
        "test_realname_providers.py",
        "test_reports.py",
        "test_sanctions.py",
    ),
    "restarts": (
        "test_foundation.py",
        "test_records.py",
        "test_records_emergency.py",
        "test_records_filing.py",
        "test_reports_durability.py",
        "test_sanctions_durability.py",
    ),
    "content": (
        "test_bot_chat_notices.py",
        "test_browser.py",
        "test_content.py",
        "test_content_texts.py",
        "test_holds.py",
        "test_room_versions.py",
    ),
}
_GROUP_OF = {f"tests/e2e/{name}": group for group, names in FILE_GROUPS.items() for name in names}

# The session-scoped fixture (by its function's name) that reaches each group's servers. A test
# reaching one from a file outside that group would start a second copy of the server on the other
# worker; collection stops instead. The content server is one of the shared servers, so it is
# looked for first.
_GROUP_FIXTURES: tuple[tuple[str, str], ...] = (
    ("content_server_fixture", "content"),
    ("shared_servers", "shared-servers"),
    ("restartable_server", "restarts"),
)


def _server_group(item: pytest.Item) -> str | None:
    """The `FILE_GROUPS` group whose session-scoped servers `item` uses, if any."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    functions = {
        getattr(definition.func, "__name__", "")
        for definitions in info.name2fixturedefs.values()
        for definition in definitions
    }
    return next((group for fixture, group in _GROUP_FIXTURES if fixture in functions), None)


def _check_file_groups(items: list[pytest.Item]) -> None:
    """Every test that uses a group's servers is in a file of that group."""
    misplaced: dict[str, str] = {}
    for item in items:
        group = _server_group(item)
        path = item.nodeid.split("::", 1)[0]
        if group is not None and _GROUP_OF.get(path) != group:
            misplaced[path] = group
    if misplaced:
        listed = "; ".join(f"{path} into {group!r}" for path, group in sorted(misplaced.items()))
        raise pytest.UsageError(f"FILE_GROUPS in tests/conftest.py: put {listed} (its tests use that group's servers)")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadfile`, with the files of one `FILE_GROUPS` group scheduled as one file.

    (pytest-xdist's own `--dist loadgroup` marks cannot do this under pytest 9: it renames
    `item._nodeid`, which pytest 9 no longer reads.)
    """
    if config.getvalue("dist") != "loadfile":
        return None
    # Keep the collection's order (costliest first, `_costliest_units_first`), not xdist's by test count.
    config.option.loadscopereorder = False
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    class FileGroupScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return _unit_of(nodeid)

    return FileGroupScheduling(config, log)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_log_marks] = {
        key: (server, server.log_path.stat().st_size if server.log_path.exists() else 0)
        for key, server in SynapseProcess.running.items()
    }


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed end-to-end test carries the warnings and errors its servers logged meanwhile.

    CI keeps only the test output; without these lines a failure that needs load to
    appear (federation retries, a slow database) cannot be told from a wrong assertion.
    """
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not report.failed or not item.path.is_relative_to(E2E):
        return
    stored = item.stash.get(_log_marks, None)
    marks = {} if stored is None else dict(stored)
    for key, server in SynapseProcess.running.items():
        marks.setdefault(key, (server, 0))
    for server, offset in marks.values():
        lines = _warnings_since(server.log_path, offset)
        if lines:
            report.sections.append((f"Synapse log {server.config_path.parent}", "\n".join(lines)))


def _warnings_since(log_path: Path, offset: int) -> list[str]:
    """The last warning and error lines (with their tracebacks) written after `offset`."""
    try:
        with log_path.open("rb") as handle:
            handle.seek(offset)
            text = handle.read().decode(errors="replace")
    except OSError:
        return []
    kept: list[str] = []
    keeping = False
    for line in text.splitlines():
        if line[:2].isdigit():  # a new record: "2026-12-05 03:16:10,123 name LEVEL …"
            keeping = any(level in line for level in _LOG_LEVELS)
        if keeping:
            kept.append(line[:500])
    return kept[-_LOG_LINES:]


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput: dict[str, Any] | None = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[_STARTS_KEY] = SynapseProcess.starts
        workeroutput[_EVENTS_KEY] = sum(SynapseProcess.stored_events.values())


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist: a worker finished; add its count to the controller's."""
    count = int(node.workeroutput.get(_STARTS_KEY, 0))
    node.config.stash[_starts] += count
    node.config.stash[_events] += int(node.workeroutput.get(_EVENTS_KEY, 0))
    node.config.stash.setdefault(_by_worker, {})[str(node.gateway.id)] = count


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    starts = config.stash[_starts] + SynapseProcess.starts
    workers = config.stash.get(_by_worker, {})
    detail = f" ({', '.join(f'{name}: {count}' for name, count in sorted(workers.items()))})" if workers else ""
    terminalreporter.write_line(f"Synapse processes started: {starts}{detail}")
    # The work the tests asked of Synapse, in a unit no machine's speed changes (`SynapseProcess.stored_events`).
    events = config.stash[_events] + sum(SynapseProcess.stored_events.values())
    terminalreporter.write_line(f"Events their databases held when they stopped: {events}")
