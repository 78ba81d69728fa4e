"""Report buttons' free text lands in the category it means, with that category's deadline (Art. 12).

The rows are written into Synapse's own report tables (real schema, SQLite and
PostgreSQL) and read by the module's import job, as in production.
"""

from __future__ import annotations

from synapse_module.module import QunzuModule

from .harness import NOW, Database, FakeModuleApi

HOUR_MS = 3600 * 1000
REPORTER = "@reporter:localhost"


async def test_report_button_texts_become_tickets_of_the_category_they_mean_with_its_deadline(
    module: QunzuModule, module_api: FakeModuleApi, database: Database
) -> None:
    reports = [
        (1, "$terror", "宣扬恐怖主义", "terrorism", 1),
        (2, "$csam", "他在群里发未成年人的裸照", "child_sexual_content", 1),
        (3, "$sex", "卖淫嫖娼", "prostitution", 24),
        (4, "$drugs", "He is selling drugs", "drugs", 24),
        (5, "$ads", "垃圾广告", "spam", 72),
        (6, "$meh", "I just don't like it", "other", 72),
    ]
    for report_id, event_id, reason, _category, _hours in reports:
        database.query(
            "INSERT INTO event_reports (id, received_ts, room_id, event_id, user_id, reason) VALUES (?, ?, ?, ?, ?, ?)",
            (report_id, NOW, "!room:localhost", event_id, REPORTER, reason),
        )
    ran = await module.jobs.run_now("import_synapse_reports")
    assert ran == {"imported": len(reports)}
    await module_api.settle()

    tickets = {t.event_id: t for t in await module.store.tickets.query(limit=100)}
    for _id, event_id, reason, category, hours in reports:
        ticket = tickets[event_id]
        assert ticket.category == category, reason
        assert ticket.deadline_ts - ticket.created_ts == hours * HOUR_MS, reason
        assert ticket.source == "matrix_report" and ticket.reason == reason
