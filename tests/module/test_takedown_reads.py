"""What a mass takedown reads from Synapse's tables: exactly a person's posts in the window, in batches.

Rows are written into Synapse's real schema (SQLite and PostgreSQL); the redactions
themselves are sent by a real Synapse in tests/e2e/test_takedown.py.
"""

from __future__ import annotations

from synapse_module.store.synapse_tables import events_for_takedown_txn, sent_since_txn
from synapse_module.takedown import media_of

from .harness import Database, insert_event

SPAMMER, OTHER = "@spam:test", "@other:test"
ROOM_A, ROOM_B = "!a:test", "!b:test"


def test_a_persons_posts_since_a_time_are_read_oldest_first_in_batches_with_what_remains(database: Database) -> None:
    old = insert_event(database, 1, SPAMMER, ROOM_A, 1_000)
    window = [insert_event(database, 10 + n, SPAMMER, ROOM_A if n % 2 else ROOM_B, 2_000 + n) for n in range(7)]
    insert_event(database, 30, OTHER, ROOM_A, 2_500)  # someone else
    insert_event(database, 31, SPAMMER, ROOM_A, 2_600, kind="m.room.member", state_key=SPAMMER)  # state
    insert_event(database, 32, SPAMMER, ROOM_A, 2_700, kind="m.reaction")  # not a post
    insert_event(database, 33, SPAMMER, ROOM_A, 2_800, outlier=True)  # not in the room's timeline
    database.query("INSERT INTO redactions (event_id, redacts) VALUES (?, ?)", ("$r1", window[0]))

    rows, total = database.run(sent_since_txn, SPAMMER, 2_000, None, 4)
    assert total == 6 and [row[0] for row in rows] == window[1:5]
    rows, total = database.run(sent_since_txn, SPAMMER, 2_000, ROOM_A, 100)
    assert total == 3 and [row[0] for row in rows] == [e for e in window[1:] if int(e[2:]) % 2]
    rows, total = database.run(sent_since_txn, SPAMMER, 500, ROOM_A, 100)
    assert rows[0][0] == old and rows[0][6] == {"msgtype": "m.text", "body": "message 1"}

    found = {row[0]: row for row in database.run(events_for_takedown_txn, [window[0], window[1], "$e33", "$nope"])}
    assert set(found) == {window[0], window[1]}  # the outlier and the unknown id are not found
    assert found[window[0]][7] is True and found[window[1]][7] is False


def test_the_media_an_event_points_to_are_every_mxc_address_once() -> None:
    content = {
        "url": "mxc://test/abc",
        "info": {"thumbnail_url": "mxc://test/thumb", "thumbnail_file": {"url": "mxc://other/t2"}},
        "file": {"url": "mxc://test/abc"},
    }
    assert media_of(content) == [("test", "abc"), ("test", "thumb"), ("other", "t2")]
    assert media_of({"url": "https://example.com/x"}) == []
    assert media_of({"url": "mxc://test/a/../b", "info": "not a map"}) == []
    assert media_of({"url": "mxc:///nothing"}) == []
