"""A real Synapse process for development (`make run`) and the end-to-end tests.

One place renders a homeserver config, creates the signing and Qunzu keys,
starts and stops the process and registers accounts, so that what the tests
boot is what a developer runs.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from devtools.forkserver import ForkedProcess, ForkServer, ForkServerError
from policies import load_policy
from policies.homeserver import http_listener, record_keeping, unscreened_texts_off

SERVER_NAME = "localhost"
SERVICE_LOCALPART = "qunzu"

# Generous limits: tests and local demos send bursts no real user would.
_GENEROUS = {"per_second": 1000, "burst_count": 1000}
RATE_LIMITS: dict[str, Any] = {
    "rc_message": _GENEROUS,
    "rc_registration": _GENEROUS,
    "rc_registration_token_validity": _GENEROUS,
    "rc_login": {"address": _GENEROUS, "account": _GENEROUS, "failed_attempts": _GENEROUS},
    "rc_admin_redaction": _GENEROUS,
    "rc_joins": {"local": _GENEROUS, "remote": _GENEROUS},
    "rc_joins_per_room": _GENEROUS,
    "rc_invites": {
        "per_room": _GENEROUS,
        "per_user": _GENEROUS,
        "per_issuer": _GENEROUS,
    },
    "rc_3pid_validation": _GENEROUS,
    "rc_room_creation": _GENEROUS,
    "rc_presence": {"per_user": _GENEROUS},
    "rc_delayed_event_mgmt": _GENEROUS,
    "rc_reports": _GENEROUS,
}


class HomeserverError(Exception):
    """The development homeserver could not be prepared, started or used."""


class PortInUse(HomeserverError):
    """Synapse could not listen: another program took one of its ports first."""


# Ports for test and development servers come from below Linux's ephemeral range (32768–60999 by
# default): a port the kernel hands out for `bind(0)` is in that range, and so is the local port of
# every outgoing connection (database, Redis, HTTP clients), which can take it before Synapse binds it.
_PORTS = range(20000, 32000)
# Never hand the same port out twice in one process; with pytest-xdist, each worker draws from its own
# slice so that two workers of one run never collide.
_handed_out: set[int] = set()


def _port_slice() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if not worker.startswith("gw") or count <= 1:
        return _PORTS
    index = int(worker[2:]) % count
    size = len(_PORTS) // count
    return range(_PORTS.start + index * size, _PORTS.start + (index + 1) * size)


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> list[int]:
    """`count` consecutive TCP ports on 127.0.0.1, each free a moment ago and never handed out before.

    Consecutive, because some configs derive ports from a base (the docker workers' `QUNZU_WORKER_PORT`
    + index). Another program may still take one before it is bound: `SynapseProcess.start` reports
    that as `PortInUse`, and the test fixtures then start again on new ports.
    """
    pool = _port_slice()
    for _ in range(1000):
        base = secrets.randbelow(len(pool) - count + 1) + pool.start
        block = list(range(base, base + count))
        if not _handed_out.intersection(block) and all(_bindable(port) for port in block):
            _handed_out.update(block)
            return block
    raise HomeserverError(f"no {count} consecutive free ports between {pool.start} and {pool.stop}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago and was never handed out before (`free_ports`)."""
    return free_ports(1)[0]


def write_signing_key(path: Path) -> None:
    """Create Synapse's ed25519 signing key unless it exists."""
    if path.exists():
        return
    from signedjson.key import generate_signing_key, write_signing_keys

    with path.open("w") as handle:
        write_signing_keys(handle, [generate_signing_key("a_dev")])


def write_qunzu_key(path: Path) -> None:
    """Create the module's identity-encryption key (base64 of 32 bytes) unless it exists."""
    if path.exists():
        return
    path.write_text(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    path.chmod(0o600)


def sqlite_database(path: Path) -> dict[str, Any]:
    """Synapse's `database` block for an SQLite file."""
    return {"name": "sqlite3", "args": {"database": str(path)}}


def postgres_database(dbname: str, host: str = "127.0.0.1", user: str = "postgres") -> dict[str, Any]:
    """Synapse's `database` block for a PostgreSQL database with trust auth."""
    return {
        "name": "psycopg2",
        "args": {"user": user, "database": dbname, "host": host, "port": 5432, "cp_min": 1, "cp_max": 5},
    }


def module_block(
    data_dir: Path, *, provider: str = "checksum", language: str = "zh-CN", **extra: Any
) -> dict[str, Any]:
    """The `modules:` entry that loads Qunzu with development settings."""
    config: dict[str, Any] = {
        "service_account": f"@{SERVICE_LOCALPART}:{SERVER_NAME}",
        "secrets": {"key_file": str(data_dir / "qunzu.key")},
        "realname": {"provider": provider},
        "language": language,
    }
    config.update(extra)
    return {"module": "synapse_module.QunzuModule", "config": config}


def render_config(
    data_dir: Path,
    *,
    port: int,
    database: Mapping[str, Any] | None = None,
    modules: list[dict[str, Any]] | None = None,
    log_level: str = "INFO",
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write `homeserver.yaml` (and its log config and keys) into `data_dir`.

    Secrets are generated once and reused, so a second call keeps the same
    server identity and the accounts registered before.

    Returns:
        The path of the homeserver config.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    secrets_file = data_dir / "secrets.json"
    if secrets_file.exists():
        stored = json.loads(secrets_file.read_text())
    else:
        stored = {name: secrets.token_urlsafe(32) for name in ("registration", "macaroon", "form")}
        secrets_file.write_text(json.dumps(stored))
        secrets_file.chmod(0o600)
    write_signing_key(data_dir / "signing.key")
    write_qunzu_key(data_dir / "qunzu.key")
    log_config = data_dir / "log.yaml"
    log_config.write_text(yaml.safe_dump(file_log_config(data_dir / "homeserver.log", log_level)))

    config: dict[str, Any] = {
        "server_name": SERVER_NAME,
        "public_baseurl": f"http://127.0.0.1:{port}/",
        "pid_file": str(data_dir / "homeserver.pid"),
        "listeners": [http_listener(port, ["client"])],
        "database": dict(database or sqlite_database(data_dir / "homeserver.db")),
        "log_config": str(log_config),
        "media_store_path": str(data_dir / "media"),
        "signing_key_path": str(data_dir / "signing.key"),
        "registration_shared_secret": stored["registration"],
        "macaroon_secret_key": stored["macaroon"],
        "form_secret": stored["form"],
        "report_stats": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "enable_registration": False,
        "federation_domain_whitelist": [],
        **unscreened_texts_off(),
        # Development and tests only: cheap password hashing keeps registering accounts fast.
        "bcrypt_rounds": 4,
        **record_keeping(load_policy(None)),
        "modules": modules if modules is not None else [module_block(data_dir)],
        **RATE_LIMITS,
    }
    config.update(extra or {})
    path = data_dir / "homeserver.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    return path


def prepare_database(config_path: Path, python: str = sys.executable, timeout: float = 120.0) -> None:
    """Create Synapse's own schema in the config's database without starting a server or loading modules.

    Raises:
        HomeserverError: the schema could not be prepared (the message carries the tail of stderr).
    """
    result = subprocess.run(
        [python, "-m", "synapse._scripts.update_synapse_database", "--database-config", str(config_path)],
        capture_output=True,
        timeout=timeout,
        cwd=config_path.parent,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join(result.stderr.decode(errors="replace").splitlines()[-20:])
        raise HomeserverError(f"preparing the database failed ({result.returncode}): {tail}")


def file_log_config(log_file: Path, level: str) -> dict[str, Any]:
    """Synapse's logging config: records at `level` and above, with their request, into `log_file`."""
    return {
        "version": 1,
        "formatters": {"precise": {"format": "%(asctime)s %(name)s %(levelname)s %(request)s %(message)s"}},
        "filters": {"context": {"()": "synapse.logging.context.LoggingContextFilter", "request": ""}},
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "filename": str(log_file),
                "formatter": "precise",
                "filters": ["context"],
                "encoding": "utf8",
            }
        },
        "loggers": {"synapse_module": {"level": "DEBUG"}, "synapse.storage.SQL": {"level": "WARNING"}},
        "root": {"level": level, "handlers": ["file"]},
        "disable_existing_loggers": False,
    }


@dataclass
class Account:
    """A registered account and a fresh access token for it."""

    user_id: str
    password: str
    access_token: str
    device_id: str


def terminate(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """Stop a child process with SIGTERM, and SIGKILL if it has not exited within `timeout`."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class SynapseProcess:
    """A Synapse homeserver running as a child process on 127.0.0.1."""

    config_path: Path
    port: int
    python: str = sys.executable
    process: subprocess.Popen[bytes] | ForkedProcess | None = None
    # Workers run `synapse.app.generic_worker` with the shared config first
    # (`base_configs`) and their own `config_path` last (devtools/workers.py).
    app: str = "synapse.app.homeserver"
    base_configs: tuple[Path, ...] = ()
    stderr_path: Path = field(init=False)
    # Processes started by this Python process (the test session reports it: a start costs seconds).
    starts: ClassVar[int] = 0
    # Those running now, by `id` (a failing test reports what their logs said meanwhile).
    running: ClassVar[dict[int, SynapseProcess]] = {}
    # Events each database held when a server on it last stopped, by database (a test session
    # reports the sum: the Synapse work its tests asked for, which no machine's speed changes).
    stored_events: ClassVar[dict[str, int]] = {}
    # Whether starts fork from one process that has imported Synapse already (a test session
    # sets it; see devtools/forkserver.py), and that process once it is started.
    fork: ClassVar[bool] = False
    forkserver: ClassVar[ForkServer | None] = None
    _forkserver_lock: ClassVar[threading.Lock] = threading.Lock()

    def __post_init__(self) -> None:
        self.stderr_path = self.config_path.parent / "stderr.log"
        self._stderr_start = 0
        self._secret: tuple[tuple[tuple[int, int], ...], str] | None = None

    @property
    def log_path(self) -> Path:
        """Synapse's own log (`render_config` puts it beside the config)."""
        return self.config_path.parent / "homeserver.log"

    @property
    def base_url(self) -> str:
        """The client-server API base URL."""
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> dict[str, Any]:
        """The config Synapse reads: `base_configs`, then `config_path`, later top-level keys winning."""
        merged: dict[str, Any] = {}
        for path in (*self.base_configs, self.config_path):
            merged.update(yaml.safe_load(path.read_text()) or {})
        return merged

    @property
    def shared_secret(self) -> str:
        """The config's `registration_shared_secret`, read again only when a config file changed.

        Tests register hundreds of accounts; parsing the config for each cost seconds of a run.
        """
        version = tuple(
            (stat.st_mtime_ns, stat.st_size) for stat in map(Path.stat, (*self.base_configs, self.config_path))
        )
        if self._secret is None or self._secret[0] != version:
            self._secret = (version, str(self.config()["registration_shared_secret"]))
        return self._secret[1]

    def start(self, timeout: float = 60.0) -> None:
        """Start Synapse and wait until `/health` answers and Qunzu (if loaded) is ready.

        Raises:
            HomeserverError: the process exited or did not become healthy in time;
                the message carries the tail of its stderr.
        """
        SynapseProcess.starts += 1
        with self.stderr_path.open("ab") as stderr:
            self._stderr_start = stderr.tell()
        argv = [
            self.app,
            *(arg for base in self.base_configs for arg in ("-c", str(base))),
            "-c",
            str(self.config_path),
        ]
        self.process = self._forked(argv) or self._spawned(argv)
        SynapseProcess.running[id(self)] = self
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.stderr_tail()
                error = PortInUse if "Address already in use" in tail else HomeserverError
                raise error(f"Synapse exited with {self.process.returncode}: {tail}")
            if self.is_healthy() and self.module_state() in ("ready", None):
                return
            time.sleep(0.1)
        self.stop()
        raise HomeserverError(f"Synapse did not answer /health within {timeout:.0f}s: {self.stderr_tail()}")

    def _forked(self, argv: list[str]) -> ForkedProcess | None:
        """The process from `forkserver` when one is set and can start it, else None."""
        if not SynapseProcess.fork or self.python != sys.executable:
            return None
        with SynapseProcess._forkserver_lock:
            if SynapseProcess.forkserver is None:
                SynapseProcess.forkserver = ForkServer()
            server = SynapseProcess.forkserver
        try:
            return server.start(argv, cwd=str(self.config_path.parent), output=str(self.stderr_path), env=os.environ)
        except ForkServerError:
            return None

    def _spawned(self, argv: list[str]) -> subprocess.Popen[bytes]:
        with self.stderr_path.open("ab") as stderr:
            # The child keeps its own copy of the descriptor.
            return subprocess.Popen(
                [self.python, "-m", *argv],
                stdout=stderr,
                stderr=stderr,
                cwd=self.config_path.parent,
                start_new_session=True,
            )

    def is_healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/health", timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def module_state(self) -> str | None:
        """Qunzu's own health status, or None when the module is not loaded."""
        try:
            with urllib.request.urlopen(f"{self.base_url}/_synapse/client/qunzu/v1/health", timeout=2) as response:
                return str(json.loads(response.read())["status"])
        except urllib.error.HTTPError as exc:
            return None if exc.code == 404 else "starting"
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            return "starting"

    def stderr_tail(self, lines: int = 20) -> str:
        """The last lines the latest start wrote to stderr."""
        if not self.stderr_path.exists():
            return ""
        with self.stderr_path.open("rb") as handle:
            handle.seek(self._stderr_start)
            text = handle.read().decode(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 20.0) -> None:
        """Stop Synapse with SIGTERM (SIGKILL if it does not exit in time)."""
        SynapseProcess.running.pop(id(self), None)
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self._count_stored_events()

    def kill(self) -> None:
        """Kill Synapse at once (SIGKILL), as a crash would."""
        SynapseProcess.running.pop(id(self), None)
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self._count_stored_events()

    def _count_stored_events(self) -> None:
        """Note in `stored_events` how many events this server's database holds now.

        A database whose schema was never made (a server that did not start) is left out.
        """
        database = self.config().get("database") or {}
        args = database.get("args") or {}
        if database.get("name") == "sqlite3":
            key = str(args["database"])
            try:
                with contextlib.closing(sqlite3.connect(f"file:{key}?mode=ro", uri=True)) as connection:
                    (count,) = connection.execute("SELECT count(*) FROM events").fetchone()
            except sqlite3.Error:
                return
        else:
            import psycopg2  # only where a server ran on PostgreSQL

            # Synapse's block names the database `database` (psycopg2 takes `dbname` too).
            dbname = args.get("database", args.get("dbname"))
            key = f"postgresql:{args.get('host')}/{dbname}"
            named = {name: args[name] for name in ("host", "port", "user") if name in args}
            try:
                with (
                    contextlib.closing(psycopg2.connect(dbname=dbname, **named)) as connection_pg,
                    connection_pg.cursor() as cursor,
                ):
                    cursor.execute("SELECT count(*) FROM events")
                    (count,) = cursor.fetchone()
            except psycopg2.Error:
                return
        SynapseProcess.stored_events[key] = int(count)

    def register(self, localpart: str, password: str | None = None, *, admin: bool = False) -> Account:
        """Register an account through the shared-secret admin API.

        Raises:
            HomeserverError: Synapse refused the registration.
        """
        password = password or secrets.token_urlsafe(12)
        url = f"{self.base_url}/_synapse/admin/v1/register"
        nonce = request_json("GET", url)["nonce"]
        body = {
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": registration_mac(self.shared_secret, nonce, localpart, password, admin=admin),
        }
        reply = request_json("POST", url, body)
        return Account(reply["user_id"], password, reply["access_token"], reply["device_id"])

    def login(self, user_id: str, password: str) -> Account:
        """Log in with a password and return a fresh access token."""
        reply = request_json(
            "POST",
            f"{self.base_url}/_matrix/client/v3/login",
            {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user_id}, "password": password},
        )
        return Account(reply["user_id"], password, reply["access_token"], reply["device_id"])

    def ensure_account(self, localpart: str, password: str, *, admin: bool = False) -> Account:
        """Register the account, or log in if it exists already (second `make run`)."""
        try:
            return self.register(localpart, password, admin=admin)
        except HomeserverError as exc:
            if "M_USER_IN_USE" not in str(exc):
                raise
            return self.login(f"@{localpart}:{SERVER_NAME}", password)


def registration_mac(secret: str, nonce: str, user: str, password: str, *, admin: bool) -> str:
    """HMAC-SHA1 over the four fields joined by NUL, as Synapse's shared-secret API expects."""
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha1)
    mac.update(b"\x00".join(part.encode() for part in (nonce, user, password, "admin" if admin else "notadmin")))
    return mac.hexdigest()


def request_json(
    method: str, url: str, body: Mapping[str, Any] | None = None, *, token: str | None = None
) -> dict[str, Any]:
    """One JSON request; an HTTP error becomes a HomeserverError carrying the answer."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        raise HomeserverError(f"{method} {url}: {exc.code} {exc.read().decode(errors='replace')}") from exc


# Synapse's default outbound blocklist without 127.0.0.0/8: servers federating on loopback.
LOOPBACK_FEDERATION_BLOCKLIST = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "224.0.0.0/4",
    "fe80::/10",
    "fc00::/7",
    "ff00::/8",
]


def write_self_signed_certificate(data_dir: Path, host: str) -> tuple[Path, Path]:
    """A self-signed TLS certificate for `host` (an IP address) unless one exists: (cert, key)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    cert_path, key_path = data_dir / "federation.crt", data_dir / "federation.key"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def federating_config(data_dir: Path, *, host: str, client_port: int, federation_port: int) -> dict[str, Any]:
    """The `extra` config of a server that federates with others on loopback (tests only).

    The server is named `<host>:<federation_port>` (an explicit port: no well-known or
    SRV lookup), serves the client API on 127.0.0.1 and federation over TLS on `host`
    with a self-signed certificate, and accepts the others' self-signed ones. Servers
    that must be told apart by a server ACL (which matches hosts without ports) need
    different hosts: 127.0.0.1, 127.0.0.2, … are all loopback.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = write_self_signed_certificate(data_dir, host)
    return {
        "server_name": f"{host}:{federation_port}",
        "listeners": [
            http_listener(client_port, ["client"]),
            http_listener(federation_port, ["federation"], bind=host, tls=True),
        ],
        "tls_certificate_path": str(cert_path),
        "tls_private_key_path": str(key_path),
        "federation_verify_certificates": False,
        "federation_domain_whitelist": None,
        "ip_range_blacklist": LOOPBACK_FEDERATION_BLOCKLIST,
        "trusted_key_servers": [],
        # A server that missed a request (busy, restarting) is tried again within seconds,
        # not after Synapse's default ten minutes: the others' events reach it in a test's time.
        "federation": {"destination_min_retry_interval": "1s", "destination_max_retry_interval": "5s"},
    }
