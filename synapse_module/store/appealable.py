"""SQL of what a person may appeal (policies/appeals.py): their measures, their refused messages, and
the blacklist entries that cover them without a measure (an identity number's entry, say)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from synapse.module_api import LoggingTransaction, ModuleApi

from policies.appeals import CONTENT_REFUSAL_ACTIONS

from .measures import _ACTIVE, _COLUMNS, ROOM_MEMBER, Sanction, _sanction

#: How far back `!appeal` without a reference looks, per kind of record.
RECENT = 20


@dataclass(frozen=True)
class Blacklisting:
    """An active blacklist entry that covers a person and is no measure of its own."""

    id: str
    created_ts: int


@dataclass(frozen=True)
class ContentRefusal:
    """A message the content rules refused or held, as its audit record has it."""

    ref: str
    ts: int
    action: str
    room_id: str | None


class AppealableStore:
    """Reads (never writes) what a person may appeal."""

    def __init__(self, api: ModuleApi) -> None:
        self._api = api

    async def measures_of(self, user_id: str, fingerprint: str | None) -> list[Sanction]:
        """The person's measures not overturned, newest first: theirs, their rooms', their room mutes."""
        return await self._api.run_db_interaction("qunzu_appealable_measures", _measures_txn, user_id, fingerprint)

    async def measure_behind(
        self,
        user_id: str,
        fingerprint: str | None,
        room_id: str | None,
        measures: Sequence[str],
        room_measures: Sequence[str],
        now_ms: int,
    ) -> str | None:
        """The id of the newest measure in force of ``measures`` a refusal rests on, or None."""
        return await self._api.run_db_interaction(
            "qunzu_measure_behind", _behind_txn, user_id, fingerprint, room_id, measures, room_measures, now_ms
        )

    async def blacklistings(self, user_id: str, fingerprint: str | None, now_ms: int) -> list[Blacklisting]:
        """The active entries covering the account or its identity that no measure made, newest first."""
        return await self._api.run_db_interaction(
            "qunzu_appealable_blacklistings", _blacklistings_txn, user_id, fingerprint, now_ms
        )

    async def content_refusals(self, user_id: str) -> list[ContentRefusal]:
        """The person's refused or held messages that carry a reference, newest first."""
        return await self._api.run_db_interaction("qunzu_content_refusals", _content_txn, user_id)


def _measures_txn(txn: LoggingTransaction, user_id: str, fingerprint: str | None) -> list[Sanction]:
    txn.execute(
        f"SELECT {_COLUMNS} FROM qunzu_sanctions WHERE overturned = 0 AND ("
        f"(subject_type IN ('user', '{ROOM_MEMBER}') AND (subject = ? OR fingerprint = ?)) OR credit_user = ?)"
        " ORDER BY start_ts DESC LIMIT ?",
        (user_id, fingerprint, user_id, RECENT),
    )
    return [_sanction(row) for row in txn.fetchall()]


def _behind_txn(
    txn: LoggingTransaction,
    user_id: str,
    fingerprint: str | None,
    room_id: str | None,
    measures: Sequence[str],
    room_measures: Sequence[str],
    now_ms: int,
) -> str | None:
    personal = [m for m in measures if m not in room_measures]
    clauses: list[str] = []
    args: list[Any] = []
    if personal:
        marks = ", ".join("?" for _ in personal)
        clauses.append(f"(subject_type = 'user' AND (subject = ? OR fingerprint = ?) AND measure IN ({marks}))")
        args += [user_id, fingerprint, *personal]
        if room_id is not None:
            # A room admin's mute holds in that room only (store/measures.py ROOM_MEMBER).
            clauses.append(
                f"(subject_type = '{ROOM_MEMBER}' AND room_id = ? AND (subject = ? OR fingerprint = ?)"
                f" AND measure IN ({marks}))"
            )
            args += [room_id, user_id, fingerprint, *personal]
    rooms = [m for m in measures if m in room_measures]
    if rooms and room_id is not None:
        marks = ", ".join("?" for _ in rooms)
        clauses.append(f"(subject_type = 'room' AND subject = ? AND measure IN ({marks}))")
        args += [room_id, *rooms]
    if not clauses:
        return None
    txn.execute(
        f"SELECT id FROM qunzu_sanctions WHERE ({' OR '.join(clauses)}) AND {_ACTIVE} ORDER BY start_ts DESC LIMIT 1",
        (*args, now_ms),
    )
    row = txn.fetchone()
    return None if row is None else str(row[0])


def _content_txn(txn: LoggingTransaction, user_id: str) -> list[ContentRefusal]:
    marks = ", ".join("?" for _ in CONTENT_REFUSAL_ACTIONS)
    txn.execute(
        f"SELECT ts, action, details FROM qunzu_audit WHERE subject = ? AND action IN ({marks})"
        " ORDER BY ts DESC LIMIT ?",
        (user_id, *CONTENT_REFUSAL_ACTIONS, RECENT),
    )
    found = []
    for ts, action, details in txn.fetchall():
        data = json.loads(details) if isinstance(details, str) else {}
        ref = data.get("ref") if isinstance(data, dict) else None
        if isinstance(ref, str):
            room = data.get("room_id")
            found.append(ContentRefusal(ref, int(ts), str(action), room if isinstance(room, str) else None))
    return found


def _blacklistings_txn(
    txn: LoggingTransaction, user_id: str, fingerprint: str | None, now_ms: int
) -> list[Blacklisting]:
    txn.execute(
        "SELECT id, created_ts FROM qunzu_blacklist b WHERE lifted_ts IS NULL AND (until_ts IS NULL OR until_ts > ?)"
        " AND ((subject_type = 'user' AND subject = ?) OR (fingerprint IS NOT NULL AND fingerprint = ?))"
        " AND NOT EXISTS (SELECT 1 FROM qunzu_sanctions s WHERE s.id = b.id)"
        " ORDER BY created_ts DESC LIMIT ?",
        (now_ms, user_id, fingerprint, RECENT),
    )
    return [Blacklisting(str(row[0]), int(row[1])) for row in txn.fetchall()]
