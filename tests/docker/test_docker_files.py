"""The docker stack, tested without a docker engine.

What can be checked here is checked for real: the compose files and the
nginx routes render and say what the README promises, and the entrypoint
(the same script the images run) generates secrets and configs, boots Synapse
with the module against the local PostgreSQL (also as main + workers on
Redis), and its first-run init creates the bot account and the moderation
room, twice without harm.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import load_config
from devtools.homeserver import PortInUse, SynapseProcess, free_port, free_ports
from devtools.workers import WORKER_ROUTES, render_nginx_conf
from tests.e2e.conftest import PORT_ATTEMPTS, pg_database  # noqa: F401  (fixture)
from tests.e2e.worker_fixtures import redis_unreachable_reason

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
ENTRYPOINT = DOCKER / "entrypoint.py"
SYNAPSE_PIN = "1.163.2"


def compose(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((DOCKER / name).read_text()))


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        ("docker-compose.yml", {"secrets", "postgres", "synapse", "init", "bot"}),
        (
            "docker-compose.workers.yml",
            {"secrets", "postgres", "redis", "synapse", "synapse-worker1", "synapse-worker2", "proxy", "init", "bot"},
        ),
    ],
)
def test_compose_files_have_the_services_healthchecks_and_volumes(file: str, expected: set[str]) -> None:
    stack = compose(file)
    services = stack["services"]
    assert set(services) == expected
    one_shot = {name for name, service in services.items() if service.get("restart") == "no"}
    assert one_shot == {"secrets", "init"}
    for name, service in services.items():
        if name not in one_shot:
            assert "healthcheck" in service, f"{name} has no healthcheck"
            assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
    # Order of a first start: secrets → postgres → synapse → init → bot.
    assert services["postgres"]["depends_on"]["secrets"]["condition"] == "service_completed_successfully"
    assert services["synapse"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["bot"]["depends_on"]["init"]["condition"] == "service_completed_successfully"
    assert {"pgdata", "data", "secrets", "bot"} <= set(stack["volumes"])
    # Synapse refuses a database that is not C-collated.
    assert "--lc-collate=C" in services["postgres"]["environment"]["POSTGRES_INITDB_ARGS"]


def test_the_workers_stack_runs_background_jobs_on_one_worker_and_routes_through_nginx() -> None:
    services = compose("docker-compose.workers.yml")["services"]
    env = services["synapse"]["environment"]
    assert env["QUNZU_WORKERS"] == "worker1,worker2"
    assert env["QUNZU_BACKGROUND_INSTANCE"] == "worker1"
    for worker in ("synapse-worker1", "synapse-worker2"):
        # Workers refuse a database main has not prepared: they start after main is healthy.
        assert services[worker]["depends_on"]["synapse"]["condition"] == "service_healthy"
    assert "./nginx/workers.conf:/etc/nginx/conf.d/default.conf:ro" in services["proxy"]["volumes"]


def test_the_nginx_config_is_the_one_generated_from_the_documented_worker_routes() -> None:
    conf = (DOCKER / "nginx" / "workers.conf").read_text()
    assert conf == render_nginx_conf(), "regenerate: python -m devtools.workers > docker/nginx/workers.conf"
    for route in WORKER_ROUTES:
        assert f"location ~ {route} {{" in conf


def test_the_images_build_on_the_official_synapse_image_at_the_pinned_version() -> None:
    synapse = (DOCKER / "synapse" / "Dockerfile").read_text()
    assert f"FROM ghcr.io/element-hq/synapse:v{SYNAPSE_PIN}\n" in synapse
    assert f"matrix-synapse[postgres,redis]=={SYNAPSE_PIN}" in (ROOT / "pyproject.toml").read_text()
    assert "pip install --no-cache-dir /src/qunzu" in synapse
    bot = (DOCKER / "bot" / "Dockerfile").read_text()
    assert '"/src/qunzu[bot]"' in bot


@pytest.fixture
def stack_env(tmp_path: Path, pg_database: str) -> Iterator[dict[str, str]]:  # noqa: F811
    """The environment the compose file gives the containers, pointed at this machine."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("QUNZU_", "POSTGRES_", "SYNAPSE_"))}
    new_ports(env)
    env.update(
        SYNAPSE_SERVER_NAME=f"stack-{pg_database[-8:]}.localhost",
        QUNZU_BIND_ADDRESS="127.0.0.1",
        QUNZU_SECRETS_DIR=str(tmp_path / "secrets"),
        QUNZU_DATA_DIR=str(tmp_path / "data"),
        QUNZU_BOT_DIR=str(tmp_path / "bot"),
        QUNZU_REALNAME_PROVIDER="manual",
        QUNZU_INIT_TIMEOUT="60",
        POSTGRES_HOST="127.0.0.1",
        POSTGRES_USER="postgres",
        POSTGRES_DB=pg_database,
        # Local PostgreSQL uses trust auth: no password file.
        POSTGRES_PASSWORD_FILE=str(tmp_path / "no-password"),
    )
    yield env


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


def start_stack(env: dict[str, str], workers: tuple[str, ...] = ()) -> tuple[Path, list[SynapseProcess]]:
    """Render the stack's configs and start main, then its workers; on new ports if one was taken meanwhile.

    Returns:
        The main config and the started processes, main first (the caller stops them).
    """
    for attempt in range(1, PORT_ATTEMPTS + 1):
        config_path = Path(run_entrypoint(env, "render").strip())
        workers_dir = Path(env["QUNZU_DATA_DIR"]) / "workers"
        processes = [SynapseProcess(config_path, int(env["QUNZU_HTTP_PORT"]))]
        processes += [
            SynapseProcess(
                workers_dir / f"{name}.yaml",
                int(env["QUNZU_WORKER_PORT"]) + index,
                app="synapse.app.generic_worker",
                base_configs=(config_path,),
            )
            for index, name in enumerate(workers)
        ]
        try:
            for process in processes:
                process.start(timeout=90)
            return config_path, processes
        except PortInUse:
            for process in reversed(processes):
                process.stop()
            if attempt == PORT_ATTEMPTS:
                raise
            new_ports(env, workers=len(workers))
    raise AssertionError("unreachable")


def run_entrypoint(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ENTRYPOINT), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"entrypoint {args}: {result.returncode}\n{result.stderr}"
    return result.stdout


def test_secrets_are_generated_once_and_kept(stack_env: dict[str, str]) -> None:
    run_entrypoint(stack_env, "secrets")
    directory = Path(stack_env["QUNZU_SECRETS_DIR"])
    first = {path.name: path.read_text() for path in directory.iterdir()}
    assert {"registration", "macaroon", "form", "postgres_password", "bot_password", "qunzu.key", "signing.key"} <= set(
        first
    )
    assert oct((directory / "qunzu.key").stat().st_mode & 0o777) == "0o600"
    run_entrypoint(stack_env, "secrets")
    assert {path.name: path.read_text() for path in directory.iterdir()} == first


@pytest.mark.e2e
def test_the_stack_config_boots_synapse_with_the_module_and_init_sets_up_bot_and_moderation_room(
    stack_env: dict[str, str],
) -> None:
    config_path, (synapse,) = start_stack(stack_env)
    try:
        config = yaml.safe_load(config_path.read_text())
        assert config["database"]["name"] == "psycopg2"
        assert config["modules"][0]["module"] == "synapse_module.QunzuModule"
        assert config["redaction_retention_period"] is None
        assert config["presence"] == {"enabled": False}  # status messages: text no module can screen
        assert "instance_map" not in config
        assert synapse.module_state() == "ready"
        result = subprocess.run(
            [sys.executable, str(ENTRYPOINT), "healthcheck", synapse.base_url], env=stack_env, check=False
        )
        assert result.returncode == 0

        first = json.loads(run_entrypoint(stack_env, "init"))
        assert first["user_id"] == f"@qunzu:{stack_env['SYNAPSE_SERVER_NAME']}"
        assert first["moderation_room"].startswith("!")
        bot = load_config(first["bot_config"])
        assert bot.user_id == first["user_id"]
        assert bot.moderation_room == first["moderation_room"]
        assert bot.homeserver == synapse.base_url

        # A restart of the stack runs init again: same account, same room.
        again = json.loads(run_entrypoint(stack_env, "init"))
        assert again["moderation_room"] == first["moderation_room"]
    finally:
        synapse.stop()


@pytest.mark.e2e
def test_the_workers_config_boots_main_and_two_workers_on_redis(stack_env: dict[str, str]) -> None:
    reason = redis_unreachable_reason()
    if reason is not None:
        pytest.skip(f"workers need Redis: {reason}")
    new_ports(stack_env, workers=2)
    stack_env.update(
        QUNZU_WORKERS="worker1,worker2",
        QUNZU_MAIN_HOST="127.0.0.1",
        REDIS_HOST="127.0.0.1",
    )
    config_path, processes = start_stack(stack_env, ("worker1", "worker2"))
    try:
        config = yaml.safe_load(config_path.read_text())
        replication = int(stack_env["QUNZU_REPLICATION_PORT"])
        assert config["instance_map"] == {"main": {"host": "127.0.0.1", "port": replication}}
        assert config["redis"]["enabled"] is True
        assert config["run_background_tasks_on"] == "worker1"
        for worker in processes[1:]:
            assert worker.module_state() == "ready"
    finally:
        for process in reversed(processes):
            process.stop()


@pytest.mark.parametrize(
    ("federation", "resources", "whitelist"),
    [
        ({}, ["client"], []),
        ({"partner_servers": ["partner.example.cn"]}, ["client", "federation"], ["partner.example.cn"]),
        ({"allow_remote_users": True}, ["client", "federation"], None),
    ],
)
def test_the_stack_federates_only_as_far_as_the_policy_admits_other_servers(
    stack_env: dict[str, str], tmp_path: Path, federation: dict[str, Any], resources: list[str], whitelist: Any
) -> None:
    """Art. 6: no federation listener when nobody elsewhere may be in a group; partners only when listed."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump({"realname": {"federation": federation}}))
    stack_env["QUNZU_POLICY_FILE"] = str(policy)
    config = yaml.safe_load(Path(run_entrypoint(stack_env, "render").strip()).read_text())
    assert config["listeners"][0]["resources"][0]["names"] == resources
    assert config.get("federation_domain_whitelist", None) == whitelist


@pytest.mark.parametrize("image", ["synapse", "bot"])
def test_the_image_s_copy_lines_hold_every_package_pip_is_told_to_install(image: str, tmp_path: Path) -> None:
    # What `pip install /src/qunzu` does in the image, on exactly the files the Dockerfile copies
    # (without a docker engine here).
    source = tmp_path / "src"
    lines = (DOCKER / image / "Dockerfile").read_text().splitlines()
    copies = [line.split()[1:] for line in lines if line.startswith("COPY ")]
    for *names, target in (args for args in copies if args[-1].startswith("/src/qunzu")):
        for name in names:
            destination = source / Path(target).relative_to("/src/qunzu")
            if (ROOT / name).is_dir():
                shutil.copytree(ROOT / name, destination)
            else:
                destination.mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / name, destination)
    # pip builds the packages with setuptools' build_py, which stops at a listed package it cannot find.
    built = tmp_path / "built"
    result = subprocess.run(
        [sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py", "-d", str(built)],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    for package in packages:
        assert (built / package.replace(".", "/") / "__init__.py").is_file(), package
    assert (built / "policies" / "default.yaml").is_file()
