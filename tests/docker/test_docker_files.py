"""The docker stack, tested without a docker engine.

What can be checked here is checked for real: the compose files and the
nginx routes render and say what the README promises, and the entrypoint
(the same script the images run) generates secrets and configs. The workers
stack it renders boots with the module against the local PostgreSQL and Redis,
and its first-run init creates the bot account and the moderation room, twice
without harm: tests/e2e/test_workers.py runs its scale-out tests on that stack.
The one-process config is rendered and read here.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.workers import WORKER_ROUTES, render_nginx_conf
from tests.e2e.conftest import pg_database  # noqa: F401  (fixture)
from tests.e2e.docker_stack import ROOT, entrypoint, run_entrypoint, stack_environment

DOCKER = ROOT / "docker"
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
def stack_env(tmp_path: Path, pg_database: str) -> dict[str, str]:  # noqa: F811
    """The environment the compose file gives the containers, pointed at this machine."""
    return stack_environment(tmp_path, pg_database)


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


def test_the_one_process_stack_config_has_no_replication_and_keeps_what_the_regulations_need(
    stack_env: dict[str, str],
) -> None:
    config = yaml.safe_load(Path(run_entrypoint(stack_env, "render").strip()).read_text())
    assert config["database"]["name"] == "psycopg2"
    assert config["modules"][0]["module"] == "synapse_module.QunzuModule"
    assert config["redaction_retention_period"] is None
    assert config["presence"] == {"enabled": False}  # status messages: text no module can screen
    assert "instance_map" not in config
    assert "redis" not in config or not config["redis"].get("enabled")
    assert "run_background_tasks_on" not in config
    assert config["modules"][0]["config"]["greet_new_accounts"] is True  # QUNZU_GREET_NEW_ACCOUNTS unset


def test_a_setting_that_is_neither_true_nor_false_stops_the_render_with_one_clear_line(
    stack_env: dict[str, str],
) -> None:
    stack_env["QUNZU_GREET_NEW_ACCOUNTS"] = "ja"
    result = entrypoint(stack_env, "render")
    assert result.returncode != 0
    assert "QUNZU_GREET_NEW_ACCOUNTS must be true or false, not 'ja'" in result.stderr
    assert "Traceback" not in result.stderr


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
