"""The harness itself: a server whose port another program took first starts again on a new one;
servers fork from one process that imported Synapse, which refuses what it did not import; a
stopped server's events are counted for the session's summary. One Synapse start: the one that
finds its port taken."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.forkserver import ForkedProcess, ForkServer, ForkServerError
from devtools.homeserver import (
    HomeserverError,
    PortInUse,
    SynapseProcess,
    free_port,
    render_config,
    sqlite_database,
)

from . import conftest
from .conftest import ServerFactory


def test_a_port_taken_before_synapse_binds_it_is_told_apart_from_other_failures(
    make_synapse: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", free_port()))
        squatter.listen()
        taken = squatter.getsockname()[1]
        # The race under load: the port was free when it was chosen, another program has it now.
        monkeypatch.setattr(conftest, "free_port", lambda: taken)
        server = make_synapse.prepare()
        assert server.port == taken

        with pytest.raises(PortInUse):
            server.start()

    # Forked from the session's fork server (the default of a test run), and gone.
    assert SynapseProcess.fork and isinstance(server.process, ForkedProcess)
    assert server.process.poll() is not None
    assert "Address already in use" in server.stderr_tail()


def test_the_factory_starts_again_on_a_new_port_only_when_the_port_was_taken(
    make_synapse: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Synapse's side of it is the test above; here each start fails as it was told to.
    failures: list[type[HomeserverError] | None] = [PortInUse, PortInUse, None]
    tried: list[SynapseProcess] = []

    def start(process: SynapseProcess, timeout: float = 60.0) -> None:
        tried.append(process)
        failure = failures.pop(0)
        if failure is not None:
            raise failure("Synapse exited with 1: …")

    monkeypatch.setattr(SynapseProcess, "start", start)
    started = make_synapse.start(service_account=False)
    assert tried[-1] is started and len(tried) == 3
    assert len({process.port for process in tried}) == 3  # a new port each time…
    assert {process.config_path for process in tried} == {started.config_path}  # …in the same directory

    failures[:] = [PortInUse, HomeserverError]
    with pytest.raises(HomeserverError) as raised:
        make_synapse.start(service_account=False)
    assert not isinstance(raised.value, PortInUse)  # any other failure is raised at once
    failures[:] = [PortInUse] * conftest.PORT_ATTEMPTS
    with pytest.raises(PortInUse):
        make_synapse.start(service_account=False)  # and a port taken every time, after the last attempt


def test_a_stopped_servers_events_are_counted_for_the_sessions_summary(tmp_path: Path) -> None:
    database = tmp_path / "homeserver.db"
    with contextlib.closing(sqlite3.connect(database)) as connection, connection:
        connection.execute("CREATE TABLE events (event_id TEXT)")
        connection.executemany("INSERT INTO events VALUES (?)", [("$a",), ("$b",), ("$c",)])
    port = free_port()
    config = render_config(tmp_path, port=port, database=sqlite_database(database), modules=[])
    # Any process stands for Synapse here: what is counted is read from the database at the stop.
    server = SynapseProcess(config, port, process=subprocess.Popen(["sleep", "60"], start_new_session=True))
    server.stop()
    assert SynapseProcess.stored_events[str(database)] == 3


def test_the_fork_server_runs_an_app_as_python_m_would_and_refuses_what_it_did_not_import(tmp_path: Path) -> None:
    output = tmp_path / "output.log"
    server = ForkServer()
    try:
        asked_for_help = server.start(
            ["synapse.app.homeserver", "--help"], cwd=str(tmp_path), output=str(output), env=os.environ
        )
        assert asked_for_help.wait(60) == 0
        assert "usage:" in output.read_text()

        mistaken = server.start(
            ["synapse.app.homeserver", "--no-such-flag"], cwd=str(tmp_path), output=str(output), env=os.environ
        )
        assert mistaken.wait(60) == 2
        assert "unrecognized arguments: --no-such-flag" in output.read_text()

        # Starts asked for at once (threads of one client) are all answered, none left waiting,
        # whatever order the threads wake up in.
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            at_once = list(
                pool.map(
                    lambda _: server.start(
                        ["synapse.app.homeserver", "--help"], cwd=str(tmp_path), output=str(output), env=os.environ
                    ),
                    range(8),
                )
            )
        assert [process.wait(60) for process in at_once] == [0] * 8
        assert len({process.pid for process in at_once}) == 8

        with pytest.raises(ForkServerError, match="not an app the fork server imported"):
            server.start(["json.tool"], cwd=str(tmp_path), output=str(output), env=os.environ)
        # A variable Synapse reads while importing, set otherwise than when the fork server imported.
        frozen = {**os.environ, "SYNAPSE_USE_FROZEN_DICTS": "1"}
        with pytest.raises(ForkServerError, match="environment differs"):
            server.start(["synapse.app.homeserver", "--help"], cwd=str(tmp_path), output=str(output), env=frozen)
    finally:
        server.close()


def test_answers_reach_their_own_requesters_in_whatever_order_they_arrive(tmp_path: Path) -> None:
    # A stand-in fork server that collects three requests, then answers them newest first, in
    # one write: the thread that asked last sees its answer before the others see theirs.
    stand_in = tmp_path / "stand_in.py"
    stand_in.write_text(
        "import json, sys\n"
        "requests = [json.loads(sys.stdin.readline()) for _ in range(3)]\n"
        "answers = [json.dumps({'id': r['id'], 'refused': 'answer to ' + r['argv'][0]}) for r in requests]\n"
        "sys.stdout.write(''.join(a + '\\n' for a in reversed(answers)))\n"
        "sys.stdout.flush()\n"
        "sys.stdin.read()\n"
    )
    python = tmp_path / "python"
    python.write_text(f"#!/bin/sh\nexec {sys.executable} {stand_in}\n")
    python.chmod(0o755)
    server = ForkServer(str(python))

    def ask(app: str) -> str:
        with pytest.raises(ForkServerError) as refused:
            server.start([app], cwd=str(tmp_path), output=str(tmp_path / "output.log"), env={})
        return str(refused.value)

    try:
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            answers = list(pool.map(ask, ["first", "second", "third"]))
    finally:
        server.close()
    assert answers == ["answer to first", "answer to second", "answer to third"]
