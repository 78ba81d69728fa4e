"""Fixtures of the middle tier: the module's stores and services on a real database, without Synapse running.

- `clock`: a `MovableClock` at a fixed instant; `clock.advance(ms)` moves it.
- `database`: Synapse's own schema (made once per run by Synapse's
  `update_synapse_database`, by whichever xdist worker needs it first, then
  copied per test) with the module's migrations applied; once on SQLite and
  once on PostgreSQL (the latter marked `postgres`, skipped with the reason
  when PostgreSQL is unreachable).
- `module_api`: a `FakeModuleApi` on that database and clock.
- `module_config`: the module block the e2e servers load, parsed.
- `store`: the module's `QunzuStore`; `module`: the whole `QunzuModule`, set up.
- `sqlite_db` / `postgres_db` (`db`: both in turn): only the few Synapse tables the
  store transactions read, which tests insert into directly; for transaction functions
  run with `db.run(func, *args)`.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import cast

import pytest
from synapse.module_api import LoggingTransaction

from devtools.homeserver import module_block, postgres_database, prepare_database, render_config, write_qunzu_key
from devtools.homeserver import sqlite_database as sqlite_block
from synapse_module.audit import AuditChain
from synapse_module.config import QunzuConfig, parse_module_config
from synapse_module.migrations import migrate_txn
from synapse_module.module import QunzuModule
from synapse_module.store import QunzuStore
from tests.e2e.conftest import PG_DSN, create_pg_database, drop_pg_database, fresh_pg_database, skip_unless_postgres
from tests.run_shared import run_lock, shared_database_name

from .harness import NOW, Database, FakeModuleApi, MovableClock, Txn, setup_txn
from .harness import postgres_database as postgres_db_of
from .harness import sqlite_database as sqlite_db_of
from .reused_postgres import ReusedPostgres


def _dsn(name: str) -> str:
    return PG_DSN.replace("dbname=postgres", f"dbname={name}")


def _migrate_txn(txn: Txn) -> None:
    migrate_txn(cast(LoggingTransaction, txn), "test", NOW)


@pytest.fixture(scope="session")
def synapse_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file with Synapse's schema and the module's, made once per run; tests copy it."""
    with run_lock(tmp_path_factory, "synapse-schema-sqlite") as shared:
        path = shared / "synapse-schema-sqlite" / "synapse.db"
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            # Made under another name and renamed when complete: a failed attempt is never used.
            making = path.with_name("making.db")
            making.unlink(missing_ok=True)
            prepare_database(render_config(path.parent, port=1, database=sqlite_block(making), modules=[]))
            template = sqlite_db_of(making)
            template.run(_migrate_txn)
            template.close()
            making.rename(path)
    return path


@pytest.fixture(scope="session")
def synapse_postgres_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A PostgreSQL database with Synapse's schema and the module's, made once per run; tests create theirs from it.

    The run's controller drops it when every worker has finished (tests/run_shared.py).
    """
    skip_unless_postgres("the PostgreSQL store test")
    with run_lock(tmp_path_factory, "synapse-schema-postgres") as shared:
        made = shared / "synapse-schema-postgres.made"
        if made.exists():
            return made.read_text()
        name = shared_database_name(tmp_path_factory, "qunzu_synapse_schema")
        drop_pg_database(name)  # what a failed attempt left
        create_pg_database(name)
        data_dir = shared / "synapse-schema-postgres"
        data_dir.mkdir(exist_ok=True)
        prepare_database(render_config(data_dir, port=1, database=postgres_database(name), modules=[]))
        template = postgres_db_of(_dsn(name))
        template.run(_migrate_txn)
        template.close()
        made.write_text(name)
        return name


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def synapse_sqlite_db(synapse_sqlite_template: Path, tmp_path: Path) -> Database:
    path = tmp_path / "homeserver.db"
    shutil.copyfile(synapse_sqlite_template, path)
    return sqlite_db_of(path)


@pytest.fixture(scope="session")
def reused_synapse_postgres(synapse_postgres_template: str) -> Iterator[ReusedPostgres]:
    """This process's copy of the Synapse schema template, put back to it before each test (reused_postgres.py)."""
    reused = ReusedPostgres(synapse_postgres_template, f"qunzu_store_{uuid.uuid4().hex[:12]}")
    yield reused
    reused.drop()


@pytest.fixture
def synapse_postgres_db(reused_synapse_postgres: ReusedPostgres) -> Database:
    return postgres_db_of(reused_synapse_postgres.fresh())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> Database:
    """Synapse's schema and the module's: the test runs once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"synapse_{request.param}_db")  # type: ignore[no-any-return]


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Database:
    db = sqlite_db_of(tmp_path / "store.db")
    db.run(setup_txn)
    return db


@pytest.fixture(scope="session")
def reused_store_postgres() -> Iterator[ReusedPostgres]:
    """The reduced Synapse tables and the module's schema (`setup_txn`), made once, put back before each test."""
    with fresh_pg_database("qunzu_store_schema", "the PostgreSQL store test") as template:
        schema = postgres_db_of(_dsn(template))
        schema.run(setup_txn)
        schema.close()
        reused = ReusedPostgres(template, f"qunzu_store_{uuid.uuid4().hex[:12]}")
        yield reused
        reused.drop()


@pytest.fixture
def postgres_db(reused_store_postgres: ReusedPostgres) -> Database:
    return postgres_db_of(reused_store_postgres.fresh())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest) -> Database:
    """`sqlite_db`, then `postgres_db`: for transaction functions run directly."""
    return request.getfixturevalue(f"{request.param}_db")  # type: ignore[no-any-return]


@pytest.fixture
def module_api(database: Database, clock: MovableClock) -> FakeModuleApi:
    return FakeModuleApi(database, clock)


@pytest.fixture
def module_config(tmp_path: Path) -> QunzuConfig:
    """The development module block of the e2e servers (devtools.homeserver.module_block), parsed."""
    write_qunzu_key(tmp_path / "qunzu.key")
    return parse_module_config(module_block(tmp_path)["config"])


@pytest.fixture
def store(module_api: FakeModuleApi, clock: MovableClock, module_config: QunzuConfig) -> QunzuStore:
    return QunzuStore(module_api.as_module_api(), clock, AuditChain(module_config.key))


@pytest.fixture
async def module(module_api: FakeModuleApi, module_config: QunzuConfig) -> AsyncIterator[QunzuModule]:
    """The whole module as Synapse builds it, its setup finished; its looping calls are not running."""
    qunzu = QunzuModule(module_config, module_api.as_module_api())
    await module_api.settle()
    await qunzu.health.ready()
    yield qunzu
    await module_api.settle()
