"""The harness itself: a server whose port another program took first starts again on a new one;
servers fork from one process that imported Synapse, which refuses what it did not import; a
stopped server's events are counted for the session's summary."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import socket
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.forkserver import ForkedProcess, ForkServer, ForkServerError
from devtools.homeserver import SynapseProcess, free_port, request_json

from . import conftest
from .conftest import ServerFactory


def test_a_port_taken_before_synapse_binds_it_means_a_new_start_on_a_new_port(
    make_synapse: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", free_port()))
        squatter.listen()
        taken = squatter.getsockname()[1]
        # The race under load: the port was free when it was chosen, another program has it now.
        ports: Iterator[int] = iter([taken])
        monkeypatch.setattr(conftest, "free_port", lambda: next(ports, None) or free_port())

        server = make_synapse.start()

        assert server.port != taken
        assert server.is_healthy()
        # Both starts forked from the session's fork server (the default of a test run).
        assert SynapseProcess.fork and isinstance(server.process, ForkedProcess)
        first = make_synapse.started[0]
        assert first.port == taken
        assert first.process is not None and first.process.poll() is not None
        # Only `PortInUse` starts again: any other failure of the first start would have been raised.
        assert "Address already in use" in first.stderr_tail()

    # The session's work counter: a stopped server's events, read from its database afterwards.
    admin = server.register("counted", admin=True)
    request_json("POST", f"{server.base_url}/_matrix/client/v3/createRoom", {}, token=admin.access_token)
    server.stop()
    database = str(server.config_path.parent / "homeserver.db")
    with contextlib.closing(sqlite3.connect(database)) as connection:
        (stored,) = connection.execute("SELECT count(*) FROM events").fetchone()
    assert stored >= 10  # a room: its creation, its group state, the service account's invite and join…
    assert SynapseProcess.stored_events[database] == stored


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
