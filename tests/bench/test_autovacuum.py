"""The harness's stand-in for autovacuum: autovacuum's rules, on a real PostgreSQL."""

from __future__ import annotations

import contextlib
import time

import psycopg2

from bench.autovacuum import AutovacuumStandIn, TableActivity, Thresholds, due, read_thresholds
from bench.harness import PG_DSN
from tests.e2e.conftest import fresh_pg_database

LIMITS = Thresholds()


def _table(reltuples: float = 1000, dead: int = 0, inserted: int = 0, modified: int = 0) -> TableActivity:
    return TableActivity("t", reltuples, dead, inserted, modified)


def test_a_table_is_analyzed_once_a_tenth_of_it_and_fifty_rows_changed() -> None:
    assert due(_table(modified=150), LIMITS) == []
    assert due(_table(modified=151), LIMITS) == ["ANALYZE"]
    # A table never counted (-1) counts as empty: fifty changes are enough.
    assert due(_table(reltuples=-1, modified=51), LIMITS) == ["ANALYZE"]
    assert due(_table(reltuples=-1, modified=50), LIMITS) == []


def test_a_table_is_vacuumed_for_its_dead_rows_or_its_inserts() -> None:
    assert due(_table(dead=250), LIMITS) == []
    assert due(_table(dead=251), LIMITS) == ["VACUUM"]
    assert due(_table(inserted=1200), LIMITS) == []
    assert due(_table(inserted=1201, modified=1201), LIMITS) == ["VACUUM", "ANALYZE"]


def test_the_servers_own_settings_are_read() -> None:
    with contextlib.closing(psycopg2.connect(PG_DSN)) as connection, connection.cursor() as cursor:
        limits = read_thresholds(cursor)
        cursor.execute("SHOW autovacuum_analyze_scale_factor")
        row = cursor.fetchone()
    assert row is not None
    assert limits.analyze_scale_factor == float(row[0])
    assert limits.naptime_s > 0 and limits.cost_limit > 0


def _statistics(dsn: str) -> tuple[float, int]:
    with contextlib.closing(psycopg2.connect(dsn)) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.reltuples, s.n_mod_since_analyze FROM pg_stat_user_tables AS s"
            " JOIN pg_class AS c ON c.oid = s.relid WHERE s.relname = 'summary'"
        )
        row = cursor.fetchone()
    assert row is not None
    return float(row[0]), int(row[1])


def test_statistics_taken_on_a_few_rows_are_taken_again_once_the_table_has_grown() -> None:
    with fresh_pg_database("qunzu_bench_autovacuum", "the autovacuum stand-in") as dbname:
        dsn = PG_DSN.replace("dbname=postgres", f"dbname={dbname}")
        with contextlib.closing(psycopg2.connect(dsn)) as connection:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute("CREATE TABLE summary (user_id TEXT, room_id TEXT)")
                cursor.execute("INSERT INTO summary SELECT 'u' || i, 'chat' || i FROM generate_series(1, 20) AS i")
                cursor.execute("ANALYZE summary")
                cursor.execute("INSERT INTO summary SELECT 'u' || i, 'group' FROM generate_series(1, 500) AS i")
        # The server counts a closed session's changes within a second or so.
        deadline = time.monotonic() + 10
        while _statistics(dsn)[1] < 500 and time.monotonic() < deadline:
            time.sleep(0.2)
        reltuples, modified = _statistics(dsn)
        assert reltuples == 20.0 and modified >= 500

        lines: list[str] = []
        stand_in = AutovacuumStandIn(PG_DSN, lambda: [dbname, "qunzu_bench_dropped_meanwhile"], lines.append)
        stand_in.run_once(LIMITS)

        assert stand_in.runs == [(dbname, "ANALYZE", "summary")]
        assert len(lines) == 1
        assert lines[0].startswith(f"autovacuum stand-in: {dbname}: 1 tables analyzed, 0 vacuumed in ")
        assert _statistics(dsn) == (520.0, 0)
        # Nothing changed since: the next round leaves the table alone.
        stand_in.run_once(LIMITS)
        assert len(stand_in.runs) == 1
