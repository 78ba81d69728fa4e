"""The module boots inside a real Synapse, on SQLite and PostgreSQL, and serves its API."""

from __future__ import annotations

import sqlite3

from devtools.homeserver import Account, SynapseProcess
from synapse_module.migrations import LATEST_VERSION, MIGRATIONS

from .conftest import Crash, QunzuHttp


async def test_health_reports_ready_with_schema_version(qunzu_api: QunzuHttp) -> None:
    status, body = await qunzu_api.get("/health")
    assert status == 200
    assert body["status"] == "ready"
    assert body["schema_version"] == LATEST_VERSION


async def test_me_needs_an_access_token(qunzu_api: QunzuHttp) -> None:
    status, body = await qunzu_api.get("/me")
    assert status == 401
    assert body["errcode"] == "M_MISSING_TOKEN"


async def test_me_shows_the_callers_status(qunzu_api: QunzuHttp, user: Account) -> None:
    status, body = await qunzu_api.get("/me", user.access_token)
    assert status == 200
    assert body["user_id"] == user.user_id
    assert body["staff"] is False


async def test_unknown_endpoint_is_a_clean_404(qunzu_api: QunzuHttp, user: Account) -> None:
    status, body = await qunzu_api.get("/no/such/thing", user.access_token)
    assert status == 404
    assert body["errcode"] == "M_UNRECOGNIZED"


async def test_wrong_method_is_a_405(qunzu_api: QunzuHttp, user: Account) -> None:
    status, body = await qunzu_api.post("/me", {}, user.access_token)
    assert status == 405
    assert "GET" in body["error"]


async def test_staff_endpoints_refuse_ordinary_users(qunzu_api: QunzuHttp, user: Account) -> None:
    status, body = await qunzu_api.get("/admin/audit/verify", user.access_token)
    assert status == 403
    assert body["errcode"] == "M_FORBIDDEN"


async def test_malformed_query_parameter_is_a_400(qunzu_api: QunzuHttp, admin_user: Account) -> None:
    status, body = await qunzu_api.get("/admin/audit?limit=lots", admin_user.access_token)
    assert status == 400
    assert body["errcode"] == "M_INVALID_PARAM"


async def test_staff_calls_are_written_to_the_audit_log(qunzu_api: QunzuHttp, admin_user: Account) -> None:
    await qunzu_api.get("/admin/audit/verify", admin_user.access_token)
    status, body = await qunzu_api.get("/admin/audit?limit=5", admin_user.access_token)
    assert status == 200
    actions = [(e["actor"], e["action"]) for e in body["entries"]]
    assert (admin_user.user_id, "api.GET /admin/audit/verify") in actions


def _sqlite_rows(server: SynapseProcess, sql: str) -> list[tuple[object, ...]]:
    database = server.config_path.parent / "homeserver.db"
    with sqlite3.connect(database) as connection:
        return list(connection.execute(sql))


def test_schema_is_created_once_and_a_second_start_is_a_no_op(after_the_crash: Crash) -> None:
    # The server the crash tests share (tests/e2e/conftest.py `Crash`): started, killed, started again.
    server = after_the_crash.server
    history = _sqlite_rows(server, "SELECT version FROM qunzu_schema_history ORDER BY version")
    assert [row[0] for row in history] == [m.version for m in MIGRATIONS]
    log = (server.config_path.parent / "homeserver.log").read_text()
    assert log.count("qunzu: schema migrated from version 0") == 1
    assert "qunzu: schema up to date at version" in log
