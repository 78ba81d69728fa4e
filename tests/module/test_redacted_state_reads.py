"""What a redaction's target is, read from Synapse's real `events` table (SQLite and PostgreSQL).

`Groups.check_redaction` refuses redactions of the state the platform keeps; it learns the
target's type from this read. A message, an unknown id and an event of another room are
told apart from a state event (tests/e2e/test_room_versions.py sends the redactions).
"""

from __future__ import annotations

from synapse_module.store.synapse_tables import state_event_kind_txn

from .harness import Database, insert_event

ROOM = "!a:test"
OWNER = "@owner:test"


def test_a_state_events_room_type_and_key_are_read_and_other_events_are_none(database: Database) -> None:
    group = insert_event(database, 1, OWNER, ROOM, 1_000, kind="cn.qunzu.group", state_key="")
    member = insert_event(database, 2, OWNER, ROOM, 1_001, kind="m.room.member", state_key=OWNER)
    message = insert_event(database, 3, OWNER, ROOM, 1_002)

    assert database.run(state_event_kind_txn, group) == (ROOM, "cn.qunzu.group", "")
    assert database.run(state_event_kind_txn, member) == (ROOM, "m.room.member", OWNER)
    assert database.run(state_event_kind_txn, message) is None
    assert database.run(state_event_kind_txn, "$unknown") is None
