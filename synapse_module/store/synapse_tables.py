"""The only place the module reads Synapse's own tables (not a stable API).

Synapse 1.163: `current_state_events(room_id, type, state_key, membership)`,
`local_current_membership(room_id, user_id, membership, event_id)`, `room_memberships(event_id,
display_name, avatar_url)`, `room_aliases(room_alias, room_id)`, `events(event_id, room_id, type, sender,
origin_server_ts, stream_ordering, outlier, received_ts)`, `event_json(event_id, room_id, json)`
(a measure's evidence, the network log's catch-up), `rejections(event_id)`, `rooms(room_id,
creator)`, `profiles(full_user_id, fields, avatar_url)` (custom profile fields, JSON: jsonb on
PostgreSQL, text on SQLite; the one table the module also writes, see `remove_profile_fields_txn`
and `restore_avatar_txn`), and the
reports people make with their clients' report buttons: `event_reports(id, received_ts, room_id,
event_id, user_id, reason)`, `room_reports(id, received_ts, room_id, user_id,
reason)`, `user_reports(id, received_ts, target_user_id, user_id, reason)` (no
callback fires on a report; `tests/e2e/test_reports.py::
test_synapse_report_tables_the_importer_reads_still_exist` checks them). The module test
`tests/e2e/test_groups.py::test_synapse_tables_the_module_reads_still_exist`
fails if an upgrade changes them. These functions are called inside the
module's own transactions, so counts and guards commit together.
`tests/test_layers.py` checks that no other file of the module names these tables.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from synapse.module_api import LoggingTransaction

from ..audit import canonical_json


def accounts_without_once_key_txn(
    txn: LoggingTransaction, registered_since_ms: int, key_prefix: str, limit: int
) -> list[str]:
    """Local people (no guests, bridges or deactivated accounts) registered since a time that hold
    no `qunzu_once` key `<key_prefix><user id>`, oldest first. Synapse keeps `users.creation_ts` in seconds."""
    txn.execute(
        "SELECT u.name FROM users AS u WHERE u.creation_ts >= ? AND u.deactivated = 0 AND u.is_guest = 0"
        " AND u.appservice_id IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM qunzu_once AS o WHERE o.key = ? || u.name)"
        " ORDER BY u.creation_ts, u.name LIMIT ?",
        (registered_since_ms // 1000, key_prefix, limit),
    )
    return [str(row[0]) for row in txn.fetchall()]


def joined_members_txn(txn: LoggingTransaction, room_id: str, exclude: str) -> int:
    """Members joined to the room now (any server), not counting `exclude` (the service account)."""
    txn.execute(
        "SELECT COUNT(*) FROM current_state_events WHERE room_id = ? AND type = 'm.room.member'"
        " AND membership = 'join' AND state_key != ?",
        (room_id, exclude),
    )
    row = txn.fetchone()
    return int(row[0]) if row else 0


def is_joined_txn(txn: LoggingTransaction, room_id: str, user_id: str) -> bool:
    txn.execute(
        "SELECT 1 FROM current_state_events WHERE room_id = ? AND type = 'm.room.member'"
        " AND state_key = ? AND membership = 'join'",
        (room_id, user_id),
    )
    return txn.fetchone() is not None


def event_sender_txn(txn: LoggingTransaction, event_id: str) -> tuple[str, str] | None:
    """(room, sender) of an event this server has, by its id (`events.event_id` is unique)."""
    txn.execute("SELECT room_id, sender FROM events WHERE event_id = ?", (event_id,))
    row = txn.fetchone()
    return (str(row[0]), str(row[1])) if row else None


def state_event_kind_txn(txn: LoggingTransaction, event_id: str) -> tuple[str, str, str] | None:
    """(room, type, state key) of a state event this server has, by its id; None for others."""
    txn.execute("SELECT room_id, type, state_key FROM events WHERE event_id = ?", (event_id,))
    row = txn.fetchone()
    return (str(row[0]), str(row[1]), str(row[2])) if row and row[2] is not None else None


def profile_fields_txn(txn: LoggingTransaction, user_id: str) -> dict[str, Any]:
    """A local account's custom profile fields (`PUT /profile/{user}/{field}`); {} when it has none."""
    txn.execute("SELECT fields FROM profiles WHERE full_user_id = ?", (user_id,))
    row = txn.fetchone()
    return _json_object(row[0]) if row else {}


def remove_profile_fields_txn(txn: LoggingTransaction, user_id: str, judged: Mapping[str, Any]) -> list[str]:
    """Take the judged fields out of an account's profile, where they still hold the judged value.

    Synapse 1.163 offers modules no way to delete a custom field, so this writes the
    column its own `delete_profile_field` writes (the value is read again inside this
    transaction: a field changed since it was judged is left for its own review).
    Returns the names taken out.
    """
    fields = profile_fields_txn(txn, user_id)
    removed = [name for name, value in judged.items() if name in fields and fields[name] == value]
    if removed:
        kept = {name: value for name, value in fields.items() if name not in removed}
        txn.execute("UPDATE profiles SET fields = ? WHERE full_user_id = ?", (json.dumps(kept), user_id))
    return removed


@dataclass(frozen=True)
class RoomLooks:
    """How a person's rooms show them: the display name and avatar of their member events."""

    display_name: str | None
    avatar_url: str | None


def looks_rooms_show_txn(txn: LoggingTransaction, user_id: str) -> RoomLooks | None:
    """How most of a local account's joined rooms show it now; None when it is in none.

    Read before Synapse copies a profile change into the rooms, this is how the rooms
    showed the person before the change.
    """
    txn.execute(
        "SELECT rm.display_name, rm.avatar_url, COUNT(*) FROM local_current_membership AS lcm"
        " JOIN room_memberships AS rm ON rm.event_id = lcm.event_id"
        " WHERE lcm.user_id = ? AND lcm.membership = 'join'"
        " GROUP BY rm.display_name, rm.avatar_url ORDER BY COUNT(*) DESC LIMIT 1",
        (user_id,),
    )
    row = txn.fetchone()
    return RoomLooks(row[0], row[1]) if row else None


def restore_avatar_txn(txn: LoggingTransaction, user_id: str, avatar_url: str | None) -> None:
    """Set a local account's global avatar back (the module API can set a display name, not an avatar).

    Called from `on_profile_update`, before Synapse copies the profile into the member
    events: it reads the avatar from this column then, so the rooms keep the one they show.
    """
    txn.execute("UPDATE profiles SET avatar_url = ? WHERE full_user_id = ?", (avatar_url, user_id))


def _json_object(value: object) -> dict[str, Any]:
    """A JSON column's object: PostgreSQL's driver gives jsonb parsed, SQLite gives text."""
    if isinstance(value, str | bytes):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return dict(value) if isinstance(value, dict) else {}


def room_creator_txn(txn: LoggingTransaction, room_id: str) -> str | None:
    """The creator Synapse recorded when the room was created (written before any event)."""
    txn.execute("SELECT creator FROM rooms WHERE room_id = ?", (room_id,))
    row = txn.fetchone()
    return str(row[0]) if row and row[0] is not None else None


def host_in_room_txn(txn: LoggingTransaction, room_id: str) -> bool:
    """Is anyone of this server joined to the room (else a join goes to other servers)?"""
    txn.execute("SELECT 1 FROM local_current_membership WHERE room_id = ? AND membership = 'join' LIMIT 1", (room_id,))
    return txn.fetchone() is not None


def rooms_joined_txn(txn: LoggingTransaction, user_id: str) -> int:
    """Rooms a local user is joined to now."""
    txn.execute("SELECT COUNT(*) FROM local_current_membership WHERE user_id = ? AND membership = 'join'", (user_id,))
    row = txn.fetchone()
    return int(row[0]) if row else 0


def messages_since_txn(txn: LoggingTransaction, since_ms: int) -> dict[str, int]:
    """Messages per room since a time (for activity tiers, Art. 7)."""
    txn.execute(
        "SELECT room_id, COUNT(*) FROM events WHERE type = 'm.room.message' AND origin_server_ts >= ? GROUP BY room_id",
        (since_ms,),
    )
    return {str(room_id): int(count) for room_id, count in txn.fetchall()}


def rooms_with_creator_txn(txn: LoggingTransaction, after_room_id: str, limit: int) -> list[tuple[str, str | None]]:
    """All rooms this server knows, in pages (for the one-off backfill of codes).

    Only rooms with a create event: Synapse writes a `rooms` row before a creation or an
    upgrade is decided, and one that was refused leaves the row without any event.
    """
    txn.execute(
        "SELECT r.room_id, r.creator FROM rooms AS r WHERE r.room_id > ? AND EXISTS ("
        " SELECT 1 FROM current_state_events AS c WHERE c.room_id = r.room_id AND c.type = 'm.room.create'"
        ") ORDER BY r.room_id LIMIT ?",
        (after_room_id, limit),
    )
    return [(str(room_id), None if creator is None else str(creator)) for room_id, creator in txn.fetchall()]


def groups_without_code_alias_txn(txn: LoggingTransaction, server_name: str, limit: int) -> list[tuple[str, str]]:
    """(code, room_id) of open groups whose `#<code>:<server>` is missing from `room_aliases`."""
    txn.execute(
        "SELECT g.code, g.room_id FROM qunzu_groups AS g WHERE g.room_id IS NOT NULL AND g.retired_ts IS NULL"
        " AND g.verification_dm = 0 AND g.private_chat = 0 AND NOT EXISTS ("
        " SELECT 1 FROM room_aliases AS a WHERE a.room_alias = '#' || g.code || ':' || ?"
        ") ORDER BY g.code LIMIT ?",
        (server_name, limit),
    )
    return [(str(code), str(room_id)) for code, room_id in txn.fetchall()]


def group_state_events_txn(txn: LoggingTransaction, event_type: str) -> list[tuple[str, str]]:
    """(room_id, event JSON) of one state type in every room's current state."""
    txn.execute(
        "SELECT c.room_id, j.json FROM current_state_events AS c JOIN event_json AS j ON j.event_id = c.event_id"
        " WHERE c.type = ? AND c.state_key = ''",
        (event_type,),
    )
    return [(str(room_id), str(body)) for room_id, body in txn.fetchall()]


def alias_room_txn(txn: LoggingTransaction, alias: str) -> str | None:
    """The room a local alias points to (Synapse writes it before the room's first event)."""
    txn.execute("SELECT room_id FROM room_aliases WHERE room_alias = ?", (alias,))
    row = txn.fetchone()
    return str(row[0]) if row else None


# Art. 12: the three report tables, each normalised to
# (id, received_ts, reporter, reason, room_id, event_id, target_user_id).
_REPORT_QUERIES = {
    "event_reports": "SELECT r.id, r.received_ts, r.user_id, r.reason, r.room_id, r.event_id, NULL"
    " FROM event_reports AS r",
    "room_reports": "SELECT r.id, r.received_ts, r.user_id, r.reason, r.room_id, NULL, NULL FROM room_reports AS r",
    "user_reports": "SELECT r.id, r.received_ts, r.user_id, r.reason, NULL, NULL, r.target_user_id"
    " FROM user_reports AS r",
}
REPORT_TABLES = tuple(_REPORT_QUERIES)

ReportRow = tuple[int, int, str, str, str | None, str | None, str | None]


def reports_after_txn(txn: LoggingTransaction, table: str, after_id: int, limit: int) -> list[ReportRow]:
    """Reports of one of Synapse's report tables with ids above `after_id` not imported yet, oldest first."""
    txn.execute(
        f"{_REPORT_QUERIES[table]} WHERE r.id > ? AND NOT EXISTS (SELECT 1 FROM qunzu_report_imports AS i"
        " WHERE i.source_table = ? AND i.source_id = r.id) ORDER BY r.id LIMIT ?",
        (after_id, table, limit),
    )
    return [_report_row(row) for row in txn.fetchall()]


def new_reports_txn(txn: LoggingTransaction, after: Mapping[str, int], limit: int) -> dict[str, list[ReportRow]]:
    """Per report table, the reports with ids above `after[table]`, oldest first: one statement.

    Only primary-key range reads: with nothing new, three index probes that return nothing.
    """
    parts = [
        f"SELECT '{table}' AS source, t{index}.* FROM ({_REPORT_QUERIES[table]} WHERE r.id > ? ORDER BY r.id LIMIT ?)"
        f" AS t{index}"
        for index, table in enumerate(REPORT_TABLES)
    ]
    txn.execute(" UNION ALL ".join(parts), tuple(value for table in REPORT_TABLES for value in (after[table], limit)))
    found: dict[str, list[ReportRow]] = {table: [] for table in REPORT_TABLES}
    for source, *row in txn.fetchall():
        found[str(source)].append(_report_row(tuple(row)))
    for rows in found.values():
        rows.sort(key=lambda row: row[0])
    return found


def _report_row(row: tuple[Any, ...]) -> ReportRow:
    return (
        int(row[0]),
        int(row[1]),
        str(row[2]),
        "" if row[3] is None else str(row[3]),
        None if row[4] is None else str(row[4]),
        None if row[5] is None else str(row[5]),
        None if row[6] is None else str(row[6]),
    )


def event_evidence_txn(txn: LoggingTransaction, event_id: str) -> dict[str, Any] | None:
    """The event's room, sender and a SHA-256 of its content as stored now.

    Reads Synapse's own `event_json` table (tests/e2e/test_sanctions.py checks the
    digest against what the client sent, so a schema change is caught).
    """
    txn.execute("SELECT room_id, json FROM event_json WHERE event_id = ?", (event_id,))
    row = txn.fetchone()
    if row is None:
        return None
    event = json.loads(row[1])
    content = event.get("content", {})
    digest = hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()
    return {"event_id": event_id, "room_id": row[0], "sender": event.get("sender"), "content_sha256": digest}


# Art. 11, 12 (takedown): the kinds of events a takedown removes — what people post, as
# Synapse's own user-redaction admin API chooses them (plus stickers); state (names,
# topics, memberships) is changed by other means.
TAKEDOWN_TYPES = ("m.room.message", "m.room.encrypted", "m.sticker")

#: (event_id, room_id, sender, type, state_key, origin_server_ts, content JSON, redacted)
TakedownRow = tuple[str, str, str, str, "str | None", int, dict[str, Any], bool]

_TAKEDOWN_SELECT = (
    "SELECT e.event_id, e.room_id, e.sender, e.type, e.state_key, e.origin_server_ts, j.json,"
    " EXISTS (SELECT 1 FROM redactions AS r WHERE r.redacts = e.event_id)"
    " FROM events AS e JOIN event_json AS j ON j.event_id = e.event_id"
)


def _takedown_row(row: tuple[Any, ...]) -> TakedownRow:
    event = json.loads(row[6])
    content = event.get("content") if isinstance(event, dict) else None
    return (
        str(row[0]),
        str(row[1]),
        str(row[2]),
        str(row[3]),
        None if row[4] is None else str(row[4]),
        int(row[5] or 0),
        content if isinstance(content, dict) else {},
        bool(row[7]),
    )


def events_for_takedown_txn(txn: LoggingTransaction, event_ids: list[str]) -> list[TakedownRow]:
    """The events of these ids this server has (not outliers, not rejected), whether already redacted.

    Reads `events`, `event_json` and `redactions` (a redaction Synapse accepted for the event).
    """
    if not event_ids:
        return []
    marks = ", ".join("?" for _ in event_ids)
    txn.execute(
        f"{_TAKEDOWN_SELECT} WHERE e.event_id IN ({marks}) AND e.outlier = ? AND e.rejection_reason IS NULL",
        (*event_ids, False),
    )
    return [_takedown_row(row) for row in txn.fetchall()]


def _sent_since_where(room_id: str | None) -> str:
    types = ", ".join("?" for _ in TAKEDOWN_TYPES)
    room = " AND e.room_id = ?" if room_id is not None else ""
    return (
        f" WHERE e.origin_server_ts >= ? AND e.sender = ? AND e.type IN ({types}) AND e.state_key IS NULL"
        f" AND e.outlier = ? AND e.rejection_reason IS NULL{room}"
        " AND NOT EXISTS (SELECT 1 FROM redactions AS r WHERE r.redacts = e.event_id)"
    )


def _sent_since_args(sender: str, since_ms: int, room_id: str | None) -> tuple[Any, ...]:
    return (since_ms, sender, *TAKEDOWN_TYPES, False, *(() if room_id is None else (room_id,)))


def sent_since_txn(
    txn: LoggingTransaction, sender: str, since_ms: int, room_id: str | None, limit: int
) -> tuple[list[TakedownRow], int]:
    """A person's posts (`TAKEDOWN_TYPES`) since a time, not yet redacted, oldest first; and how many in all.

    One room or every room of this server. The time bound uses Synapse's index on
    `origin_server_ts` (`events_ts`); `sender` has no index of its own.
    """
    where, args = _sent_since_where(room_id), _sent_since_args(sender, since_ms, room_id)
    txn.execute(f"SELECT COUNT(*) FROM events AS e{where}", args)
    row = txn.fetchone()
    total = int(row[0]) if row else 0
    txn.execute(f"{_TAKEDOWN_SELECT}{where} ORDER BY e.origin_server_ts, e.stream_ordering LIMIT ?", (*args, limit))
    return [_takedown_row(r) for r in txn.fetchall()], total


@dataclass(frozen=True)
class SynapseEvent:
    """An event as read from Synapse's tables by the catch-up."""

    stream: int
    event_id: str
    room_id: str
    json: str


def synapse_events_after_txn(
    txn: LoggingTransaction, stream: int, limit: int, received_before_ms: int | None
) -> list[SynapseEvent]:
    """Events after `stream` in the order Synapse persisted them (the network log's catch-up)."""
    # Outliers are not part of any room's timeline; rejected events were never accepted.
    sql = (
        "SELECT e.stream_ordering, e.event_id, e.room_id, j.json FROM events AS e"
        " JOIN event_json AS j ON j.event_id = e.event_id"
        " WHERE e.stream_ordering > ? AND NOT e.outlier"
        " AND NOT EXISTS (SELECT 1 FROM rejections AS r WHERE r.event_id = e.event_id)"
    )
    args: list[Any] = [stream]
    if received_before_ms is not None:
        sql += " AND e.received_ts < ?"
        args.append(received_before_ms)
    txn.execute(sql + " ORDER BY e.stream_ordering LIMIT ?", (*args, limit))
    return [SynapseEvent(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in txn.fetchall()]


def synapse_max_stream_txn(txn: LoggingTransaction) -> int:
    """The newest event's stream position (0 on an empty server)."""
    txn.execute("SELECT COALESCE(MAX(stream_ordering), 0) FROM events")
    row = txn.fetchone()
    return int(row[0]) if row else 0


def notice_rooms_txn(txn: LoggingTransaction, service_account: str, category: str | None) -> list[str]:
    """Rooms the service account is in or invited to; of one category when given (emergency notices)."""
    sql = "SELECT m.room_id FROM local_current_membership AS m"
    args: list[Any] = [service_account]
    if category is not None:
        sql += " JOIN qunzu_groups AS g ON g.room_id = m.room_id AND g.category = ? AND g.retired_ts IS NULL"
        args.insert(0, category)
    # Invited counts: a room created a moment ago has not seen the service account join yet,
    # and the notice sender joins before posting.
    txn.execute(sql + " WHERE m.user_id = ? AND m.membership IN ('join', 'invite') ORDER BY m.room_id", args)
    return [str(row[0]) for row in txn.fetchall()]
