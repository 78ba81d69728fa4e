"""The docker stack pointed at this machine: the environment the compose files give, its configs, its processes.

`docker/entrypoint.py` is the script the images run. Here it renders the configs for
127.0.0.1 (the local PostgreSQL and Redis, free ports) and the processes start outside
docker. Each process reads one more config file after the stack's own (`_overlay`):
its log goes to a file beside that file, so that a failing test shows what each
process logged, and passwords are hashed cheaply for the hundreds of accounts the
tests register. Everything else is the stack's config as production runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from devtools.homeserver import PortInUse, SynapseProcess, file_log_config, free_port, free_ports, prepare_database
from devtools.workers import Cluster
from policies.homeserver import GENERIC_WORKER, MAIN_INSTANCE

from .conftest import PORT_ATTEMPTS

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "docker" / "entrypoint.py"


def stack_environment(base: Path, database: str) -> dict[str, str]:
    """The environment the compose file gives the containers, pointed at this machine.

    Args:
        base: The directory for the stack's secrets, data and bot files.
        database: A PostgreSQL database of its own (its name also makes the server name unique).
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith(("QUNZU_", "POSTGRES_", "SYNAPSE_"))}
    new_ports(env)
    env.update(
        SYNAPSE_SERVER_NAME=f"stack-{database[-8:]}.localhost",
        QUNZU_BIND_ADDRESS="127.0.0.1",
        QUNZU_SECRETS_DIR=str(base / "secrets"),
        QUNZU_DATA_DIR=str(base / "data"),
        QUNZU_BOT_DIR=str(base / "bot"),
        QUNZU_REALNAME_PROVIDER="manual",
        QUNZU_INIT_TIMEOUT="60",
        POSTGRES_HOST="127.0.0.1",
        POSTGRES_USER="postgres",
        POSTGRES_DB=database,
        # Local PostgreSQL uses trust auth: no password file.
        POSTGRES_PASSWORD_FILE=str(base / "no-password"),
    )
    return env


def new_ports(env: dict[str, str], *, workers: int = 0) -> None:
    """Free ports for the stack; the workers' client and metrics ports follow a base port (entrypoint.py)."""
    port = free_port()
    env.update(
        QUNZU_PUBLIC_BASEURL=f"http://127.0.0.1:{port}/",
        QUNZU_HTTP_PORT=str(port),
        QUNZU_SYNAPSE_URL=f"http://127.0.0.1:{port}",
    )
    if workers:
        env.update(
            QUNZU_REPLICATION_PORT=str(free_port()),
            QUNZU_WORKER_PORT=str(free_ports(workers)[0]),
            QUNZU_METRICS_PORT=str(free_ports(1 + workers)[0]),
        )


def entrypoint(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run one entrypoint command (`render`, `init`, `healthcheck`, …), whatever its exit status."""
    return subprocess.run(
        [sys.executable, str(ENTRYPOINT), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def run_entrypoint(env: dict[str, str], *args: str) -> str:
    """Run one entrypoint command that must succeed and return what it printed."""
    result = entrypoint(env, *args)
    assert result.returncode == 0, f"entrypoint {args}: {result.returncode}\n{result.stderr}"
    return result.stdout


def start_workers_stack(env: dict[str, str], workers: tuple[str, ...]) -> tuple[Path, Cluster]:
    """Render the workers stack and start main and its workers at once; on new ports if one was taken.

    Synapse's own schema is made first, so that every process starts at the same moment
    and they race for Qunzu's migration, as the containers do.

    Returns:
        Main's rendered `homeserver.yaml` and the started cluster (the caller stops it).
    """
    env.update(QUNZU_WORKERS=",".join(workers), QUNZU_MAIN_HOST="127.0.0.1", REDIS_HOST="127.0.0.1")
    for attempt in range(1, PORT_ATTEMPTS + 1):
        new_ports(env, workers=len(workers))
        config_path = Path(run_entrypoint(env, "render").strip())
        cluster = _cluster(env, config_path, workers)
        if attempt == 1:
            prepare_database(config_path)
        try:
            cluster.start()
            return config_path, cluster
        except PortInUse:
            if attempt == PORT_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _cluster(env: dict[str, str], config_path: Path, workers: tuple[str, ...]) -> Cluster:
    data = config_path.parent
    main = SynapseProcess(
        _overlay(data / "test" / MAIN_INSTANCE, "log_config", bcrypt_rounds=4),
        int(env["QUNZU_HTTP_PORT"]),
        base_configs=(config_path,),
    )
    metrics = {MAIN_INSTANCE: int(env["QUNZU_METRICS_PORT"])}
    processes: dict[str, SynapseProcess] = {}
    for index, name in enumerate(workers):
        processes[name] = SynapseProcess(
            _overlay(data / "test" / name, "worker_log_config"),
            int(env["QUNZU_WORKER_PORT"]) + index,
            app=GENERIC_WORKER,
            base_configs=(config_path, data / "workers" / f"{name}.yaml"),
        )
        metrics[name] = int(env["QUNZU_METRICS_PORT"]) + 1 + index
    background = env.get("QUNZU_BACKGROUND_INSTANCE") or workers[0]
    return Cluster(data, env["SYNAPSE_SERVER_NAME"], main, processes, metrics, background)


def _overlay(directory: Path, log_key: str, **settings: Any) -> Path:
    """The tests' last config file of one process: its log into `homeserver.log` beside it, and `settings`."""
    directory.mkdir(parents=True, exist_ok=True)
    log_config = directory / "log.yaml"
    log_config.write_text(yaml.safe_dump(file_log_config(directory / "homeserver.log", "INFO")))
    path = directory / "homeserver.yaml"
    path.write_text(yaml.safe_dump({**settings, log_key: str(log_config)}))
    return path
