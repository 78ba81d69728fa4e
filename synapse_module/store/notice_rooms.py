"""SQL of notice chats: the room in which the service account tells one person about measures."""

from __future__ import annotations

from synapse.module_api import LoggingTransaction, ModuleApi

from ..clock import Clock


class NoticeRoomStore:
    """Async access to `qunzu_notice_rooms`."""

    def __init__(self, api: ModuleApi, clock: Clock) -> None:
        self._api = api
        self._clock = clock

    async def room_of(self, user_id: str) -> str | None:
        return await self._api.run_db_interaction("qunzu_notice_room", _room_of_txn, user_id)

    async def owner(self, room_id: str) -> str | None:
        """The person a notice chat was opened for."""
        return await self._api.run_db_interaction("qunzu_notice_room_owner", _owner_txn, room_id)

    async def set(self, user_id: str, room_id: str) -> None:
        await self._api.run_db_interaction("qunzu_set_notice_room", _set_txn, user_id, room_id, self._clock.now_ms())


def _room_of_txn(txn: LoggingTransaction, user_id: str) -> str | None:
    txn.execute("SELECT room_id FROM qunzu_notice_rooms WHERE user_id = ?", (user_id,))
    row = txn.fetchone()
    return None if row is None else str(row[0])


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
