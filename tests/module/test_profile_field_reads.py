"""A person's profile as Synapse's real tables hold it (SQLite and PostgreSQL).

`ProfileGuard` reads a person's custom fields after Synapse told it of a profile change and takes
out the ones that broke a content rule (tests/e2e/test_content.py sets them through the client
API); the column is jsonb on PostgreSQL and text on SQLite, and both read back as the same object.
For a person under a measure it reads how their rooms show them and sets a new avatar back
(tests/e2e/test_sanction_reach.py).
"""

from __future__ import annotations

import json

from synapse_module.store.synapse_tables import (
    RoomLooks,
    looks_rooms_show_txn,
    profile_fields_txn,
    remove_profile_fields_txn,
    restore_avatar_txn,
)

from .harness import Database

PERSON = "@reader:test"


def _profile(database: Database, user_id: str, fields: dict[str, object] | None) -> None:
    database.query(
        "INSERT INTO profiles (user_id, full_user_id, fields) VALUES (?, ?, ?)",
        (user_id[1:].split(":", 1)[0], user_id, None if fields is None else json.dumps(fields)),
    )


def test_fields_are_read_as_an_object_and_none_is_empty(database: Database) -> None:
    _profile(database, PERSON, {"m.tz": "Asia/Shanghai", "org.example.motto": {"zh": "读书"}})
    _profile(database, "@bare:test", None)

    assert database.run(profile_fields_txn, PERSON) == {"m.tz": "Asia/Shanghai", "org.example.motto": {"zh": "读书"}}
    assert database.run(profile_fields_txn, "@bare:test") == {}
    assert database.run(profile_fields_txn, "@nobody:test") == {}


def test_only_fields_still_holding_the_judged_value_are_taken_out(database: Database) -> None:
    _profile(database, PERSON, {"m.tz": "Asia/Shanghai", "org.example.a": "bad", "org.example.b": "changed"})

    judged = {"org.example.a": "bad", "org.example.b": "bad", "org.example.gone": "bad"}
    removed = database.run(remove_profile_fields_txn, PERSON, judged)

    assert removed == ["org.example.a"]
    # A field changed since it was judged waits for its own review; the others stay as they were.
    assert database.run(profile_fields_txn, PERSON) == {"m.tz": "Asia/Shanghai", "org.example.b": "changed"}
    assert database.run(remove_profile_fields_txn, PERSON, {"org.example.a": "bad"}) == []


def _joined(database: Database, n: int, user_id: str, room: str, name: str | None, avatar: str | None) -> None:
    event_id = f"$m{n}"
    database.query(
        "INSERT INTO room_memberships (event_id, user_id, sender, room_id, membership, display_name, avatar_url)"
        " VALUES (?, ?, ?, ?, 'join', ?, ?)",
        (event_id, user_id, user_id, room, name, avatar),
    )
    database.query(
        "INSERT INTO local_current_membership (room_id, user_id, event_id, membership) VALUES (?, ?, ?, 'join')",
        (room, user_id, event_id),
    )


def test_the_looks_most_rooms_show_are_read_and_an_avatar_set_back(database: Database) -> None:
    _profile(database, PERSON, None)
    assert database.run(looks_rooms_show_txn, PERSON) is None  # in no room

    _joined(database, 1, PERSON, "!a:test", "读书人", "mxc://test/a")
    _joined(database, 2, PERSON, "!b:test", "读书人", "mxc://test/a")
    _joined(database, 3, PERSON, "!c:test", "别名", None)  # a per-room name in one room
    assert database.run(looks_rooms_show_txn, PERSON) == RoomLooks("读书人", "mxc://test/a")

    database.query("UPDATE profiles SET avatar_url = ? WHERE full_user_id = ?", ("mxc://test/new", PERSON))
    database.run(restore_avatar_txn, PERSON, "mxc://test/a")
    assert database.query("SELECT avatar_url FROM profiles WHERE full_user_id = ?", (PERSON,)) == [("mxc://test/a",)]
