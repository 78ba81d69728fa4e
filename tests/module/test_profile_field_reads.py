"""Custom profile fields, read and taken out in Synapse's real `profiles` table (SQLite and PostgreSQL).

`ProfileGuard` reads a person's fields after Synapse told it of a profile change and takes out the
ones that broke a content rule (tests/e2e/test_content.py sets them through the client API).
The column is jsonb on PostgreSQL and text on SQLite; both read back as the same object.
"""

from __future__ import annotations

import json

from synapse_module.store.synapse_tables import profile_fields_txn, remove_profile_fields_txn

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
