"""The audit chain through the HTTP API of a real server: staff requests are recorded and verify.

Tampering in the database (SQLite and PostgreSQL) is exposed by the same
verifier: tests/module/test_audit_store.py; the verify endpoint reporting a
forged checkpoint: tests/e2e/test_records.py.
"""

from __future__ import annotations

from devtools.homeserver import SynapseProcess

from .conftest import QunzuHttp, fresh_localpart


async def test_staff_requests_are_recorded_in_a_chain_that_verifies(
    synapse: SynapseProcess, qunzu_api: QunzuHttp
) -> None:
    staff = synapse.register(fresh_localpart("staff"), admin=True)
    status, before = await qunzu_api.get("/admin/audit/verify", staff.access_token)
    assert status == 200 and before["ok"] is True, before
    for _ in range(6):
        status, _body = await qunzu_api.get("/admin/audit?limit=1", staff.access_token)
        assert status == 200
    status, after = await qunzu_api.get("/admin/audit/verify", staff.access_token)
    assert status == 200 and after["ok"] is True, after
    assert after["rows"] >= before["rows"] + 7  # six queries and the first verify
    status, entries = await qunzu_api.get("/admin/audit?limit=100", staff.access_token)
    assert status == 200
    assert sum(entry["actor"] == staff.user_id for entry in entries["entries"]) >= 7
    member = synapse.register(fresh_localpart("member"))
    status, refused = await qunzu_api.get("/admin/audit/verify", member.access_token)
    assert status == 403, refused
