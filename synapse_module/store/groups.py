"""SQL of groups: codes, categories, tiers, and the guarded cap checks (Art. 7, 8).

Cap checks decide inside the transaction that counts: the transaction first
writes the guard row of the room or the person (`store/limits.py`, the one
mechanism of every per-person limit), so two concurrent checks of the same room
or the same person (on any process) conflict and PostgreSQL retries one of
them, which then sees the other's reservation. SQLite has a single writer. The
decision itself is the pure one from `policies.decisions`, passed in.

A join that passes holds a place (`qunzu_join_reservations`, one row per room
and person) until the join lands or the place expires; a held place counts
against the room's member cap and against the person's rooms-joined cap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from synapse.module_api import LoggingTransaction, ModuleApi

from policies import Decision

from ..clock import Clock
from ..errors import StoreError
from .limits import guard_txn
from .sql import run_contended
from .synapse_tables import (
    alias_room_txn,
    group_state_events_txn,
    groups_without_code_alias_txn,
    host_in_room_txn,
    is_joined_txn,
    joined_members_txn,
    messages_since_txn,
    room_creator_txn,
    rooms_joined_txn,
    rooms_with_creator_txn,
    state_event_kind_txn,
)

# A creation or a join holds its place this long while Synapse finishes it.
PENDING_MS = 60_000


@dataclass(frozen=True)
class GroupRecord:
    code: str
    room_id: str | None
    category: str
    creator: str
    created_ts: int
    scale_tier: str
    activity_tier: str
    granted_tier: str | None
    verification_dm: bool
    predecessor_room_id: str | None
    retired_ts: int | None
    # A private chat (私聊, DESIGN.md §6.2): registered, but no group until a third person comes.
    private_chat: bool = False

    @property
    def retired(self) -> bool:
        return self.retired_ts is not None


_COLUMNS = (
    "code, room_id, category, creator, created_ts, scale_tier, activity_tier, granted_tier,"
    " verification_dm, predecessor_room_id, retired_ts, private_chat"
)


def _record(row: Sequence[Any]) -> GroupRecord:
    return GroupRecord(
        code=str(row[0]),
        room_id=None if row[1] is None else str(row[1]),
        category=str(row[2]),
        creator=str(row[3]),
        created_ts=int(row[4]),
        scale_tier=str(row[5]),
        activity_tier=str(row[6]),
        granted_tier=None if row[7] is None else str(row[7]),
        verification_dm=bool(row[8]),
        predecessor_room_id=None if row[9] is None else str(row[9]),
        retired_ts=None if row[10] is None else int(row[10]),
        private_chat=bool(row[11]),
    )


CreateRule = Callable[[int], Decision]
JoinRule = Callable[[int, int], Decision]
# The creator's rooms-joined decision, given the rooms they are in or entering (not the new one).
EnterRule = Callable[[int], Decision]
# Given the room of the person's open verification chat (None while it is being created)
# and whether they have one at all.
BotChatRule = Callable[[str | None, bool], Decision]


@dataclass(frozen=True)
class NewGroup:
    codes: tuple[str, ...]  # candidates, tried in order until one is free
    category: str
    creator: str
    scale_tier: str
    activity_tier: str
    verification_dm: bool
    private_chat: bool = False


@dataclass(frozen=True)
class Reservation:
    decision: Decision
    code: str | None
    # The code of an open verification chat still being created (refused second attempts).
    existing_code: str | None = None


class GroupStore:
    """Async access to `qunzu_groups` and the cap guards."""

    def __init__(self, api: ModuleApi, clock: Clock) -> None:
        self._api = api
        self._clock = clock

    async def reserve(self, group: NewGroup, rule: CreateRule | None, enter: EnterRule | None = None) -> Reservation:
        """Decide a creation with the exact count of rooms the creator owns, and reserve a code.

        Args:
            group: the group to register.
            rule: the creation decision given the rooms the creator owns now; None: no cap (exempt).
            enter: the creator's rooms-joined decision (they are in the new room at once), given
                the rooms they are in or entering now; None: not counted (exempt, the bot chat).
        """
        return await run_contended(
            self._api,
            "qunzu_reserve_group",
            _reserve_group_txn,
            group,
            rule,
            self._clock.now_ms(),
            enter,
            self._api.server_name,
        )

    async def reserve_bot_chat(self, group: NewGroup, rule: BotChatRule) -> Reservation:
        """Decide a verification chat with the person's open one, exactly, and reserve a code.

        Open: its owner is still joined to it, or its creation is under way.
        """
        return await run_contended(
            self._api, "qunzu_reserve_bot_chat", _reserve_bot_chat_txn, group, rule, self._clock.now_ms()
        )

    async def check_join(
        self, room_id: str, user_id: str, exclude: str, rule: JoinRule, unheld: Sequence[str] = ()
    ) -> Decision:
        """Decide a join with exact counts and hold a place.

        Args:
            room_id: The room being joined.
            user_id: The joiner.
            exclude: The service account (never counted).
            rule: The decision given (members + held places, the joiner's rooms + held places).
            unheld: Rooms this process let the joiner into without holding a place, whose
                joins may not have landed yet: counted for the joiner until they have.
        """
        return await run_contended(
            self._api,
            "qunzu_check_join",
            _check_join_txn,
            room_id,
            user_id,
            exclude,
            rule,
            self._clock.now_ms(),
            tuple(unheld),
            self._api.server_name,
        )

    async def release(self, places: list[tuple[str, str]]) -> None:
        """These (room, user) joins were persisted or the people left: their held places go."""
        await self._api.run_db_interaction("qunzu_release_places", _release_places_txn, places)

    async def room_counts(self, room_id: str, user_id: str, exclude: str) -> tuple[int, int]:
        """(joined members, rooms the user is in): read only, for the fast path far from any cap."""
        return await self._api.run_db_interaction("qunzu_room_counts", _room_counts_txn, room_id, user_id, exclude)

    async def member_count(self, room_id: str, exclude: str) -> int:
        return await self._api.run_db_interaction("qunzu_member_count", joined_members_txn, room_id, exclude)

    async def host_in_room(self, room_id: str) -> bool:
        return await self._api.run_db_interaction("qunzu_host_in_room", host_in_room_txn, room_id)

    async def room_creator(self, room_id: str) -> str | None:
        return await self._api.run_db_interaction("qunzu_room_creator", room_creator_txn, room_id)

    async def link(self, code: str, room_id: str) -> bool:
        return await self._api.run_db_interaction("qunzu_link_group", _link_group_txn, code, room_id)

    async def by_room(self, room_id: str) -> GroupRecord | None:
        return await self._api.run_db_interaction("qunzu_group_by_room", _group_by_room_txn, room_id)

    async def by_code(self, code: str) -> GroupRecord | None:
        return await self._api.run_db_interaction("qunzu_group_by_code", _group_by_code_txn, code)

    async def update(self, code: str, **fields: Any) -> None:
        """Change category, tiers or the granted tier of a group."""
        allowed = {"category", "scale_tier", "activity_tier", "granted_tier", "retired_ts"}
        assert set(fields) <= allowed, set(fields) - allowed
        await self._api.run_db_interaction("qunzu_update_group", _update_group_txn, code, fields)

    async def owned(self, creator: str) -> int:
        """Rooms the person owns now (open ones, and creations under way)."""
        return await self._api.run_db_interaction("qunzu_rooms_owned", _owned_txn, creator, self._clock.now_ms())

    async def without_code_alias(self, server_name: str, limit: int) -> list[tuple[str, str]]:
        """(code, room_id) of open groups whose `#<code>` alias is missing."""
        return await self._api.run_db_interaction(
            "qunzu_groups_without_alias", groups_without_code_alias_txn, server_name, limit
        )

    async def move_to_successor(self, old_room_id: str, new_room_id: str) -> GroupRecord | None:
        """A room upgrade: the code and category follow the room to its new version."""
        return await self._api.run_db_interaction(
            "qunzu_group_successor", _move_to_successor_txn, old_room_id, new_room_id
        )

    async def active_groups(self, after_code: str, limit: int) -> list[GroupRecord]:
        return await self._api.run_db_interaction("qunzu_active_groups", _active_groups_txn, after_code, limit)

    async def messages_since(self, since_ms: int) -> dict[str, int]:
        return await self._api.run_db_interaction("qunzu_messages_since", messages_since_txn, since_ms)

    async def rooms_page(self, after_room_id: str, limit: int) -> list[tuple[str, str | None]]:
        return await self._api.run_db_interaction("qunzu_rooms_page", rooms_with_creator_txn, after_room_id, limit)

    async def unlinked_before(self, before_ms: int) -> set[str]:
        """Codes whose creation is over but whose room was never linked (a crash, a missed event)."""
        return await self._api.run_db_interaction("qunzu_unlinked_codes", _unlinked_before_txn, before_ms)

    async def state_event_kind(self, event_id: str) -> tuple[str, str, str] | None:
        """(room, type, state key) of a state event this server has; None for other events and unknown ids."""
        return await self._api.run_db_interaction("qunzu_state_event_kind", state_event_kind_txn, event_id)

    async def current_group_events(self, event_type: str) -> list[tuple[str, str]]:
        return await self._api.run_db_interaction("qunzu_current_group_events", group_state_events_txn, event_type)

    async def creating(self, creator: str, since_ms: int) -> bool:
        """Has this person a creation under way (a code reserved, its room not linked yet)?"""
        return await self._api.run_db_interaction("qunzu_creating", _creating_txn, creator, since_ms)

    async def register_existing(self, room_id: str, group: NewGroup) -> str | None:
        """Give a room that predates the module a code (backfill); None if it has one."""
        return await self._api.run_db_interaction(
            "qunzu_register_existing", _register_existing_txn, room_id, group, self._clock.now_ms()
        )


def _owned_txn(txn: LoggingTransaction, creator: str, now_ms: int) -> int:
    # Rooms owned: linked and not closed, plus creations still under way; private chats are no groups.
    txn.execute(
        "SELECT COUNT(*) FROM qunzu_groups WHERE creator = ? AND verification_dm = 0 AND private_chat = 0"
        " AND retired_ts IS NULL AND (room_id IS NOT NULL OR created_ts > ?)",
        (creator, now_ms - PENDING_MS),
    )
    row = txn.fetchone()
    return int(row[0]) if row else 0


def _insert_code_txn(txn: LoggingTransaction, code: str, group: NewGroup, room_id: str | None, now_ms: int) -> bool:
    txn.execute(
        f"INSERT INTO qunzu_groups ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, NULL, NULL, ?)"
        " ON CONFLICT (code) DO NOTHING",
        (
            code,
            room_id,
            group.category,
            group.creator,
            now_ms,
            group.scale_tier,
            group.activity_tier,
            1 if group.verification_dm else 0,
            1 if group.private_chat else 0,
        ),
    )
    return bool(txn.rowcount == 1)


def _reserve_group_txn(
    txn: LoggingTransaction,
    group: NewGroup,
    rule: CreateRule | None,
    now_ms: int,
    enter: EnterRule | None = None,
    server_name: str = "",
) -> Reservation:
    decision = Decision.allow()
    if rule is not None:
        guard_txn(txn, f"owner:{group.creator}")
        decision = rule(_owned_txn(txn, group.creator, now_ms))
        if not decision.allowed:
            return Reservation(decision, None)
    if enter is not None:
        # Art. 8 groups joined per person: the creator is in the new room as soon as it exists,
        # so a creation takes a place like a join (the same guard row as their joins).
        guard_txn(txn, f"member:{group.creator}")
        decision = enter(_rooms_of_joiner_txn(txn, group.creator, None, now_ms, (), server_name))
        if not decision.allowed:
            return Reservation(decision, None)
    for code in group.codes:
        if _insert_code_txn(txn, code, group, None, now_ms):
            return Reservation(decision, code)
    raise StoreError("no free group code among the candidates")  # 5 random 9-digit codes all taken


def _reserve_bot_chat_txn(txn: LoggingTransaction, group: NewGroup, rule: BotChatRule, now_ms: int) -> Reservation:
    # Two attempts at once conflict on the guard row, so exactly one finds nothing open.
    guard_txn(txn, f"botchat:{group.creator}")
    txn.execute(
        "SELECT code, room_id, created_ts FROM qunzu_groups WHERE creator = ? AND verification_dm = 1"
        " AND retired_ts IS NULL ORDER BY created_ts DESC",
        (group.creator,),
    )
    open_room: str | None = None
    pending: str | None = None
    for code, room_id, created_ts in txn.fetchall():
        if room_id is None and int(created_ts) > now_ms - PENDING_MS:
            pending = pending or str(code)
        elif room_id is not None and is_joined_txn(txn, str(room_id), group.creator):
            open_room = str(room_id)
            break
    decision = rule(open_room, open_room is not None or pending is not None)
    if not decision.allowed:
        return Reservation(decision, None, None if open_room else pending)
    for code in group.codes:
        if _insert_code_txn(txn, code, group, None, now_ms):
            return Reservation(decision, code)
    raise StoreError("no free group code among the candidates")


def _check_join_txn(
    txn: LoggingTransaction,
    room_id: str,
    user_id: str,
    exclude: str,
    rule: JoinRule,
    now_ms: int,
    unheld: tuple[str, ...] = (),
    server_name: str = "",
) -> Decision:
    guard_txn(txn, f"room:{room_id}")
    guard_txn(txn, f"member:{user_id}")
    joined = joined_members_txn(txn, room_id, exclude)
    # Places held by joins still under way, of people not yet in the room.
    txn.execute(
        "SELECT user_id FROM qunzu_join_reservations WHERE room_id = ? AND expires_ts > ? AND user_id != ?",
        (room_id, now_ms, user_id),
    )
    held = sum(1 for (holder,) in txn.fetchall() if not is_joined_txn(txn, room_id, str(holder)))
    decision = rule(joined + held, _rooms_of_joiner_txn(txn, user_id, room_id, now_ms, unheld, server_name))
    if decision.allowed:
        txn.execute(
            "INSERT INTO qunzu_join_reservations (room_id, user_id, expires_ts) VALUES (?, ?, ?)"
            " ON CONFLICT (room_id, user_id) DO UPDATE SET expires_ts = excluded.expires_ts",
            (room_id, user_id, now_ms + PENDING_MS),
        )
    return decision


def _rooms_of_joiner_txn(
    txn: LoggingTransaction,
    user_id: str,
    room_id: str | None,
    now_ms: int,
    unheld: tuple[str, ...],
    server_name: str,
) -> int:
    """Art. 8 groups joined per person: rooms the person is in, and those they are entering.

    Entering: places their joins hold, joins let through unheld (`unheld`), and rooms they
    are creating (a code reserved, the room not linked yet). The room being joined is not
    counted (`UserFacts.rooms_joined`): re-joining a room one is in takes no second place.
    """
    rooms = rooms_joined_txn(txn, user_id)
    if room_id is not None and is_joined_txn(txn, room_id, user_id):
        rooms -= 1
    txn.execute(
        "SELECT room_id FROM qunzu_join_reservations WHERE user_id = ? AND expires_ts > ? AND room_id != ?",
        (user_id, now_ms, room_id or ""),
    )
    entering = {str(held) for (held,) in txn.fetchall()} | {room for room in unheld if room != room_id}
    rooms += sum(1 for room in entering if not is_joined_txn(txn, room, user_id))
    txn.execute(
        "SELECT code FROM qunzu_groups WHERE creator = ? AND room_id IS NULL AND created_ts > ?",
        (user_id, now_ms - PENDING_MS),
    )
    for (code,) in txn.fetchall():
        # Synapse writes the `#code` alias before the room's first event: once the creator is in
        # that room it is counted above, even while its code waits to be linked. A room created
        # with an alias of the creator's own counts here until it is linked (a second at most).
        room = alias_room_txn(txn, f"#{code}:{server_name}")
        if room is None or not is_joined_txn(txn, room, user_id):
            rooms += 1
    return rooms


def _release_places_txn(txn: LoggingTransaction, places: list[tuple[str, str]]) -> None:
    txn.execute_batch("DELETE FROM qunzu_join_reservations WHERE room_id = ? AND user_id = ?", places)


def _room_counts_txn(txn: LoggingTransaction, room_id: str, user_id: str, exclude: str) -> tuple[int, int]:
    return joined_members_txn(txn, room_id, exclude), rooms_joined_txn(txn, user_id)


def _link_group_txn(txn: LoggingTransaction, code: str, room_id: str) -> bool:
    txn.execute("UPDATE qunzu_groups SET room_id = ? WHERE code = ? AND room_id IS NULL", (room_id, code))
    return bool(txn.rowcount == 1)


def _group_by_room_txn(txn: LoggingTransaction, room_id: str) -> GroupRecord | None:
    txn.execute(f"SELECT {_COLUMNS} FROM qunzu_groups WHERE room_id = ?", (room_id,))
    row = txn.fetchone()
    return _record(row) if row else None


def _group_by_code_txn(txn: LoggingTransaction, code: str) -> GroupRecord | None:
    txn.execute(f"SELECT {_COLUMNS} FROM qunzu_groups WHERE code = ?", (code,))
    row = txn.fetchone()
    return _record(row) if row else None


def _update_group_txn(txn: LoggingTransaction, code: str, fields: dict[str, Any]) -> None:
    assignments = ", ".join(f"{name} = ?" for name in fields)
    txn.execute(f"UPDATE qunzu_groups SET {assignments} WHERE code = ?", (*fields.values(), code))


def _move_to_successor_txn(txn: LoggingTransaction, old_room_id: str, new_room_id: str) -> GroupRecord | None:
    txn.execute(
        "UPDATE qunzu_groups SET room_id = ?, predecessor_room_id = ? WHERE room_id = ? AND retired_ts IS NULL",
        (new_room_id, old_room_id, old_room_id),
    )
    return _group_by_room_txn(txn, new_room_id)


def _active_groups_txn(txn: LoggingTransaction, after_code: str, limit: int) -> list[GroupRecord]:
    txn.execute(
        f"SELECT {_COLUMNS} FROM qunzu_groups WHERE room_id IS NOT NULL AND retired_ts IS NULL AND code > ?"
        " ORDER BY code LIMIT ?",
        (after_code, limit),
    )
    return [_record(row) for row in txn.fetchall()]


def _unlinked_before_txn(txn: LoggingTransaction, before_ms: int) -> set[str]:
    txn.execute("SELECT code FROM qunzu_groups WHERE room_id IS NULL AND created_ts < ?", (before_ms,))
    return {str(row[0]) for row in txn.fetchall()}


def _creating_txn(txn: LoggingTransaction, creator: str, since_ms: int) -> bool:
    txn.execute(
        "SELECT 1 FROM qunzu_groups WHERE creator = ? AND room_id IS NULL AND created_ts > ? LIMIT 1",
        (creator, since_ms),
    )
    return txn.fetchone() is not None


def _register_existing_txn(txn: LoggingTransaction, room_id: str, group: NewGroup, now_ms: int) -> str | None:
    if _group_by_room_txn(txn, room_id) is not None:
        return None
    # A room whose group moved on to its upgrade is the group's past, not a group of its own.
    txn.execute("SELECT 1 FROM qunzu_groups WHERE predecessor_room_id = ? LIMIT 1", (room_id,))
    if txn.fetchone() is not None:
        return None
    for code in group.codes:
        if _insert_code_txn(txn, code, group, room_id, now_ms):
            return code
    raise StoreError("no free group code among the candidates")
