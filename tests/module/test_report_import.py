"""Report buttons' free text lands in the category it means, with that category's deadline (Art. 12).

The rows are written into Synapse's own report tables (real schema, SQLite and
PostgreSQL) and read by the module's import job, as in production.
"""

from __future__ import annotations

from policies.api import ReportImport
from policies.constants import DESK_NUDGE_TYPE, HOUR_MS
from synapse_module.module import QunzuModule

from .harness import NOW, Database, FakeModuleApi

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
    assert ran == ReportImport(imported=len(reports))
    await module_api.settle()

    tickets = {t.event_id: t for t in await module.store.tickets.query(limit=100)}
    for _id, event_id, reason, category, hours in reports:
        ticket = tickets[event_id]
        assert ticket.category == category, reason
        assert ticket.deadline_ts - ticket.created_ts == hours * HOUR_MS, reason
        assert ticket.source == "matrix_report" and ticket.reason == reason


def _report(database: Database, report_id: int, event_id: str, reason: str) -> None:
    database.query(
        "INSERT INTO event_reports (id, received_ts, room_id, event_id, user_id, reason) VALUES (?, ?, ?, ?, ?, ?)",
        (report_id, NOW, "!room:localhost", event_id, REPORTER, reason),
    )


async def _look(module_api: FakeModuleApi) -> None:
    """One turn of the short import cycle, as Synapse's looping call runs it on the background instance."""
    (look,) = [f for f, _msec, _args in module_api.looping_calls if getattr(f, "__name__", "") == "_import_tick"]
    await look()
    await module_api.settle()


def _nudges(module: QunzuModule, module_api: FakeModuleApi) -> int:
    service = module.config.service_account
    writes = module_api.account_data_manager.writes
    return sum(1 for user, kind, _ in writes if (user, kind) == (service, DESK_NUDGE_TYPE))


async def test_a_report_button_report_is_imported_by_the_short_cycle_and_the_desk_is_nudged_at_once(
    module: QunzuModule, module_api: FakeModuleApi, database: Database
) -> None:
    (interval,) = [msec for f, msec, _args in module_api.looping_calls if getattr(f, "__name__", "") == "_import_tick"]
    assert interval <= 1000  # not the job loop's 5 s: what the desk waits for is this look
    await _look(module_api)
    assert _nudges(module, module_api) == 0  # nothing new: no ticket, no nudge

    _report(database, 1, "$terror", "宣扬恐怖主义")
    await _look(module_api)
    (ticket,) = await module.store.tickets.query(limit=10)
    assert ticket.category == "terrorism" and ticket.source == "matrix_report"
    # The bot's sync sees the service account's account data change and its desk looks now.
    assert _nudges(module, module_api) == 1

    await _look(module_api)  # imported once: the next look finds nothing and nudges nobody
    assert len(await module.store.tickets.query(limit=10)) == 1
    assert _nudges(module, module_api) == 1


async def test_a_report_committed_after_a_higher_id_is_imported_by_the_job_rescan_and_nudges_too(
    module: QunzuModule, module_api: FakeModuleApi, database: Database
) -> None:
    _report(database, 7, "$later", "垃圾广告")
    await _look(module_api)
    assert [t.event_id for t in await module.store.tickets.query(limit=10)] == ["$later"]
    # Synapse allocated id 6 first but committed it after 7: the short cycle reads only ids above 7.
    _report(database, 6, "$earlier", "诈骗")
    await _look(module_api)
    assert len(await module.store.tickets.query(limit=10)) == 1
    assert await module.jobs.run_now("import_synapse_reports") == ReportImport(imported=1)
    await module_api.settle()
    assert {t.event_id for t in await module.store.tickets.query(limit=10)} == {"$later", "$earlier"}
    assert _nudges(module, module_api) == 2
    # What was imported is left out of the rescan's read: another run imports (and nudges) nothing.
    assert await module.jobs.run_now("import_synapse_reports") == ReportImport(imported=0)
    await module_api.settle()
    assert _nudges(module, module_api) == 2
