"""One PostgreSQL database per schema template and test process, put back to the template between tests.

PostgreSQL copies a template relation by relation: a database with Synapse's ~180
tables takes it 0.5–1.5 s to create and drop, many times what a store test
itself takes. Emptying every table and copying back the template's few rows
(about 200) takes some 50 ms, and leaves what a fresh copy would have: the same
tables, rows and sequence positions. A test that changed the schema itself (a
migration test) gets the database created again from the template.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

import psycopg2
from psycopg2 import sql

from tests.e2e.conftest import PG_DSN, create_pg_database, drop_pg_database, pg_admin

_SHAPE_SQL = """
    SELECT table_name, column_name, data_type, is_nullable, column_default
    FROM information_schema.columns WHERE table_schema = 'public'
    UNION ALL SELECT 'index', indexname, indexdef, '', '' FROM pg_indexes WHERE schemaname = 'public'
    UNION ALL SELECT 'sequence', sequencename, '', '', '' FROM pg_sequences WHERE schemaname = 'public'
    ORDER BY 1, 2, 3
"""


class ReusedPostgres:
    """A database made from `template` once; `fresh()` hands it out as the template left it.

    Args:
        template: the database to copy (C collation, as Synapse requires).
        name: the name of the copy this process reuses.
    """

    def __init__(self, template: str, name: str) -> None:
        self._template = template
        self.name = name
        self.dsn = PG_DSN.replace("dbname=postgres", f"dbname={name}")
        self._handed_out = False
        create_pg_database(name, template)
        with _connect(self.dsn) as connection, connection.cursor() as cursor:
            self._shape = _shape(cursor)
            self._tables = _tables(cursor)
            self._rows = {table: _copy_out(cursor, table) for table in self._tables if _has_rows(cursor, table)}
            cursor.execute("SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'")
            self._sequences: list[tuple[str, int | None]] = list(cursor.fetchall())
        connection.close()

    def fresh(self) -> str:
        """The database's connection string, with exactly the template's schema, rows and sequences."""
        if self._handed_out:
            self._put_back()
        self._handed_out = True
        return self.dsn

    def drop(self) -> None:
        """Drop the copy (whoever is still connected is disconnected)."""
        drop_pg_database(self.name)

    def _put_back(self) -> None:
        # The last test's connections may still be open in a thread pool: none may hold a lock.
        pg_admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (self.name,),
        )
        connection = _connect(self.dsn)
        try:
            with connection.cursor() as cursor:
                if _shape(cursor) != self._shape:
                    connection.close()
                    drop_pg_database(self.name)
                    create_pg_database(self.name, self._template)
                    return
                # Foreign keys and triggers would order the emptying and refilling; they are off meanwhile.
                cursor.execute("SET LOCAL session_replication_role = replica")
                for table in self._tables:
                    cursor.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
                for table, rows in self._rows.items():
                    query = sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(table)).as_string(cursor)
                    cursor.copy_expert(query, io.BytesIO(rows))
                for sequence, last_value in self._sequences:
                    # A sequence never used has no last value: the next one is its start again.
                    if last_value is None:
                        cursor.execute(sql.SQL("ALTER SEQUENCE {} RESTART").format(sql.Identifier(sequence)))
                    else:
                        cursor.execute("SELECT setval(%s, %s, true)", (sequence, last_value))
            connection.commit()
        finally:
            connection.close()


def _connect(dsn: str) -> Any:
    return psycopg2.connect(dsn, connect_timeout=3)


def _shape(cursor: Any) -> str:
    """A digest of the tables, columns, indexes and sequences: what a migration would change."""
    cursor.execute(_SHAPE_SQL)
    return hashlib.sha256(repr(cursor.fetchall()).encode()).hexdigest()


def _tables(cursor: Any) -> list[str]:
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    return [row[0] for row in cursor.fetchall()]


def _has_rows(cursor: Any, table: str) -> bool:
    cursor.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(table)))
    return bool(cursor.fetchone()[0])


def _copy_out(cursor: Any, table: str) -> bytes:
    buffer = io.BytesIO()
    cursor.copy_expert(sql.SQL("COPY {} TO STDOUT").format(sql.Identifier(table)).as_string(cursor), buffer)
    return buffer.getvalue()
