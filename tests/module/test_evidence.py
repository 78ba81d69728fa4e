"""The sealed evidence store on SQLite and PostgreSQL: refused content is kept, sealed, revealed with a reason.

The content guard refuses a message with a bundled term; its content is kept encrypted
(nothing of it in the database file or in any table in clear), staff reveal it with a
reason that lands on the audit chain, and the row is purged with the network log.
The HTTP side (403 for others, holds released as their sender): tests/e2e/test_holds.py.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from policies.constants import DAY_MS
from synapse_module import retention
from synapse_module.errors import Conflict, NotFound
from synapse_module.export import verify_bundle
from synapse_module.module import QunzuModule
from synapse_module.store.evidence import EvidenceRow, new_evidence_id

from .harness import NOW, Database, MovableClock

SENDER, ROOM, STAFF = "@poster:localhost", "!room:localhost", "@staff:localhost"


class Event:
    """What the content guard reads of an event (Synapse's EventBase is not built here)."""

    def __init__(self, content: Mapping[str, Any], event_id: str) -> None:
        self.type = "m.room.message"
        self.content = dict(content)
        self.sender = SENDER
        self.room_id = ROOM
        self.event_id = event_id
        # A client's send: its transaction id and device (content.attempt_key reads them).
        self.internal_metadata = SimpleNamespace(txn_id=f"txn-{event_id}", device_id="DEVICE", token_id=None)

    def is_state(self) -> bool:
        return False

    def get_state_key(self) -> str | None:
        return None


def _every_text(database: Database) -> str:
    """Every value of every qunzu_* table, as text."""
    tables = database.query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ?"
        if not database.postgres
        else "SELECT tablename FROM pg_tables WHERE tablename LIKE ?",
        ("qunzu_%",),
    )
    return "\n".join(str(row) for (table,) in tables for row in database.query(f"SELECT * FROM {table}"))


def _database_file_bytes(directory: Path) -> bytes:
    """The SQLite database file and its journal, as they are on disk."""
    files = [p for p in directory.iterdir() if p.name.startswith("homeserver.db")]
    assert files
    return b"".join(p.read_bytes() for p in files)


async def test_refused_content_is_sealed_revealed_with_an_audited_reason_and_purged_with_the_log(
    module: QunzuModule, database: Database, clock: MovableClock, tmp_path: Path
) -> None:
    marker = f"marker{secrets.token_hex(8)}"
    event = Event({"msgtype": "m.text", "body": f"法轮功 {marker}"}, "$refused:localhost")
    decision = await module.content.check_event(event, "general")  # type: ignore[arg-type]
    assert decision is not None and not decision.allowed and decision.detail["category"] == "cults"

    page = await module.evidence.page(statuses=None, before=None, limit=10)
    (item,) = page.items
    assert item.sender == SENDER and item.room_id == ROOM and item.action == "block"
    assert item.rule == "cults" and item.status == "sealed" and len(item.digest or "") == 64
    assert item.event_id == "$refused:localhost" and "content" not in item.model_dump()

    # Nothing of the content in clear: not in any table, not in the database file's bytes.
    assert marker not in _every_text(database)
    if not database.postgres:
        assert marker.encode() not in _database_file_bytes(tmp_path)

    revealed = await module.evidence.reveal(STAFF, item.id, "核查工单 K7Q2MZ4A")
    assert revealed.content == event.content and revealed.sender == SENDER
    (record,) = [e for e in await module.store.audit.query(subject=f"evidence:{item.id}")]
    assert record.actor == STAFF and record.action == "evidence.reveal"
    assert record.details == {"reason": "核查工单 K7Q2MZ4A"}
    (hit,) = [e for e in await module.store.audit.query(subject=SENDER) if e.action == "content.block"]
    assert hit.details["evidence"] == item.id and marker not in str(hit.details)

    # Synapse checking the same event again seals it once.
    await module.content.check_event(event, "general")  # type: ignore[arg-type]
    assert len((await module.evidence.page(statuses=None, before=None, limit=10)).items) == 1

    with pytest.raises(NotFound):
        await module.evidence.reveal(STAFF, "nosuchid00", "x")

    # A sealed value copied into another row does not open there.
    other = Event({"msgtype": "m.text", "body": "法轮功 again"}, "$other:localhost")
    await module.content.check_event(other, "general")  # type: ignore[arg-type]
    ids = [i.id for i in (await module.evidence.page(statuses=None, before=None, limit=10)).items]
    database.query(
        "UPDATE qunzu_evidence SET content_enc = (SELECT content_enc FROM qunzu_evidence WHERE id = ?) WHERE id = ?",
        (item.id, next(i for i in ids if i != item.id)),
    )
    with pytest.raises(Conflict) as copied:
        await module.evidence.reveal(STAFF, next(i for i in ids if i != item.id), "x")
    assert copied.value.status == 409

    # The regulators' export lists it with its digest, the content still sealed; the bundle verifies.
    bundle = await module.exporter.build(STAFF, NOW - DAY_MS, NOW + DAY_MS, ROOM, None)
    exported = [json.loads(line) for line in bundle.files["evidence.jsonl"].splitlines()]
    assert {row["id"] for row in exported} == set(ids) and all("content_enc" not in row for row in exported)
    assert next(row for row in exported if row["id"] == item.id)["digest"] == item.digest
    assert marker not in bundle.files["evidence.jsonl"] and bundle.manifest["sources"]["evidence.jsonl"] == "present"
    files = {name: text.encode() for name, text in bundle.files.items()}
    assert verify_bundle(bundle.manifest, files, module.config.key).ok

    # Kept as long as the network log, then purged by its job.
    clock.advance((module.config.policy.retention.days + 1) * DAY_MS)
    assert await module.jobs.run_now(retention.JOB_NAME) is not None
    assert database.query("SELECT COUNT(*) FROM qunzu_evidence") == [(0,)]


async def test_evidence_pages_are_bounded_and_continue_where_the_last_stopped(module: QunzuModule) -> None:
    for n in range(5):
        await module.content.check_event(Event({"body": f"法轮功 {n}"}, f"$e{n}:localhost"), "general")  # type: ignore[arg-type]
    first = await module.evidence.page(statuses=None, before=None, limit=2)
    assert len(first.items) == 2 and first.next
    ts, _, last = first.next.partition(".")
    rest = await module.evidence.page(statuses=None, before=(int(ts), last), limit=10)
    assert len(rest.items) == 3 and rest.next is None
    seen = [str(i.event_id) for i in first.items + rest.items]
    assert sorted(seen) == sorted(f"$e{n}:localhost" for n in range(5))


async def test_one_hold_is_claimed_for_release_once_however_many_staff_try_at_once(
    module: QunzuModule, clock: MovableClock
) -> None:
    held = EvidenceRow(
        id=new_evidence_id(),
        ts=clock.now_ms(),
        action="hold",
        rule="rumor",
        category="rumor",
        sender=SENDER,
        room_id=ROOM,
        event_id="$held:localhost",
        event_type="m.room.message",
        ticket_id=None,
        digest="ab" * 32,
        content_enc="v1.x.y",
        status="held",
    )
    await module.store.evidence.insert(held)
    stale = clock.now_ms() - 60_000
    claims = await asyncio.gather(*(module.store.evidence.claim(held.id, f"@s{n}:localhost", stale) for n in range(8)))
    assert len([c for c in claims if c is not None]) == 1
    # A claim a crash left behind is taken again only once it is stale.
    assert await module.store.evidence.claim(held.id, "@late:localhost", stale) is None
    clock.advance(120_000)
    assert await module.store.evidence.claim(held.id, "@late:localhost", clock.now_ms() - 60_000) is not None
