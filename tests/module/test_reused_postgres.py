"""The reused PostgreSQL database each store test gets is exactly its template, whatever the last test did."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest

from tests.e2e.conftest import PG_DSN, fresh_pg_database

from .reused_postgres import ReusedPostgres

pytestmark = pytest.mark.postgres

_TEMPLATE_SQL = (
    "CREATE TABLE owners (id SERIAL PRIMARY KEY, name TEXT NOT NULL)",
    "CREATE TABLE rooms (room_id TEXT PRIMARY KEY, owner INTEGER REFERENCES owners (id), data JSONB, raw BYTEA)",
    "CREATE SEQUENCE tickets_seq",
    "INSERT INTO owners (name) VALUES ('first'), ('second')",
    "INSERT INTO rooms VALUES ('!a:x', 1, '{\"k\": [1, 2]}', '\\x00ff'), ('!b:x', 2, NULL, NULL)",
)


def _query(dsn: str, statement: str) -> list[tuple[Any, ...]]:
    connection = psycopg2.connect(dsn)
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
            rows = list(cursor.fetchall()) if cursor.description else []
        connection.commit()
        return rows
    finally:
        connection.close()


def _contents(dsn: str) -> tuple[list[Any], list[Any]]:
    owners = _query(dsn, "SELECT id, name FROM owners ORDER BY id")
    rooms = _query(dsn, "SELECT room_id, owner, data::text, encode(raw, 'hex') FROM rooms ORDER BY room_id")
    return owners, rooms


@pytest.fixture
def reused() -> Iterator[ReusedPostgres]:
    with fresh_pg_database("qunzu_reuse_template", "the reused database test") as template:
        for statement in _TEMPLATE_SQL:
            _query(PG_DSN.replace("dbname=postgres", f"dbname={template}"), statement)
        database = ReusedPostgres(template, f"qunzu_reuse_{uuid.uuid4().hex[:12]}")
        try:
            yield database
        finally:
            database.drop()


def test_rows_and_sequences_written_by_one_test_are_gone_for_the_next(reused: ReusedPostgres) -> None:
    dsn = reused.fresh()
    template = _contents(dsn)
    _query(dsn, "INSERT INTO owners (name) VALUES ('third')")
    _query(dsn, "UPDATE rooms SET data = '{}' WHERE room_id = '!a:x'")
    _query(dsn, "DELETE FROM rooms WHERE room_id = '!b:x'")
    _query(dsn, "INSERT INTO rooms VALUES ('!c:x', 3, NULL, NULL)")
    _query(dsn, "SELECT nextval('tickets_seq')")

    dsn = reused.fresh()

    assert _contents(dsn) == template
    assert template[1][0] == ("!a:x", 1, '{"k": [1, 2]}', "00ff")
    # The serial continues where the template's left off, and an unused sequence starts again.
    assert _query(dsn, "INSERT INTO owners (name) VALUES ('again') RETURNING id") == [(3,)]
    assert _query(dsn, "SELECT nextval('tickets_seq')") == [(1,)]


def test_a_connection_left_in_a_transaction_does_not_block_the_next_test(reused: ReusedPostgres) -> None:
    dsn = reused.fresh()
    stuck = psycopg2.connect(dsn)
    with stuck.cursor() as cursor:
        cursor.execute("LOCK TABLE rooms IN ACCESS EXCLUSIVE MODE")

    dsn = reused.fresh()

    assert len(_contents(dsn)[1]) == 2
    with pytest.raises(psycopg2.OperationalError), stuck.cursor() as cursor:
        cursor.execute("SELECT 1")  # it was disconnected


def test_a_test_that_changed_the_schema_gets_the_template_again(reused: ReusedPostgres) -> None:
    dsn = reused.fresh()
    _query(dsn, "ALTER TABLE rooms ADD COLUMN extra TEXT")
    _query(dsn, "CREATE TABLE leftover (x INTEGER)")

    dsn = reused.fresh()

    columns = _query(dsn, "SELECT column_name FROM information_schema.columns WHERE table_name = 'rooms'")
    assert sorted(name for (name,) in columns) == ["data", "owner", "raw", "room_id"]
    assert _query(dsn, "SELECT to_regclass('leftover')") == [(None,)]
    assert len(_contents(dsn)[0]) == 2
