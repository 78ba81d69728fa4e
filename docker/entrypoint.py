#!/usr/bin/env python3
"""Entrypoint of Qunzu's docker images; runs just as well outside docker.

Commands (all settings come from environment variables, listed in docker/README.md):

    entrypoint.py secrets              generate missing secrets into $QUNZU_SECRETS_DIR (idempotent)
    entrypoint.py render               write homeserver.yaml (+ worker configs) into $QUNZU_DATA_DIR
    entrypoint.py synapse [INSTANCE]   render, then exec Synapse: main, or the generic worker INSTANCE
    entrypoint.py init                 first run: the bot account, the moderation room, bot.yaml
    entrypoint.py healthcheck URL      exit 0 when URL/health answers and Qunzu (if loaded) is ready
    entrypoint.py bot                  wait for bot.yaml from `init`, then exec the bot

It needs the standard library, PyYAML, the project's `policies` (installed in
both images: the policy's federation settings and the parts of the homeserver
config every deployment shares, `policies/homeserver.py`) and, to create the
signing key, `signedjson` (part of Synapse).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from policies import load_policy
from policies.homeserver import (
    federation_domain_whitelist,
    generic_worker,
    http_listener,
    metrics_listener,
    record_keeping,
    unscreened_texts_off,
    worker_topology,
)

QUNZU_HEALTH = "/_synapse/client/qunzu/v1/health"
# Set by the Dockerfiles: only there does the entrypoint change owners and drop root.
IN_IMAGE = os.environ.get("QUNZU_IN_IMAGE") == "1"
SECRET_NAMES = ("registration", "macaroon", "form", "postgres_password", "bot_password")


class EntrypointError(Exception):
    """A setting is missing or a step failed; the message says which."""


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None or value == "":
        raise EntrypointError(f"the environment variable {name} is required")
    return value


def _flag(name: str, *, default: bool) -> bool:
    """A `true`/`false` variable; unset or empty is `default`.

    Raises:
        EntrypointError: the value is neither.
    """
    value = os.environ.get(name, "").strip().lower()
    if value == "":
        return default
    if value not in ("true", "false"):
        raise EntrypointError(f"the environment variable {name} must be true or false, not {value!r}")
    return value == "true"


def secrets_dir() -> Path:
    return Path(os.environ.get("QUNZU_SECRETS_DIR", "/secrets"))


def data_dir() -> Path:
    return Path(os.environ.get("QUNZU_DATA_DIR", "/data"))


def ensure_secrets(directory: Path) -> dict[str, str]:
    """Create every missing secret (one file each, mode 600) and return them all."""
    directory.mkdir(parents=True, exist_ok=True)
    values: dict[str, str] = {}
    for name in SECRET_NAMES:
        path = directory / name
        if not path.exists():
            path.write_text(secrets.token_urlsafe(32) + "\n")
            path.chmod(0o600)
        values[name] = path.read_text().strip()
    key = directory / "qunzu.key"
    if not key.exists():
        # The module's identity-encryption key: base64 of 32 random bytes. Back it up.
        key.write_text(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
        key.chmod(0o600)
    signing_key = directory / "signing.key"
    if not signing_key.exists():
        from signedjson.key import generate_signing_key, write_signing_keys

        with signing_key.open("w") as handle:
            write_signing_keys(handle, [generate_signing_key("a_" + secrets.token_hex(2))])
        signing_key.chmod(0o600)
    # The postgres image reads its password as the postgres user: readable, in a private volume.
    (directory / "postgres_password").chmod(0o644)
    return values


def _postgres_password() -> str | None:
    if os.environ.get("POSTGRES_PASSWORD"):
        return os.environ["POSTGRES_PASSWORD"]
    path = Path(os.environ.get("POSTGRES_PASSWORD_FILE", str(secrets_dir() / "postgres_password")))
    return path.read_text().strip() if path.exists() else None


def workers() -> list[str]:
    """Worker instance names from QUNZU_WORKERS (comma separated; empty: a single process)."""
    return [name.strip() for name in os.environ.get("QUNZU_WORKERS", "").split(",") if name.strip()]


def worker_port(name: str) -> int:
    """Client port of a worker: QUNZU_WORKER_PORT + its index (8081, 8082, … by default)."""
    return int(os.environ.get("QUNZU_WORKER_PORT", "8081")) + workers().index(name)


def _log_config(level: str) -> dict[str, Any]:
    # Docker collects stdout; operators ship it to their log store.
    return {
        "version": 1,
        "formatters": {"precise": {"format": "%(asctime)s %(name)s %(levelname)s %(request)s %(message)s"}},
        "filters": {"context": {"()": "synapse.logging.context.LoggingContextFilter", "request": ""}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "precise", "filters": ["context"]},
        },
        "loggers": {"synapse.storage.SQL": {"level": "WARNING"}},
        "root": {"level": level, "handlers": ["console"]},
        "disable_existing_loggers": False,
    }


def homeserver_config(values: Mapping[str, str]) -> dict[str, Any]:
    """The main process's homeserver.yaml, shared by the workers."""
    server_name = env("SYNAPSE_SERVER_NAME")
    bind = os.environ.get("QUNZU_BIND_ADDRESS", "0.0.0.0")
    port = int(os.environ.get("QUNZU_HTTP_PORT", "8008"))
    data, secret_dir = data_dir(), secrets_dir()
    database_args: dict[str, Any] = {
        "user": os.environ.get("POSTGRES_USER", "synapse"),
        "database": os.environ.get("POSTGRES_DB", "synapse"),
        "host": os.environ.get("POSTGRES_HOST", "postgres"),
        "port": int(os.environ.get("POSTGRES_PORT", "5432")),
        "cp_min": 5,
        "cp_max": 10,
    }
    if (password := _postgres_password()) is not None:
        database_args["password"] = password
    module_config: dict[str, Any] = {
        "service_account": f"@{os.environ.get('QUNZU_BOT_LOCALPART', 'qunzu')}:{server_name}",
        "secrets": {"key_file": str(secret_dir / "qunzu.key")},
        "realname": {"provider": os.environ.get("QUNZU_REALNAME_PROVIDER", "manual")},
        "language": os.environ.get("QUNZU_LANGUAGE", "zh-CN"),
        "greet_new_accounts": _flag("QUNZU_GREET_NEW_ACCOUNTS", default=True),
    }
    if staff := [s.strip() for s in os.environ.get("QUNZU_STAFF", "").split(",") if s.strip()]:
        module_config["staff"] = staff
    if (policy_file := os.environ.get("QUNZU_POLICY_FILE")) and Path(policy_file).exists():
        module_config["policy_file"] = policy_file
    policy = load_policy(module_config.get("policy_file"))
    whitelist = federation_domain_whitelist(policy)
    # Behind the reverse proxy: client IPs come from X-Forwarded-For (Art. 13 network log).
    resources = ["client", "federation"] if whitelist != [] else ["client"]
    listeners = [http_listener(port, resources, bind=bind, behind_proxy=True)]
    config: dict[str, Any] = {
        "server_name": server_name,
        "public_baseurl": os.environ.get("QUNZU_PUBLIC_BASEURL") or f"https://{server_name}/",
        "pid_file": str(data / "homeserver.pid"),
        "listeners": listeners,
        "database": {"name": "psycopg2", "args": database_args},
        "log_config": str(data / "log.yaml"),
        "media_store_path": str(data / "media"),
        "signing_key_path": str(secret_dir / "signing.key"),
        "registration_shared_secret": values["registration"],
        "macaroon_secret_key": values["macaroon"],
        "form_secret": values["form"],
        "report_stats": False,
        "enable_registration": False,
        **record_keeping(policy),
        **unscreened_texts_off(),
        "federation_domain_whitelist": whitelist,
        "modules": [{"module": "synapse_module.QunzuModule", "config": module_config}],
    }
    if metrics_port := os.environ.get("QUNZU_METRICS_PORT"):
        config["enable_metrics"] = True
        listeners.append(metrics_listener(int(metrics_port), bind=bind))
    if names := workers():
        replication_port = int(os.environ.get("QUNZU_REPLICATION_PORT", "9093"))
        listeners.append(http_listener(replication_port, ["replication"], bind=bind, behind_proxy=True))
        config.update(
            worker_topology(
                main_host=os.environ.get("QUNZU_MAIN_HOST", "synapse"),
                replication_port=replication_port,
                redis_host=os.environ.get("REDIS_HOST", "redis"),
                redis_port=int(os.environ.get("REDIS_PORT", "6379")),
                background_instance=os.environ.get("QUNZU_BACKGROUND_INSTANCE", names[0]),
            )
        )
        config["worker_replication_secret"] = values["registration"]
    return config


def worker_config(name: str) -> dict[str, Any]:
    """A generic worker serving client traffic (the routes in docker/nginx/workers.conf)."""
    bind = os.environ.get("QUNZU_BIND_ADDRESS", "0.0.0.0")
    listeners = [http_listener(worker_port(name), ["client"], bind=bind, behind_proxy=True)]
    if metrics_port := os.environ.get("QUNZU_METRICS_PORT"):
        listeners.append(metrics_listener(int(metrics_port) + 1 + workers().index(name), bind=bind))
    return generic_worker(
        name,
        listeners=listeners,
        log_config=str(data_dir() / "log.yaml"),
        pid_file=str(data_dir() / f"{name}.pid"),
    )


def render() -> Path:
    """Write homeserver.yaml, log.yaml and workers/<name>.yaml; return the homeserver.yaml path."""
    values = ensure_secrets(secrets_dir())
    data = data_dir()
    (data / "media").mkdir(parents=True, exist_ok=True)
    (data / "log.yaml").write_text(yaml.safe_dump(_log_config(os.environ.get("QUNZU_LOG_LEVEL", "INFO"))))
    path = data / "homeserver.yaml"
    path.write_text(yaml.safe_dump(homeserver_config(values), allow_unicode=True, sort_keys=False))
    path.chmod(0o600)
    for name in workers():
        (data / "workers").mkdir(exist_ok=True)
        (data / "workers" / f"{name}.yaml").write_text(yaml.safe_dump(worker_config(name), sort_keys=False))
    return path


def synapse_command(instance: str | None) -> list[str]:
    """The command line that runs main (instance None or "main") or a worker."""
    config = render()
    if instance in (None, "main"):
        line = [sys.executable, "-m", "synapse.app.homeserver", "-c", str(config)]
    elif instance in workers():
        worker = data_dir() / "workers" / f"{instance}.yaml"
        line = [sys.executable, "-m", "synapse.app.generic_worker", "-c", str(config), "-c", str(worker)]
    else:
        raise EntrypointError(f"unknown worker {instance!r}; QUNZU_WORKERS lists {workers()}")
    return _as_service_user(line, [data_dir(), secrets_dir()])


def _as_service_user(line: list[str], owned: list[Path]) -> list[str]:
    """In the image (root, gosu present) run as UID:GID like the official image; elsewhere unchanged."""
    gosu = shutil.which("gosu")
    if not IN_IMAGE or os.geteuid() != 0 or gosu is None:
        return line
    uid, gid = int(os.environ.get("UID", "991")), int(os.environ.get("GID", "991"))
    for top in owned:
        for path in [top, *top.rglob("*")]:
            os.chown(path, uid, gid)
    return [gosu, f"{uid}:{gid}", *line]


def _request(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        payload = exc.read()
        try:
            return exc.code, json.loads(payload)
        except ValueError:
            return exc.code, payload.decode(errors="replace")


def healthy(base_url: str) -> bool:
    """Synapse answers /health and Qunzu (where it is loaded) says ready."""
    try:
        with urllib.request.urlopen(base_url.rstrip("/") + "/health", timeout=5) as response:
            if response.status != 200:
                return False
    except (urllib.error.URLError, OSError):
        return False
    status, body = _request("GET", base_url.rstrip("/") + QUNZU_HEALTH)
    return status == 404 or (status == 200 and isinstance(body, dict) and body.get("status") == "ready")


def first_run() -> dict[str, Any]:
    """Create the bot account and the moderation room once; write bot.yaml. Safe to run again."""
    values = ensure_secrets(secrets_dir())
    base = os.environ.get("QUNZU_SYNAPSE_URL", "http://synapse:8008").rstrip("/")
    deadline = time.monotonic() + float(os.environ.get("QUNZU_INIT_TIMEOUT", "300"))
    while not healthy(base):
        if time.monotonic() > deadline:
            raise EntrypointError(f"Synapse at {base} did not become ready")
        time.sleep(1)
    server_name = env("SYNAPSE_SERVER_NAME")
    localpart = os.environ.get("QUNZU_BOT_LOCALPART", "qunzu")
    user_id = f"@{localpart}:{server_name}"
    password = values["bot_password"]
    token = _register_or_login(base, values["registration"], localpart, user_id, password)

    bot_dir = Path(os.environ.get("QUNZU_BOT_DIR", "/bot"))
    bot_dir.mkdir(parents=True, exist_ok=True)
    state_path = bot_dir / "init.json"
    state: dict[str, Any] = json.loads(state_path.read_text()) if state_path.exists() else {}
    room = state.get("moderation_room")
    _status, joined = _request("GET", f"{base}/_matrix/client/v3/joined_rooms", token=token)
    if room is None or room not in (joined or {}).get("joined_rooms", []):
        status, reply = _request(
            "POST",
            f"{base}/_matrix/client/v3/createRoom",
            {
                "name": os.environ.get("QUNZU_MODERATION_ROOM_NAME", "Qunzu 审核室"),
                "topic": "Compliance desk: reports, sanctions, emergency measures (staff only)",
                "preset": "private_chat",
                # Room version 12 ids have no ":server" part, which bot.yaml's moderation_room
                # does not accept yet; version 11 ids do.
                "room_version": "11",
                "invite": [s.strip() for s in os.environ.get("QUNZU_STAFF", "").split(",") if s.strip()],
            },
            token,
        )
        if status != 200:
            raise EntrypointError(f"creating the moderation room failed: {status} {reply}")
        room = reply["room_id"]
        state = {"moderation_room": room, "created_ts": int(time.time() * 1000)}
        state_path.write_text(json.dumps(state))
    bot_config = {
        "homeserver": base,
        "user_id": user_id,
        "password": password,
        "moderation_room": room,
        "state_db": str(bot_dir / "bot-state.sqlite"),
        "language": os.environ.get("QUNZU_LANGUAGE", "zh-CN"),
    }
    path = bot_dir / "bot.yaml"
    path.write_text(yaml.safe_dump(bot_config, allow_unicode=True))
    path.chmod(0o600)
    if IN_IMAGE and os.geteuid() == 0:
        # The bot image runs as uid 991: hand it its directory.
        uid = int(os.environ.get("QUNZU_BOT_UID", "991"))
        for entry in [bot_dir, *bot_dir.iterdir()]:
            os.chown(entry, uid, uid)
    return {"user_id": user_id, "moderation_room": room, "bot_config": str(path)}


def _register_or_login(base: str, shared_secret: str, localpart: str, user_id: str, password: str) -> str:
    url = f"{base}/_synapse/admin/v1/register"
    status, reply = _request("GET", url)
    if status != 200:
        raise EntrypointError(f"shared-secret registration is not available: {status} {reply}")
    nonce = reply["nonce"]
    mac = hmac.new(shared_secret.encode(), digestmod=hashlib.sha1)
    mac.update(b"\x00".join(part.encode() for part in (nonce, localpart, password, "notadmin")))
    body = {"nonce": nonce, "username": localpart, "password": password, "admin": False, "mac": mac.hexdigest()}
    status, reply = _request("POST", url, body)
    if status == 200:
        return str(reply["access_token"])
    if not (isinstance(reply, dict) and reply.get("errcode") == "M_USER_IN_USE"):
        raise EntrypointError(f"registering {user_id} failed: {status} {reply}")
    login = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user_id}, "password": password}
    status, reply = _request("POST", f"{base}/_matrix/client/v3/login", login)
    if status != 200:
        raise EntrypointError(f"logging in as {user_id} failed: {status} {reply}")
    return str(reply["access_token"])


def main(argv: list[str]) -> int:
    command, args = (argv[0], argv[1:]) if argv else ("synapse", [])
    try:
        if command == "secrets":
            ensure_secrets(secrets_dir())
        elif command == "render":
            print(render())
        elif command == "synapse":
            line = synapse_command(args[0] if args else None)
            os.execv(line[0], line)
        elif command == "init":
            print(json.dumps(first_run()))
        elif command == "healthcheck":
            return 0 if healthy(args[0] if args else "http://localhost:8008") else 1
        elif command == "bot":
            path = Path(os.environ.get("QUNZU_BOT_DIR", "/bot")) / "bot.yaml"
            while not path.exists():
                time.sleep(1)
            os.execv(sys.executable, [sys.executable, "-m", "bot", "-c", str(path)])
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except EntrypointError as exc:
        print(f"qunzu entrypoint: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
