"""The audit chain as the module stores it: tampering done directly in the database is exposed.

On SQLite and PostgreSQL, with Synapse's schema: rows appended through the
store (as every staff request and decision does), then edited or deleted
behind the module's back. tests/e2e/test_audit.py checks the HTTP view.
"""

from __future__ import annotations

from synapse_module.store import QunzuStore

from .harness import Database


async def _write_rows(store: QunzuStore, count: int) -> None:
    for n in range(count):
        await store.audit.append("@staff:localhost", "audit.query", "audit", {"n": n})


async def test_edited_and_deleted_rows_are_caught(store: QunzuStore, database: Database) -> None:
    await _write_rows(store, 7)
    before = await store.audit.verify()
    assert before.ok is True
    assert before.rows == 7

    database.query("UPDATE qunzu_audit SET actor = '@mallory:localhost' WHERE seq = 3")
    edited = await store.audit.verify()
    assert edited.ok is False
    assert edited.first_bad == 3

    database.query("DELETE FROM qunzu_audit WHERE seq = 3")
    deleted = await store.audit.verify()
    assert deleted.ok is False
    assert deleted.first_bad == 4  # the row after the gap no longer follows its predecessor


async def test_a_deleted_last_row_is_caught(store: QunzuStore, database: Database) -> None:
    await _write_rows(store, 3)
    assert (await store.audit.verify()).ok is True
    database.query("DELETE FROM qunzu_audit WHERE seq = (SELECT MAX(seq) FROM qunzu_audit)")
    result = await store.audit.verify()
    assert result.ok is False
