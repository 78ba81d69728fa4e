"""The purge scenario's rows: each part falls out of retention at its own moment, in insertion order."""

from __future__ import annotations

import contextlib

import psycopg2
import pytest

from bench.harness import PG_DSN, BenchError
from bench.scenarios import insert_expiring_netlog_rows
from tests.e2e.conftest import fresh_pg_database

_NETLOG = """
CREATE TABLE qunzu_netlog (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, ts BIGINT NOT NULL, user_id TEXT, room_id TEXT,
    event_type TEXT, content_enc TEXT
)
"""


def test_each_part_expires_within_the_second_before_its_moment_and_dates_rise_as_rows_were_inserted() -> None:
    first_expiry_ms, period_ms = 5_000_000, 60_000
    with fresh_pg_database("qunzu_bench_rows", "the purge scenario's rows") as dbname:
        dsn = PG_DSN.replace("dbname=postgres", f"dbname={dbname}")
        with contextlib.closing(psycopg2.connect(dsn)) as connection:
            with connection, connection.cursor() as cursor:
                cursor.execute(_NETLOG)
            insert_expiring_netlog_rows(dbname, rows=12, parts=3, first_expiry_ms=first_expiry_ms, period_ms=period_ms)
            with connection.cursor() as cursor:
                cursor.execute("SELECT id, ts FROM qunzu_netlog")
                by_number = sorted((int(row_id.removeprefix("bench:")), ts) for row_id, ts in cursor.fetchall())
    dates = [ts for _number, ts in by_number]
    assert len(dates) == 12
    assert dates == sorted(dates) and len(set(dates)) == 12
    for part in range(3):
        expiry = first_expiry_ms + part * period_ms
        assert all(expiry - 1000 <= ts < expiry for ts in dates[part * 4 : part * 4 + 4]), (part, dates)


def test_rows_that_do_not_split_into_equal_parts_are_refused_before_anything_is_written() -> None:
    # Unequal parts would leave rows in a part no run takes, and the row could not say so.
    with pytest.raises(BenchError, match="equal parts"):
        insert_expiring_netlog_rows("no_such_database", rows=10, parts=3, first_expiry_ms=0, period_ms=1)
