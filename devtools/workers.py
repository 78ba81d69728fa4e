"""A Synapse cluster for tests and demos: one main process and generic workers on PostgreSQL + Redis.

This extends `devtools.homeserver` (same config rendering, keys, process
class and registration) with what Synapse's scale-out needs:

- main: its client listener, a `replication` listener named in
  `instance_map`, a metrics listener;
- every process: `redis.enabled`, `enable_metrics`, the same database;
- workers (`synapse.app.generic_worker`): a client listener and a metrics
  listener each, their own log file;
- `run_background_tasks_on` names one worker, so Synapse's and Qunzu's
  background jobs run there and nowhere else.

Routing: tests address processes directly (`cluster.process("worker1")`);
every client request a generic worker can serve is listed in `WORKER_ROUTES`
(Synapse's documented worker routes), which is also what the docker stack's
reverse proxy sends to the workers (`docker/nginx/workers.conf`, kept equal
by a test). `route_for(path)` says where a path would go.

Redis pub/sub channels are prefixed with the server name, not scoped by
database, so every cluster gets a server name of its own: two clusters on one
Redis (two test runs at once) never hear each other.
"""

from __future__ import annotations

import re
import secrets
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from policies.homeserver import (
    GENERIC_WORKER,
    MAIN_INSTANCE,
    generic_worker,
    http_listener,
    metrics_listener,
    worker_topology,
)

from .homeserver import (
    SERVICE_LOCALPART,
    HomeserverError,
    PortInUse,
    SynapseProcess,
    file_log_config,
    free_port,
    module_block,
    prepare_database,
    render_config,
)

# Synapse's documented routes for generic workers (docs/workers.md, "Synapse.app.generic_worker"),
# restricted to what a generic worker serves without extra stream writers. Everything else
# (admin APIs, media, account data, presence, /_synapse/client/*) goes to main.
WORKER_ROUTES: tuple[str, ...] = (
    # Sync
    r"^/_matrix/client/(r0|v3)/sync$",
    r"^/_matrix/client/(api/v1|r0|v3)/events$",
    r"^/_matrix/client/(api/v1|r0|v3)/initialSync$",
    r"^/_matrix/client/(api/v1|r0|v3)/rooms/[^/]+/initialSync$",
    # Client API reads
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/createRoom$",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/publicRooms$",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/joined_members$",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/context/.*$",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/members$",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/state$",
    r"^/_matrix/client/v1/rooms/.*/hierarchy$",
    r"^/_matrix/client/(v1|unstable)/rooms/.*/relations/",
    r"^/_matrix/client/v1/rooms/.*/threads$",
    r"^/_matrix/client/(r0|v3|unstable)/account/whoami$",
    r"^/_matrix/client/(r0|v3|unstable)/devices$",
    r"^/_matrix/client/versions$",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/event/",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/joined_rooms$",
    r"^/_matrix/client/v1/rooms/.*/timestamp_to_event$",
    r"^/_matrix/client/(api/v1|r0|v3|unstable/.*)/rooms/.*/aliases",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/search$",
    r"^/_matrix/client/(r0|v3|unstable)/user/.*/filter(/|$)",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/directory/room/.*$",
    r"^/_matrix/client/(r0|v3|unstable)/capabilities$",
    r"^/_matrix/client/(r0|v3|unstable)/notifications$",
    # Encryption
    r"^/_matrix/client/(r0|v3|unstable)/keys/query$",
    r"^/_matrix/client/(r0|v3|unstable)/keys/changes$",
    r"^/_matrix/client/(r0|v3|unstable)/keys/claim$",
    r"^/_matrix/client/(r0|v3|unstable)/room_keys/",
    r"^/_matrix/client/(r0|v3|unstable)/keys/upload$",
    # Registration and login
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/login$",
    r"^/_matrix/client/(r0|v3|unstable)/register$",
    r"^/_matrix/client/(r0|v3|unstable)/register/available$",
    r"^/_matrix/client/v1/register/m.login.registration_token/validity$",
    r"^/_matrix/client/(r0|v3|unstable)/password_policy$",
    # Event sending: where Qunzu's gates run (posting, joining, creating, inviting)
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/redact",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/send",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/state/",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/(join|invite|leave|ban|unban|kick)$",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/join/",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/knock/",
    r"^/_matrix/client/(api/v1|r0|v3|unstable)/profile/",
    # User directory
    r"^/_matrix/client/(r0|v3|unstable)/user_directory/search$",
)
_COMPILED_ROUTES = tuple(re.compile(route) for route in WORKER_ROUTES)


def route_for(path: str) -> str:
    """Where the reverse proxy sends a request path: `"workers"` or `"main"`."""
    return "workers" if any(route.search(path) for route in _COMPILED_ROUTES) else MAIN_INSTANCE


@dataclass
class Cluster:
    """A main Synapse process and its generic workers sharing one PostgreSQL database and Redis."""

    data_dir: Path
    server_name: str
    main: SynapseProcess
    workers: dict[str, SynapseProcess]
    metrics_ports: dict[str, int]
    background_instance: str
    python: str = sys.executable
    _by_name: dict[str, SynapseProcess] = field(init=False)

    def __post_init__(self) -> None:
        self._by_name = {MAIN_INSTANCE: self.main, **self.workers}

    @property
    def names(self) -> list[str]:
        """Instance names: `main` first, then the workers."""
        return list(self._by_name)

    @property
    def service_account(self) -> str:
        return f"@{SERVICE_LOCALPART}:{self.server_name}"

    def process(self, name: str) -> SynapseProcess:
        """The process called `name` (`main`, `worker1`, …)."""
        return self._by_name[name]

    def log_path(self, name: str) -> Path:
        """Synapse's log file of one process."""
        return self._by_name[name].config_path.parent / "homeserver.log"

    def metrics_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.metrics_ports[name]}/_synapse/metrics"

    def prepare_database(self, timeout: float = 120.0) -> None:
        """Create Synapse's own schema without starting a server (and without loading modules).

        Workers refuse an uninitialised database, so a cluster on a fresh
        database is either started main-first or prepared with this; the
        latter lets main and workers then start truly at once.

        Raises:
            HomeserverError: the schema could not be prepared.
        """
        prepare_database(self.main.config_path, self.python, timeout)

    def start(self, timeout: float = 90.0) -> None:
        """Start every process at once and wait until each answers with Qunzu ready.

        Raises:
            HomeserverError: a process exited or did not become ready; the others are stopped.
        """
        processes = list(self._by_name.values())
        with ThreadPoolExecutor(len(processes)) as pool:
            futures = [pool.submit(process.start, timeout) for process in processes]
            errors = [exc for future in futures if (exc := future.exception()) is not None]
        if errors:
            self.stop()
            error = PortInUse if any(isinstance(error, PortInUse) for error in errors) else HomeserverError
            raise error("; ".join(str(error) for error in errors))

    def stop(self) -> None:
        """Stop workers first, then main (so workers never lose replication mid-request)."""
        for process in self.workers.values():
            process.stop()
        self.main.stop()


def render_cluster(
    data_dir: Path,
    *,
    database: Mapping[str, Any],
    workers: int = 2,
    module_config: Mapping[str, Any] | None = None,
    background_instance: str = "worker1",
    redis_host: str = "127.0.0.1",
    redis_port: int = 6379,
    log_level: str = "INFO",
    server_name: str | None = None,
    modules: list[dict[str, Any]] | None = None,
) -> Cluster:
    """Write the configs of a main process and `workers` generic workers into `data_dir`.

    Args:
        data_dir: Where configs, keys and logs go (`homeserver.yaml` for main,
            `<worker>/<worker>.yaml` for each worker).
        database: Synapse's `database` block; must be PostgreSQL (workers need it).
        workers: How many generic workers (`worker1` … `workerN`).
        module_config: Keys merged into Qunzu's development module block.
        background_instance: The instance named in `run_background_tasks_on`.
        redis_host: Redis for replication.
        redis_port: Redis port.
        log_level: The root log level of every process.
        server_name: The server name (a fresh `qunzu-….localhost` if not given); pass the previous one
            to render again on new ports (`PortInUse`) over the same database.
        modules: Synapse's `modules:` block; Qunzu's development block (with `module_config`)
            when not given, `[]` for a vanilla cluster.

    Returns:
        The cluster, not started.
    """
    server_name = server_name or f"qunzu-{secrets.token_hex(4)}.localhost"
    port, replication_port = free_port(), free_port()
    metrics_ports = {MAIN_INSTANCE: free_port()}
    worker_names = [f"worker{i}" for i in range(1, workers + 1)]
    block = module_block(
        data_dir, **{"service_account": f"@{SERVICE_LOCALPART}:{server_name}", **(module_config or {})}
    )
    main_config = render_config(
        data_dir,
        port=port,
        database=database,
        modules=[block] if modules is None else modules,
        log_level=log_level,
        extra={
            "server_name": server_name,
            "listeners": [
                http_listener(port, ["client"]),
                http_listener(replication_port, ["replication"]),
                metrics_listener(metrics_ports[MAIN_INSTANCE]),
            ],
            **worker_topology(
                main_host="127.0.0.1",
                replication_port=replication_port,
                redis_host=redis_host,
                redis_port=redis_port,
                background_instance=background_instance,
            ),
            "enable_metrics": True,
            # Tests register many accounts; the default 12 rounds cost ~0.25 s each.
            "bcrypt_rounds": 4,
        },
    )
    main = SynapseProcess(main_config, port)
    processes: dict[str, SynapseProcess] = {}
    for name in worker_names:
        worker_dir = data_dir / name
        worker_dir.mkdir(parents=True, exist_ok=True)
        worker_port, metrics_ports[name] = free_port(), free_port()
        log_config = worker_dir / "log.yaml"
        log_config.write_text(yaml.safe_dump(file_log_config(worker_dir / "homeserver.log", log_level)))
        worker_config = worker_dir / f"{name}.yaml"
        worker_config.write_text(
            yaml.safe_dump(
                generic_worker(
                    name,
                    listeners=[http_listener(worker_port, ["client"]), metrics_listener(metrics_ports[name])],
                    log_config=str(log_config),
                    pid_file=str(worker_dir / f"{name}.pid"),
                ),
                sort_keys=False,
            )
        )
        processes[name] = SynapseProcess(worker_config, worker_port, app=GENERIC_WORKER, base_configs=(main_config,))
    return Cluster(data_dir, server_name, main, processes, metrics_ports, background_instance)


def render_nginx_conf(
    main: str = "synapse:8008", workers: tuple[str, ...] = ("synapse-worker1:8081", "synapse-worker2:8082")
) -> str:
    """The reverse proxy of the docker workers stack: `WORKER_ROUTES` to the workers, the rest to main.

    `docker/nginx/workers.conf` is this text; a test keeps them equal
    (regenerate with `python -m devtools.workers > docker/nginx/workers.conf`).
    """
    servers = "\n".join(f"    server {worker};" for worker in workers)
    locations = "\n".join(
        f"    location ~ {route} {{\n        proxy_pass http://synapse_workers;\n    }}" for route in WORKER_ROUTES
    )
    return f"""# Generated by `python -m devtools.workers` from devtools/workers.py (WORKER_ROUTES): do not edit.
# Synapse's documented generic-worker routes go to the workers, everything else to main
# (admin APIs, media, reports, /_synapse/client/... including Qunzu's API).

upstream synapse_main {{
    server {main};
}}

# One user's requests stick to one worker (sync caches, per-user ordering).
upstream synapse_workers {{
    hash $http_authorization consistent;
{servers}
}}

server {{
    listen 8008;
    client_max_body_size 50M;

    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_http_version 1.1;
    proxy_read_timeout 120s;

{locations}

    location / {{
        proxy_pass http://synapse_main;
    }}
}}
"""


if __name__ == "__main__":
    print(render_nginx_conf(), end="")
