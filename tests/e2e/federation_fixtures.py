"""Three Synapse servers federating on loopback, shared by one test module.

Import the fixture into a test module (pytest registers it under its name)::

    from .federation_fixtures import federation_fixture  # noqa: F401  (fixture "federation")

- ``a``: Qunzu's server, named ``127.0.0.1:<port>``, its policy lists ``c`` as a partner;
- ``b``: another server, ``127.0.0.2:<port>``, not a partner (plain Synapse);
- ``c``: a partner server, ``127.0.0.3:<port>`` (plain Synapse).

Each has its own loopback address because a server ACL matches hosts, not ports.
Federation runs over TLS with self-signed certificates (devtools/homeserver.py
``federating_config``). The three start at once (about 10 s); ``restart_a`` starts
``a`` again with other policy overrides on the same data (tests of policy changes).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.homeserver import (
    SERVICE_LOCALPART,
    SynapseProcess,
    federating_config,
    free_port,
    module_block,
    render_config,
    sqlite_database,
)

from .conftest import SERVICE_PASSWORD, TEST_SERVER_MODULE_DEFAULTS

__all__ = ["Federation", "federation_fixture"]


@dataclass
class Federation:
    """The three servers and how to reach them."""

    a: SynapseProcess
    b: SynapseProcess
    c: SynapseProcess
    base: Path

    @staticmethod
    def name(server: SynapseProcess) -> str:
        return str(yaml.safe_load(server.config_path.read_text())["server_name"])

    @property
    def service_account(self) -> str:
        return f"@{SERVICE_LOCALPART}:{self.name(self.a)}"

    def restart_a(self, federation_policy: dict[str, Any]) -> None:
        """Stop `a` and start it again on the same data with `realname.federation` set to this."""
        self.a.stop()
        _render_a(self.base / "a", self.a.port, _federation_port(self.a), federation_policy)
        self.a.start(90)


def _federation_port(server: SynapseProcess) -> int:
    config = yaml.safe_load(server.config_path.read_text())
    return int(config["listeners"][1]["port"])


def _render_a(data_dir: Path, client_port: int, federation_port: int, federation_policy: dict[str, Any]) -> Path:
    extra = federating_config(data_dir, host="127.0.0.1", client_port=client_port, federation_port=federation_port)
    policy_file = data_dir / "policy.yaml"
    policy_file.write_text(yaml.safe_dump({"realname": {"federation": federation_policy}}))
    module = module_block(
        data_dir,
        service_account=f"@{SERVICE_LOCALPART}:{extra['server_name']}",
        policy_file=str(policy_file),
        **TEST_SERVER_MODULE_DEFAULTS,
    )
    return render_config(
        data_dir,
        port=client_port,
        database=sqlite_database(data_dir / "homeserver.db"),
        modules=[module],
        extra=extra,
    )


def _render_plain(data_dir: Path, host: str) -> SynapseProcess:
    client_port = free_port()
    extra = federating_config(data_dir, host=host, client_port=client_port, federation_port=free_port())
    path = render_config(
        data_dir, port=client_port, database=sqlite_database(data_dir / "homeserver.db"), modules=[], extra=extra
    )
    return SynapseProcess(path, client_port)


@pytest.fixture(scope="module", name="federation")
def federation_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    """Qunzu's server `a`, a non-partner `b` and a partner `c`, all federating (module-scoped)."""
    base = tmp_path_factory.mktemp("federation")
    b = _render_plain(base / "b", "127.0.0.2")
    c = _render_plain(base / "c", "127.0.0.3")
    client_port = free_port()
    a = SynapseProcess(
        _render_a(base / "a", client_port, free_port(), {"partner_servers": [Federation.name(c)]}), client_port
    )
    servers = (a, b, c)
    try:
        with ThreadPoolExecutor(len(servers)) as pool:
            for started in [pool.submit(server.start, 90) for server in servers]:
                started.result()
        # As in production, Qunzu's service account exists before anyone creates a room (conftest.ServerFactory).
        a.ensure_account(SERVICE_LOCALPART, SERVICE_PASSWORD)
        yield Federation(a, b, c, base)
    finally:
        for server in servers:
            server.stop()
