"""Fixtures that boot real Synapse processes with the module, and clients for them.

- `synapse`: one Synapse on SQLite shared by the whole test session.
- `shared_servers`: one server per distinct config (`get(module_config,
  postgres=…)`, `with_policy(policy)`), kept for the session, for tests that
  need another config but change nothing server-wide.
- `http_provider_server`: the shared server verifying people through
  `verification_service` (a fake provider on 127.0.0.1, its log emptied per test).
- `restartable`: one default-config server of its own per session for tests that
  stop, kill or restart it or edit its database (xdist group "restarts").
- `after_the_crash`: `restartable` after one kill -9 and start shared by the
  tests that prove what survives a crash (`Crash`).
- `make_synapse`: a factory for tests that need a server of their own
  (restarts, crashes, edits in its database, counts over the whole server);
  every server it starts is stopped at the end of the test.
- `pg_database`: a fresh PostgreSQL database (C collation) dropped afterwards.
- `user` / `client_for` / `qunzu_api`: registered accounts, matrix-nio clients
  and a plain HTTP client for the module's API.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import psycopg2
import pytest
import yaml
from nio import AsyncClient

from devtools.homeserver import (
    SERVICE_LOCALPART,
    Account,
    PortInUse,
    SynapseProcess,
    free_port,
    module_block,
    postgres_database,
    render_config,
    sqlite_database,
)
from synapse_module.groups import FAST_MARGIN

from .http_client import QunzuHttp
from .matrix import Matrix
from .verification_service import SECRET, TIMEOUT_S, FakeVerificationService

__all__ = ["Crash", "QunzuHttp", "ServerFactory", "SharedServers", "database_name", "fresh_localpart", "pg_query"]

# The server where staff verify people by hand (`shared_servers.manual()`): its module config, and a
# policy whose report deadlines are seconds, so that a ticket its desk (tests/e2e/test_bot_commands.py)
# announces goes overdue during the test. Its other tests file no reports.
MANUAL_PROVIDER: dict[str, Any] = {"realname": {"provider": "manual"}}
SHORT_DEADLINE = "2s"
MANUAL_SERVER_POLICY: dict[str, Any] = {
    "reports": {"deadlines": dict.fromkeys(("severe", "illegal", "other"), SHORT_DEADLINE)}
}

# Scale tiers of 10/20/30/40 members and a level B whose rooms stay small: a room's cap is 10.
SMALL_TIERS: dict[str, Any] = {
    "tiers": [
        {"name": "small", "max_members": 10, "labels": {"zh-CN": "small", "en": "small"}},
        {"name": "medium", "max_members": 20, "labels": {"zh-CN": "medium", "en": "medium"}},
        {"name": "large", "max_members": 30, "labels": {"zh-CN": "large", "en": "large"}},
        {"name": "huge", "max_members": 40, "labels": {"zh-CN": "huge", "en": "huge"}},
    ],
    "info_page_from_members": 5,
    "approval_from_tier": "large",
    "staff_decision_tier": "huge",
}

# Policy variants of the shared servers (`shared_servers.with_policy`). Each holds the settings of
# several test files whose tests do not meet (people and rooms of their own, caps on different
# keys), so that one server serves them all; the files are in the xdist group "shared-servers".
# - tiers of 3/6/9/12 members with approval from 4 (test_groups: a growing room switches to
#   approval) with a level-B cap on rooms joined just above the margin under which joins are decided
#   without holding a place (test_limits: far below the cap), in English (`GROWTH_CONFIG`;
#   test_realname_providers: refusals in English; the other two assert no text but numbers);
FAST_MARGIN_CAP = FAST_MARGIN + 4
GROWTH_POLICY: dict[str, Any] = {
    "scale_tiers": {
        "tiers": [
            {"name": "small", "max_members": 3, "labels": {"zh-CN": "small", "en": "small"}},
            {"name": "medium", "max_members": 6, "labels": {"zh-CN": "medium", "en": "medium"}},
            {"name": "large", "max_members": 9, "labels": {"zh-CN": "large", "en": "large"}},
            {"name": "huge", "max_members": 12, "labels": {"zh-CN": "huge", "en": "huge"}},
        ],
        "info_page_from_members": 3,
        "approval_from_tier": "medium",
        "staff_decision_tier": "huge",
    },
    "credit": {"levels": {"B": {"rooms_joined": FAST_MARGIN_CAP, "rooms_owned": FAST_MARGIN_CAP + 10}}},
}
GROWTH_CONFIG: dict[str, Any] = {"language": "en"}
# - room caps by tier (test_groups: 50 joins into one room) with level-B caps on rooms owned and
#   joined (test_groups: caps follow the credit level; a creator is in their room, so fewer
#   rooms owned than joined; test_limits: parallel joins and creations on SQLite);
ROOM_CAPS_POLICY: dict[str, Any] = {
    "scale_tiers": SMALL_TIERS,
    "credit": {"levels": {"B": {"rooms_owned": 3, "rooms_joined": 4, "max_room_tier": "small"}}},
}
# - the one server on PostgreSQL (`SharedServers.postgres`): a level-B cap of 6 rooms joined
#   (test_limits; owners own up to 10), room caps by tier (test_groups) and 4 format errors an
#   hour (test_realname_form_errors); the other PostgreSQL tests make people and rooms of their own.
ROOMS_JOINED_CAP = 6
ROOMS_OWNED_CAP = 10
LIMITS_POLICY: dict[str, Any] = {
    "scale_tiers": SMALL_TIERS,
    "credit": {
        "levels": {"B": {"rooms_joined": ROOMS_JOINED_CAP, "rooms_owned": ROOMS_OWNED_CAP, "max_room_tier": "small"}}
    },
    "realname": {"format_errors_per_hour": 4},
}

# The server ACL of a group on a server that federates with nobody (the test servers' policy).
LOCAL_ONLY_ACL: dict[str, Any] = {"allow": ["localhost"], "deny": [], "allow_ip_literals": False}

# The password the e2e tests give the service account (the bot logs in with it).
SERVICE_PASSWORD = "qunzu-e2e-service-account"

# A port found free can still be taken by another program before Synapse binds it.
PORT_ATTEMPTS = 3

# Greeting a new account opens its bot chat: as much of Synapse's work as creating a room, for each
# of the hundreds of accounts the tests register. Test servers greet only where greetings are tested:
# the server of tests/e2e/test_bot_chat_notices.py.
TEST_SERVER_MODULE_DEFAULTS: dict[str, Any] = {"greet_new_accounts": False}

PG_DSN = os.environ.get("QUNZU_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")


class ServerFactory:
    """Starts Synapse processes in temporary directories and stops them all at the end."""

    def __init__(self, base: Path) -> None:
        self._base = base
        self.started: list[SynapseProcess] = []

    def prepare(
        self,
        *,
        module_config: dict[str, Any] | None = None,
        modules: list[dict[str, Any]] | None = None,
        database: dict[str, Any] | None = None,
        data_dir: Path | None = None,
        homeserver_extra: dict[str, Any] | None = None,
    ) -> SynapseProcess:
        """Render a config (not started yet). `module_config` is merged into the default block
        (`module_block` with `TEST_SERVER_MODULE_DEFAULTS`).

        `homeserver_extra` sets top-level homeserver keys (e.g. `default_room_version`).
        """
        data_dir = data_dir or self._base / f"hs-{uuid.uuid4().hex[:8]}"
        data_dir.mkdir(parents=True, exist_ok=True)
        if modules is None:
            modules = [module_block(data_dir, **{**TEST_SERVER_MODULE_DEFAULTS, **(module_config or {})})]
        port = free_port()
        path = render_config(
            data_dir,
            port=port,
            database=database or sqlite_database(data_dir / "homeserver.db"),
            modules=modules,
            extra=homeserver_extra,
        )
        process = SynapseProcess(path, port)
        self.started.append(process)
        return process

    def start(self, timeout: float = 60.0, *, service_account: bool = True, **kwargs: Any) -> SynapseProcess:
        """Prepare and start; if another program took the port first, start again on a new one.

        A server with the Qunzu module gets its service account registered (`SERVICE_PASSWORD`)
        unless `service_account` is False (what a server without it does is tested too).
        """
        for attempt in range(1, PORT_ATTEMPTS + 1):
            process = self.prepare(**kwargs)
            try:
                process.start(timeout)
            except PortInUse:
                if attempt == PORT_ATTEMPTS:
                    raise
                kwargs["data_dir"] = process.config_path.parent
                continue
            if service_account and kwargs.get("modules") is None:
                # As in production (docker init, `make run`), the service account exists before anyone
                # creates a room: the module learns the default room version through it and grants it
                # power at creation (synapse_module/room_versions.py).
                process.ensure_account(SERVICE_LOCALPART, SERVICE_PASSWORD)
            return process
        raise AssertionError("unreachable")

    def stop_all(self) -> None:
        for process in self.started:
            process.stop()


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseProcess]:
    """A shared Synapse on SQLite with Qunzu loaded (checksum provider, zh-CN)."""
    factory = ServerFactory(tmp_path_factory.mktemp("shared-hs"))
    process = factory.start()
    try:
        yield process
    finally:
        factory.stop_all()


@pytest.fixture(scope="session")
def restartable_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseProcess]:
    """A default-config server on SQLite of its own, kept for the session (see `restartable`)."""
    factory = ServerFactory(tmp_path_factory.mktemp("restartable-hs"))
    try:
        yield factory.start()
    finally:
        factory.stop_all()


@pytest.fixture
def restartable(restartable_server: SynapseProcess) -> SynapseProcess:
    """A default-config server that tests may stop, kill, restart and edit the database of.

    Shared (xdist group "restarts") by the tests that prove what survives a restart
    or a crash (most through `after_the_crash`) and those whose checks span the whole
    server (the filing's statistics, server-wide freezes); each uses people and rooms
    of its own and leaves it running. A test that failed with it stopped does not
    fail the next one.
    """
    process = restartable_server.process
    if process is None or process.poll() is not None:
        restartable_server.start()
    return restartable_server


Before = Callable[[SynapseProcess, Callable[..., Matrix]], Awaitable[Any]]
WhileDown = Callable[[SynapseProcess, Any], None]


@dataclass
class _Scenario:
    before: Before
    while_down: WhileDown | None = None
    last: bool = False


class Crash:
    """One kill -9 and start of `restartable`, shared by the tests that prove what survives it.

    A test module registers, per test, what happens before the crash (`Crash.before`,
    with its assertions) and what is changed in the database while the server is
    down (`Crash.while_down`). The first test asking for `after_the_crash` runs every
    `before` (those marked `last` at the end, so their rows are the newest), kills
    the server, runs every `while_down`, and starts it once; each test then checks
    its own part (`after_the_crash.state(name)`). A `before` that failed fails its own
    test only.
    """

    scenarios: ClassVar[dict[str, _Scenario]] = {}

    def __init__(self, server: SynapseProcess) -> None:
        self.server = server
        self._states: dict[str, Any] = {}
        self._errors: dict[str, BaseException] = {}

    @classmethod
    def before(cls, name: str, *, last: bool = False) -> Callable[[Before], Before]:
        def register(function: Before) -> Before:
            cls.scenarios[name] = _Scenario(function, last=last)
            return function

        return register

    @classmethod
    def while_down(cls, name: str) -> Callable[[WhileDown], WhileDown]:
        def register(function: WhileDown) -> WhileDown:
            cls.scenarios[name].while_down = function
            return function

        return register

    async def run(self, as_user: Callable[..., Matrix]) -> None:
        server = self.server
        ordered = sorted(self.scenarios.items(), key=lambda item: item[1].last)
        for name, scenario in ordered:
            try:
                self._states[name] = await scenario.before(server, as_user)
            except Exception as exc:  # reported by the scenario's own test
                self._errors[name] = exc
        server.kill()
        for name, scenario in ordered:
            if scenario.while_down is not None and name in self._states:
                try:
                    scenario.while_down(server, self._states[name])
                except Exception as exc:
                    self._errors[name] = exc
        server.start()

    def state(self, name: str) -> Any:
        """What the scenario's `before` returned; raises what it (or its `while_down`) raised."""
        if name in self._errors:
            raise AssertionError(f"before the crash, {name} failed") from self._errors[name]
        return self._states[name]


@pytest.fixture(scope="session")
async def after_the_crash(restartable_server: SynapseProcess) -> AsyncIterator[Crash]:
    """`restartable` after the one crash the registered scenarios share (see `Crash`)."""
    server = restartable_server
    process = server.process
    if process is None or process.poll() is not None:
        server.start()
    crash = Crash(server)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:

        def as_user(account: Account, on: SynapseProcess | None = None) -> Matrix:
            return Matrix(session, (on or server).base_url, account)

        await crash.run(as_user)
        yield crash


class SharedServers:
    """One server per distinct configuration, started when first asked for and kept for the session.

    For tests that need a config other than the shared `synapse`'s but change nothing
    server-wide (their own accounts and rooms; no restarts, no edits behind the module's
    back): asking twice for the same config gives the same server, whichever module asks.
    """

    def __init__(self, base: Path) -> None:
        self._base = base
        self._factory = ServerFactory(base)
        self._servers: dict[str, SynapseProcess] = {}
        self._databases: list[contextlib.ExitStack] = []

    def get(
        self,
        module_config: dict[str, Any] | None = None,
        *,
        postgres: bool = False,
        homeserver_extra: dict[str, Any] | None = None,
    ) -> SynapseProcess:
        """The server with Qunzu's development block plus `module_config`, on SQLite or PostgreSQL.

        `homeserver_extra` sets top-level homeserver keys (`ServerFactory.prepare`).
        """
        key = json.dumps(
            {"module": module_config or {}, "postgres": postgres, "homeserver": homeserver_extra or {}}, sort_keys=True
        )
        if key not in self._servers:
            database = None
            if postgres:
                stack = contextlib.ExitStack()
                self._databases.append(stack)
                database = postgres_database(stack.enter_context(fresh_pg_database("qunzu_shared", "this test")))
            self._servers[key] = self._factory.start(
                module_config=module_config, database=database, homeserver_extra=homeserver_extra
            )
        return self._servers[key]

    def with_policy(
        self,
        policy: dict[str, Any],
        *,
        postgres: bool = False,
        module_config: dict[str, Any] | None = None,
        homeserver_extra: dict[str, Any] | None = None,
    ) -> SynapseProcess:
        """The server whose policy file holds `policy` (the same policy and config: the same server).

        `module_config` adds other keys of the module block (such as `language`).
        """
        text = yaml.safe_dump(policy, allow_unicode=True, sort_keys=True)
        path = self._base / f"policy-{hashlib.sha256(text.encode()).hexdigest()[:12]}.yaml"
        path.write_text(text, encoding="utf-8")
        return self.get(
            {**(module_config or {}), "policy_file": str(path)}, postgres=postgres, homeserver_extra=homeserver_extra
        )

    def postgres(self) -> SynapseProcess:
        """The one shared server on PostgreSQL: its policy is `LIMITS_POLICY`.

        Its caps are on keys the tests that count them own (rooms joined and owned at level B,
        format errors an hour, room caps by tier); every other test here makes people and
        rooms of its own, for which those caps are far away.
        """
        return self.with_policy(LIMITS_POLICY, postgres=True)

    def manual(self) -> SynapseProcess:
        """The shared server with the manual verification provider: staff review who is who.

        Its report deadlines are seconds (`MANUAL_SERVER_POLICY`); the tests using it file no
        reports but the one about a ticket going overdue.
        """
        return self.with_policy(MANUAL_SERVER_POLICY, module_config=MANUAL_PROVIDER)

    def stop_all(self) -> None:
        self._factory.stop_all()
        for stack in self._databases:
            stack.close()


@pytest.fixture(scope="session")
def shared_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedServers]:
    servers = SharedServers(tmp_path_factory.mktemp("shared-servers"))
    try:
        yield servers
    finally:
        servers.stop_all()


@pytest.fixture(scope="session")
async def provider_service() -> AsyncIterator[FakeVerificationService]:
    service = FakeVerificationService()
    await service.start()
    yield service
    await service.stop()


@pytest.fixture
def verification_service(provider_service: FakeVerificationService) -> FakeVerificationService:
    """The verification service of `http_provider_server`, its request log emptied for the test."""
    provider_service.requests.clear()
    return provider_service


@pytest.fixture(scope="session")
def http_provider_server(
    provider_service: FakeVerificationService,
    shared_servers: SharedServers,
    tmp_path_factory: pytest.TempPathFactory,
) -> SynapseProcess:
    """The shared server whose module verifies people through `provider_service` (people of their own each)."""
    secret_file = tmp_path_factory.mktemp("http-provider") / "provider.secret"
    secret_file.write_text(SECRET)
    realname = {
        "provider": "http",
        "http": {"url": provider_service.url, "secret_file": str(secret_file), "timeout_s": TIMEOUT_S},
    }
    return shared_servers.get({"realname": realname})


@pytest.fixture
def make_synapse(tmp_path: Path) -> Iterator[ServerFactory]:
    factory = ServerFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.stop_all()


def _pg_connect(dsn: str) -> Any:
    connection = psycopg2.connect(dsn, connect_timeout=3)
    connection.autocommit = True
    return connection


@contextlib.contextmanager
def fresh_pg_database(prefix: str, needed_for: str, template: str = "template0") -> Iterator[str]:
    """Create a PostgreSQL database with C collation (as Synapse requires), drop it afterwards.

    `template` copies a prepared database (which must have C collation too). Skips the
    test, saying why, when PostgreSQL is not reachable.
    """
    skip_unless_postgres(needed_for)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    create_pg_database(name, template)
    try:
        yield name
    finally:
        drop_pg_database(name)


def skip_unless_postgres(needed_for: str) -> None:
    """Skip the test, saying why, when PostgreSQL is not reachable."""
    try:
        admin = _pg_connect(PG_DSN)
    except psycopg2.OperationalError as exc:
        pytest.skip(f"{needed_for} needs PostgreSQL, not reachable at {PG_DSN} ({exc.__class__.__name__})")
    admin.close()


def create_pg_database(name: str, template: str = "template0") -> None:
    """Create `name` as a copy of `template`, with the C collation Synapse requires."""
    pg_admin(f"CREATE DATABASE {name} ENCODING 'UTF8' LC_COLLATE='C' LC_CTYPE='C' TEMPLATE {template}")


def drop_pg_database(name: str) -> None:
    """Drop `name`; whoever is still connected to it is disconnected."""
    pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def pg_admin(statement: str, args: tuple[Any, ...] = ()) -> None:
    """Run one statement on the server's `postgres` database, outside a transaction."""
    admin = _pg_connect(PG_DSN)
    try:
        with admin.cursor() as cursor:
            cursor.execute(statement, args)
    finally:
        admin.close()


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one test; the name is yielded (QUNZU_TEST_PG_DSN overrides)."""
    with fresh_pg_database("qunzu_test", "this test") as name:
        yield name


def pg_query(dbname: str, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement against a test database and return its rows (if any)."""
    connection = _pg_connect(PG_DSN.replace("dbname=postgres", f"dbname={dbname}"))
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, args)
            return list(cursor.fetchall()) if cursor.description else []
    finally:
        connection.close()


def database_name(server: SynapseProcess) -> str:
    """The PostgreSQL database a server runs on (for `pg_query`)."""
    config = yaml.safe_load(server.config_path.read_text())
    return str(config["database"]["args"]["database"])


def fresh_localpart(prefix: str = "user") -> str:
    return f"{prefix}{secrets.token_hex(4)}"


@pytest.fixture
def user(synapse: SynapseProcess) -> Account:
    """A new ordinary account on the shared server."""
    return synapse.register(fresh_localpart())


@pytest.fixture
def admin_user(synapse: SynapseProcess) -> Account:
    return synapse.register(fresh_localpart("admin"), admin=True)


@pytest.fixture
async def client_for(synapse: SynapseProcess) -> AsyncIterator[Callable[[Account], AsyncClient]]:
    """Turns an account into a logged-in matrix-nio client; all are closed afterwards."""
    clients: list[AsyncClient] = []

    def make(account: Account, server: SynapseProcess | None = None) -> AsyncClient:
        client = AsyncClient((server or synapse).base_url, account.user_id)
        client.restore_login(account.user_id, account.device_id, account.access_token)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@pytest.fixture
def qunzu_api(synapse: SynapseProcess, http_session: aiohttp.ClientSession) -> QunzuHttp:
    return QunzuHttp(http_session, synapse.base_url)


@pytest.fixture
def as_user(synapse: SynapseProcess, http_session: aiohttp.ClientSession) -> Callable[..., Matrix]:
    """`as_user(account, server=None)`: raw client-server calls as that account."""

    def make(account: Account, server: SynapseProcess | None = None) -> Matrix:
        return Matrix(http_session, (server or synapse).base_url, account)

    return make


@pytest.fixture
def member(synapse: SynapseProcess, as_user: Callable[..., Matrix]) -> Matrix:
    """A fresh account on the shared server (not yet verified)."""
    return as_user(synapse.register(fresh_localpart("member")))


@pytest.fixture
def staff(synapse: SynapseProcess, as_user: Callable[..., Matrix]) -> Matrix:
    """A server admin on the shared server (compliance staff)."""
    return as_user(synapse.register(fresh_localpart("staff"), admin=True))
