"""The audit chain, written by a real server, exposes tampering done directly in its database."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import aiohttp
import pytest

from devtools.homeserver import SynapseProcess, postgres_database

from .conftest import QunzuHttp, ServerFactory, fresh_localpart, pg_query

Tamper = Callable[[str], None]


async def _write_rows(api: QunzuHttp, token: str, count: int) -> None:
    for _ in range(count):
        status, _body = await api.get("/admin/audit?limit=1", token)
        assert status == 200


async def _verify(api: QunzuHttp, token: str) -> dict[str, object]:
    status, body = await api.get("/admin/audit/verify", token)
    assert status == 200
    assert isinstance(body, dict)
    return body


def _sqlite_tamper(server: SynapseProcess) -> Tamper:
    def run(sql: str) -> None:
        with sqlite3.connect(server.config_path.parent / "homeserver.db") as connection:
            connection.execute(sql)

    return run


async def _check_tampering_is_caught(server: SynapseProcess, tamper: Tamper, session: aiohttp.ClientSession) -> None:
    api = QunzuHttp(session, server.base_url)
    staff = server.register(fresh_localpart("staff"), admin=True)
    await _write_rows(api, staff.access_token, 6)
    before = await _verify(api, staff.access_token)
    assert before["ok"] is True
    assert isinstance(before["rows"], int) and before["rows"] >= 7

    tamper("UPDATE qunzu_audit SET actor = '@mallory:localhost' WHERE seq = 3")
    edited = await _verify(api, staff.access_token)
    assert edited["ok"] is False
    assert edited["first_bad"] == 3

    tamper("DELETE FROM qunzu_audit WHERE seq = 3")
    deleted = await _verify(api, staff.access_token)
    assert deleted["ok"] is False
    assert deleted["first_bad"] == 4  # the row after the gap no longer follows its predecessor


async def test_verifier_catches_edited_and_deleted_rows_on_sqlite(
    make_synapse: ServerFactory, http_session: aiohttp.ClientSession
) -> None:
    server = make_synapse.start()
    await _check_tampering_is_caught(server, _sqlite_tamper(server), http_session)


async def test_verifier_catches_a_deleted_last_row(
    make_synapse: ServerFactory, http_session: aiohttp.ClientSession
) -> None:
    server = make_synapse.start()
    api = QunzuHttp(http_session, server.base_url)
    staff = server.register(fresh_localpart("staff"), admin=True)
    await _write_rows(api, staff.access_token, 3)
    # The verify call itself appends a row first, so delete the newest one after it.
    _sqlite_tamper(server)("DELETE FROM qunzu_audit WHERE seq = (SELECT MAX(seq) FROM qunzu_audit)")
    result = await _verify(api, staff.access_token)
    assert result["ok"] is False


@pytest.mark.postgres
async def test_verifier_catches_edited_and_deleted_rows_on_postgresql(
    make_synapse: ServerFactory, pg_database: str, http_session: aiohttp.ClientSession
) -> None:
    server = make_synapse.start(database=postgres_database(pg_database))

    def tamper(sql: str) -> None:
        pg_query(pg_database, sql)

    await _check_tampering_is_caught(server, tamper, http_session)
