"""SQL of notice chats: the room in which the service account tells one person about measures."""

from __future__ import annotations

import secrets
from typing import Literal

from synapse.module_api import LoggingTransaction, ModuleApi

from ..clock import Clock

# A claim's room while the chat is being opened: no room id is empty.
_OPENING = ""
# A claim older than this was left by a process that stopped while opening the chat.
CLAIM_STALE_MS = 60_000


class NoticeRoomStore:
    """Async access to `qunzu_notice_rooms`.

    A claim names its claimant, `<instance>/<start>`: a claim of this instance's earlier start
    was left by a process that stopped (a restart, a crash) and is taken over at once; another
    instance's claim is waited for until it is stale.
    """

    def __init__(self, api: ModuleApi, clock: Clock) -> None:
        self._api = api
        self._clock = clock
        self._instance = f"{api.worker_name or 'master'}/"
        self._claimant = self._instance + secrets.token_hex(6)

    async def room_of(self, user_id: str) -> str | None:
        """The person's notice chat, once it is open."""
        return await self._api.run_db_interaction("qunzu_notice_room", _room_of_txn, user_id)

    async def claim(self, user_id: str, *, gone: str | None = None) -> str | Literal["ours", "opening"]:
        """Who opens the person's notice chat, so that two processes never open two.

        Args:
            user_id: the person.
            gone: a chat of theirs that no longer takes notices: it is replaced by exactly one
                caller, while the others get the replacement.

        Returns:
            The chat's room id when it is open; "ours" when this caller is to open it (then
            `set`, or `release` if that failed); "opening" while another caller opens it.
        """
        return await self._api.run_db_interaction(
            "qunzu_claim_notice_room",
            _claim_txn,
            user_id,
            self._clock.now_ms(),
            gone,
            self._claimant,
            self._instance,
        )

    async def release(self, user_id: str) -> None:
        """Give up a claim whose chat could not be opened (the next notice claims again)."""
        await self._api.run_db_interaction("qunzu_release_notice_room", _release_txn, user_id)

    async def owner(self, room_id: str) -> str | None:
        """The person a notice chat was opened for."""
        return await self._api.run_db_interaction("qunzu_notice_room_owner", _owner_txn, room_id)

    async def set(self, user_id: str, room_id: str) -> None:
        await self._api.run_db_interaction("qunzu_set_notice_room", _set_txn, user_id, room_id, self._clock.now_ms())


def _room_of_txn(txn: LoggingTransaction, user_id: str) -> str | None:
    txn.execute("SELECT room_id FROM qunzu_notice_rooms WHERE user_id = ? AND room_id <> ?", (user_id, _OPENING))
    row = txn.fetchone()
    return None if row is None else str(row[0])


def _claim_txn(
    txn: LoggingTransaction, user_id: str, now_ms: int, gone: str | None, claimant: str, instance: str
) -> str | Literal["ours", "opening"]:
    if gone is not None:
        txn.execute(
            "UPDATE qunzu_notice_rooms SET room_id = ?, created_ts = ?, claimed_by = ?"
            " WHERE user_id = ? AND room_id = ?",
            (_OPENING, now_ms, claimant, user_id, gone),
        )
        if txn.rowcount == 1:
            return "ours"
    txn.execute(
        "INSERT INTO qunzu_notice_rooms (user_id, room_id, created_ts, claimed_by) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (user_id) DO NOTHING",
        (user_id, _OPENING, now_ms, claimant),
    )
    if txn.rowcount == 1:
        return "ours"
    txn.execute("SELECT room_id, created_ts, claimed_by FROM qunzu_notice_rooms WHERE user_id = ?", (user_id,))
    row = txn.fetchone()
    if row is None:
        return "opening"  # released between the two statements: the next attempt claims it
    room_id, claimed_ts, claimed_by = str(row[0]), int(row[1]), str(row[2] or "")
    if room_id != _OPENING:
        return room_id
    left_by_restart = claimed_by.startswith(instance) and claimed_by != claimant
    if claimed_ts > now_ms - CLAIM_STALE_MS and not left_by_restart:
        return "opening"
    # Taken over only by the one caller whose update still finds the claim it read.
    txn.execute(
        "UPDATE qunzu_notice_rooms SET created_ts = ?, claimed_by = ?"
        " WHERE user_id = ? AND room_id = ? AND created_ts = ? AND COALESCE(claimed_by, '') = ?",
        (now_ms, claimant, user_id, _OPENING, claimed_ts, claimed_by),
    )
    return "ours" if txn.rowcount == 1 else "opening"


def _release_txn(txn: LoggingTransaction, user_id: str) -> None:
    txn.execute("DELETE FROM qunzu_notice_rooms WHERE user_id = ? AND room_id = ?", (user_id, _OPENING))


def _owner_txn(txn: LoggingTransaction, room_id: str) -> str | None:
    txn.execute("SELECT user_id FROM qunzu_notice_rooms WHERE room_id = ?", (room_id,))
    row = txn.fetchone()
    return None if row is None else str(row[0])


def _set_txn(txn: LoggingTransaction, user_id: str, room_id: str, now_ms: int) -> None:
    txn.execute(
        "INSERT INTO qunzu_notice_rooms (user_id, room_id, created_ts) VALUES (?, ?, ?)"
        " ON CONFLICT (user_id) DO UPDATE SET room_id = excluded.room_id, created_ts = excluded.created_ts",
        (user_id, room_id, now_ms),
    )
