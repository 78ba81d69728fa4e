"""Ports for test servers (devtools.homeserver.free_ports): free, never handed out twice, apart per worker."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from devtools import homeserver
from devtools.homeserver import free_port, free_ports


def ephemeral_range() -> range:
    low, high = (int(part) for part in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    return range(low, high + 1)


def test_ports_are_below_the_ephemeral_range_and_never_handed_out_twice() -> None:
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == 200
    assert not set(ports) & set(ephemeral_range())


def test_a_block_is_consecutive_and_every_port_in_it_can_be_bound() -> None:
    block = free_ports(3)
    assert block == list(range(block[0], block[0] + 3))
    sockets = []
    try:
        for port in block:
            sock = socket.socket()
            sockets.append(sock)
            sock.bind(("127.0.0.1", port))
    finally:
        for sock in sockets:
            sock.close()


def test_a_port_in_use_is_never_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    # Two free ports from this worker's own slice, below the ephemeral range: no other worker and
    # no outgoing connection takes them meanwhile (an ephemeral port's neighbour often was taken).
    busy = next(
        port
        for port in homeserver._port_slice()
        if not {port, port + 1} & homeserver._handed_out
        and homeserver._bindable(port)
        and homeserver._bindable(port + 1)
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", busy))
        # Two candidates: the busy port and the next one; only the next one is ever handed out, once.
        monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # the whole range, not a worker's slice
        monkeypatch.setattr(homeserver, "_PORTS", range(busy, busy + 2))
        monkeypatch.setattr(homeserver, "_handed_out", set())
        assert free_port() == busy + 1
        with pytest.raises(homeserver.HomeserverError, match="no 1 consecutive free ports"):
            free_port()


def test_xdist_workers_draw_from_separate_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    slices = []
    for worker in ("gw0", "gw1"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        slices.append(set(homeserver._port_slice()))
    assert slices[0] and slices[1]
    assert not slices[0] & slices[1]
