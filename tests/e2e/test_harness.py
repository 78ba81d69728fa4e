"""The harness itself: a server whose port another program took first starts again on a new one."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from devtools.homeserver import free_port

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
        first = make_synapse.started[0]
        assert first.port == taken
        assert first.process is not None and first.process.poll() is not None
        # Only `PortInUse` starts again: any other failure of the first start would have been raised.
        assert "Address already in use" in first.stderr_tail()
