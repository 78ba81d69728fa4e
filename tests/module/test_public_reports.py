"""Public reports on SQLite and PostgreSQL: what is kept of a reporter without an account, and for how long.

The address only as a keyed hash (an IPv6 address by its /64), the follow-up token
as a keyed hash, the contact sealed; all purged with the network log while the
ticket stays. The form and the flood limit through a real server: tests/e2e/test_reports.py.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from policies.codes import new_code
from policies.constants import DAY_MS
from synapse_module import retention
from synapse_module.errors import NotFound, RequestError
from synapse_module.module import QunzuModule
from synapse_module.public_reports import PER_HOUR, address_key

from .harness import NOW, Database, MovableClock

ROOM = "!public:localhost"


@pytest.mark.parametrize(
    ("address", "counted_as"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("/var/run/synapse.sock", "/var/run/synapse.sock"),
    ],
)
def test_an_address_counts_as_itself_and_an_ipv6_address_by_its_64(address: str, counted_as: str) -> None:
    assert address_key(address) == counted_as


async def test_a_public_report_keeps_no_address_token_or_contact_in_clear_and_they_go_with_the_log(
    module: QunzuModule, database: Database, clock: MovableClock
) -> None:
    code = new_code()
    database.query(
        "INSERT INTO qunzu_groups (code, room_id, category, creator, created_ts, scale_tier, activity_tier)"
        " VALUES (?, ?, 'general', '@owner:localhost', ?, 'small', 'normal')",
        (code, ROOM, NOW),
    )
    body = {"code": code, "category": "fraud", "reason": "冒充客服", "contact": "13800138000"}
    answer = await module.public_reports.file("2001:db8:1:2::99", body, "zh-CN")
    assert answer.status == "open" and answer.category_label == "诈骗"

    ((address_hash, token_hash, contact_enc),) = database.query(
        "SELECT address_hash, token_hash, contact_enc FROM qunzu_public_reports"
    )
    # A hex digest: the address (colons in it) cannot be there in clear.
    assert re.fullmatch("[0-9a-f]{64}", address_hash), address_hash
    assert answer.token not in token_hash and "13800138000" not in contact_enc
    assert "13800138000" not in str(database.query("SELECT * FROM qunzu_audit"))

    shown = await module.public_reports.status(answer.ticket, answer.token, "en")
    assert shown.status_label == "received, waiting to be handled"
    with pytest.raises(NotFound) as wrong:
        await module.public_reports.status(answer.ticket, answer.token + "x", "en")
    assert wrong.value.status == 404

    # Staff read the contact only with a reason, on the record.
    (listed,) = (await module.public_reports.contacts("@staff:localhost", answer.ticket, "回访举报人")).reports
    assert listed.contact == "13800138000" and listed.category == "fraud"
    (record,) = [e for e in await module.store.audit.query(subject=answer.ticket) if e.action != "report.public"]
    assert record.action == "report.public_contacts" and record.details == {"reason": "回访举报人"}

    clock.advance((module.config.policy.retention.days + 1) * DAY_MS)
    assert await module.jobs.run_now(retention.JOB_NAME) is not None
    assert database.query("SELECT COUNT(*) FROM qunzu_public_reports") == [(0,)]
    assert database.query("SELECT COUNT(*) FROM qunzu_tickets WHERE id = ?", (answer.ticket,)) == [(1,)]


async def test_reports_from_one_address_are_capped_exactly_under_concurrency(
    module: QunzuModule, database: Database
) -> None:
    code = new_code()
    database.query(
        "INSERT INTO qunzu_groups (code, room_id, category, creator, created_ts, scale_tier, activity_tier)"
        " VALUES (?, ?, 'general', '@owner:localhost', ?, 'small', 'normal')",
        (code, ROOM, NOW),
    )
    body = {"code": code, "category": "gambling", "reason": "拉人赌博"}

    async def one(address: str) -> int:
        try:
            await module.public_reports.file(address, body, "zh-CN")
        except RequestError as exc:
            return exc.status
        return 200

    statuses = await asyncio.gather(*(one("198.51.100.9") for _ in range(PER_HOUR + 6)))
    assert sorted(statuses) == [200] * PER_HOUR + [429] * 6
    # Another address, and another /64 of IPv6, are counted apart; the same /64 is one.
    assert await one("198.51.100.10") == 200
    assert [await one(f"2001:db8:9:9::{n}") for n in range(PER_HOUR + 1)] == [200] * PER_HOUR + [429]
    (tickets,) = database.query("SELECT COUNT(*) FROM qunzu_tickets WHERE source = 'public_report'")[0]
    assert tickets == 1  # all of them joined the one open ticket on the room
