"""The network log writer (Art. 13 网络日志: kept at least six months).

What is written: every event that lands in a room (messages, state, memberships,
room creations, redactions — the redaction is logged and the redacted event's
row keeps its content), every login with device, IP and user agent, every
profile change and every account deactivation. Admin actions through Qunzu are
in the audit log. Rows survive redactions, room purges and deactivations
because they live in the module's own table.

How it stays off the send path and loses nothing:

- The background-task instance follows Synapse's event stream (`event_stream.py`)
  a fifth of a second behind, and writes each batch of new events in one transaction.
  Nothing runs on Synapse's send or delivery path (see `event_stream.py` for why
  `on_new_event` is not used).
- If the process dies between a persisted event and its row, nothing is lost: at
  start, and every few minutes, the catch-up reads Synapse's event stream after
  the last position it checked (a persisted cursor) and inserts what is missing.
  Every write is idempotent (the event id is the key).
- Logins and profile changes are written directly by the process that sees
  them (they are rare), also idempotently.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synapse.module_api import NOT_SPAM, ProfileInfo

from policies.api import NetlogCatchUp

from .crypto import FieldCipher
from .event_stream import StreamEvent
from .store import synapse_tables
from .store.netlog import LogEntry, NetlogStore, owner_of
from .store.synapse_tables import SynapseEvent

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .cache import ClusterCache
    from .clock import Clock
    from .event_stream import EventStream
    from .health import Health
    from .store.groups import GroupRecord

logger = logging.getLogger(__name__)

CONTENT_PURPOSE = "qunzu/netlog-content/v1"
CATCH_UP_BATCH = 500
# The periodic catch-up leaves events this young to the live writer: an event with
# a smaller stream position may still be committing (concurrent persistence).
CATCH_UP_SETTLE_MS = 30_000


def _thaw(value: Any) -> Any:
    """Synapse hands out frozen mappings; make plain JSON values of them."""
    if isinstance(value, Mapping):
        return {str(k): _thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_thaw(v) for v in value]
    return value


def kind_of(event_type: str, is_state: bool) -> str:
    """The log's coarse kind of an event."""
    if event_type == "m.room.create":
        return "room_create"
    if event_type == "m.room.member":
        return "membership"
    if event_type == "m.room.redaction":
        return "redaction"
    return "state" if is_state else "message"


class NetworkLog:
    """Writes the network log; one instance per process."""

    def __init__(
        self,
        api: ModuleApi,
        clock: Clock,
        key: bytes,
        *,
        store: NetlogStore,
        health: Health,
        events: EventStream,
        group_records: ClusterCache[str, GroupRecord | None],
    ) -> None:
        """`group_records` is the registry's cache of a room's group (`Groups.record`)."""
        self._api = api
        self._clock = clock
        self._store = store
        self._health = health
        self._events = events
        self._group_records = group_records
        self._cipher = FieldCipher(key, CONTENT_PURPOSE)
        # Only the background-task instance follows the stream and catches up.
        self._writer = api.should_run_background_tasks()

    def start(self) -> None:
        """At start, on the writing instance: add what a crash may have left out."""
        if self._writer:
            self._api.run_as_background_process("qunzu_netlog_catch_up", self._catch_up_at_start)

    async def _catch_up_at_start(self) -> None:
        try:
            await self._health.ready()
            result = await self.catch_up(settle=False)
            logger.info("qunzu: network log catch-up at start: %s", result)
            position = result.cursor
        except Exception:
            logger.exception("qunzu: the network log catch-up at start failed; the periodic job retries")
            position = await self._store.synapse_max_stream()
        # The live follower takes over exactly where the catch-up stopped.
        self._events.begin_at(position)

    # -- reading back ----------------------------------------------------------------

    def content_of(self, entry: LogEntry) -> Any:
        """The decrypted content of a row (None when it has none or it does not decrypt)."""
        if entry.content_enc is None:
            return None
        plain = self._cipher.decrypt(entry.content_enc, owner_of(entry.id, entry.room_id))
        return json.loads(plain)

    def _seal(self, entry_id: str, room_id: str | None, content: Any) -> str:
        plain = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return self._cipher.encrypt(plain, owner_of(entry_id, room_id))

    # -- events ----------------------------------------------------------------------

    async def on_events(self, events: list[StreamEvent]) -> None:
        """Write rows for newly persisted events (a subscriber of `EventStream`, background instance)."""
        if not events:
            return
        entries = []
        for event in events:
            record = await self._group_records.get(event.room_id)
            entries.append(self._entry_of(event, record.code if record is not None else None))
        await self._store.insert(entries)

    def _entry_of(self, event: StreamEvent, code: str | None) -> LogEntry:
        return self._entry(
            event.event_id,
            event.room_id,
            event.type,
            event.sender,
            event.state_key,
            event.redacts,
            _thaw(event.content),
            event.origin_server_ts,
            event.stream,
            code,
        )

    def _entry(
        self,
        event_id: str,
        room_id: str,
        event_type: str,
        sender: str,
        state_key: str | None,
        redacts: str | None,
        content: Any,
        ts: int,
        stream: int | None,
        code: str | None,
    ) -> LogEntry:
        kind = kind_of(event_type, state_key is not None)
        target = state_key if kind == "membership" else redacts if kind == "redaction" else None
        membership = content.get("membership") if kind == "membership" and isinstance(content, dict) else None
        return LogEntry(
            id=event_id,
            kind=kind,
            ts=ts,
            stream=stream,
            user_id=sender,
            target=target,
            room_id=room_id,
            group_code=code,
            event_type=event_type,
            membership=membership if isinstance(membership, str) else None,
            content_enc=self._seal(event_id, room_id, content),
        )

    # -- catch-up from Synapse's event stream ----------------------------------------------

    async def catch_up(self, *, settle: bool = True) -> NetlogCatchUp:
        """Insert rows for events Synapse persisted that the log does not have.

        Args:
            settle: leave the newest events (younger than CATCH_UP_SETTLE_MS) to the
                live writer. At start nothing is in flight yet, so start passes False.
        """
        cursor = await self._store.cursor()
        if cursor is None:
            # First start with the log: it begins now; older history is Synapse's.
            cursor = await self._store.synapse_max_stream()
            await self._store.catch_up_batch([], cursor)
            return NetlogCatchUp(added=0, cursor=cursor)
        received_before = self._clock.now_ms() - CATCH_UP_SETTLE_MS if settle else None
        added = 0
        while True:
            events = await self._store.synapse_events_after(cursor, CATCH_UP_BATCH, received_before)
            if not events:
                break
            # Most were written live: only build (and encrypt) rows for the missing ones.
            known = await self._store.existing_ids([event.event_id for event in events])
            missing = [event for event in events if event.event_id not in known]
            entries = [entry for event in missing if (entry := self._from_synapse(event)) is not None]
            cursor = events[-1].stream
            await self._store.catch_up_batch(entries, cursor)
            added += len(entries)
            if len(events) < CATCH_UP_BATCH:
                break
        if added:
            logger.info("qunzu: the network log catch-up added %d rows the live writer had missed", added)
        return NetlogCatchUp(added=added, cursor=cursor)

    def _from_synapse(self, row: SynapseEvent) -> LogEntry | None:
        event = StreamEvent.from_json(row.stream, row.event_id, row.room_id, row.json)
        return None if event is None else self._entry_of(event, None)

    # -- logins, profiles, accounts --------------------------------------------------------

    async def check_login_for_spam(
        self,
        user_id: str,
        device_id: str | None,
        initial_display_name: str | None,
        request_info: Any,
        auth_provider_id: str | None = None,
    ) -> Any:
        """Log a login (user, device, IP, user agent). Never refuses: it only records."""
        try:
            user_agent, ip = next(iter(request_info), (None, None))
            await self._direct(
                LogEntry(
                    id=f"login:{secrets.token_hex(12)}",
                    kind="login",
                    ts=self._clock.now_ms(),
                    user_id=user_id,
                    device_id=device_id,
                    ip=ip,
                    user_agent=user_agent,
                    target=auth_provider_id,
                )
            )
        except Exception:
            logger.exception("qunzu: could not log a login")
        return NOT_SPAM

    async def on_profile_update(
        self, user_id: str, new_profile: ProfileInfo, by_admin: bool, deactivation: bool
    ) -> None:
        if not self._api.is_mine(user_id):
            return
        try:
            entry_id = f"profile:{secrets.token_hex(12)}"
            content: dict[str, Any] = {"displayname": new_profile.display_name, "avatar_url": new_profile.avatar_url}
            # Custom fields are published too (profile cards): kept as they stand after the content rules.
            fields = await self._api.run_db_interaction(
                "qunzu_netlog_profile_fields", synapse_tables.profile_fields_txn, user_id
            )
            if fields:
                content["fields"] = fields
            await self._direct(
                LogEntry(
                    id=entry_id,
                    kind="profile",
                    ts=self._clock.now_ms(),
                    user_id=user_id,
                    membership="by_admin" if by_admin else None,
                    content_enc=self._seal(entry_id, None, content),
                )
            )
        except Exception:
            logger.exception("qunzu: could not log a profile change")

    async def on_user_deactivation_status_changed(self, user_id: str, deactivated: bool, by_admin: bool) -> None:
        if not self._api.is_mine(user_id):
            return
        try:
            await self._direct(
                LogEntry(
                    id=f"account:{secrets.token_hex(12)}",
                    kind="account",
                    ts=self._clock.now_ms(),
                    user_id=user_id,
                    membership="deactivated" if deactivated else "reactivated",
                    target="by_admin" if by_admin else None,
                )
            )
        except Exception:
            logger.exception("qunzu: could not log an account change")

    async def _direct(self, entry: LogEntry) -> None:
        await self._health.ready()
        await self._store.insert([entry])
