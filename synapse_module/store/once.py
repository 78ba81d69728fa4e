"""SQL of things done once per key and window: `qunzu_once`.

A key is taken by one conditional upsert: the row is inserted, or an expired row
is renewed; a live row is left alone. Exactly one of any number of parallel
attempts, on any process, sees a changed row and wins (on PostgreSQL the losers
of a race on a new key fail serialization, are retried by Synapse and then find
the live row). Expired rows are pruned by the `forget_expired_once` job.
"""

from __future__ import annotations

from synapse.module_api import LoggingTransaction, ModuleApi

from ..clock import Clock
from .synapse_tables import accounts_without_once_key_txn

# A key that never expires (a greeting per account): far beyond any clock, within BIGINT.
FOREVER_MS = 2**62


class OnceStore:
    """Async access to `qunzu_once`."""

    def __init__(self, api: ModuleApi, clock: Clock) -> None:
        self._api = api
        self._clock = clock

    async def claim(self, key: str, window_ms: int, value: str | None = None) -> bool:
        """Take `key` for `window_ms` (or for ever, `FOREVER_MS`); True for the one caller that did."""
        now = self._clock.now_ms()
        expires = FOREVER_MS if window_ms >= FOREVER_MS else now + window_ms
        return await self._api.run_db_interaction("qunzu_once_claim", _claim_txn, key, now, expires, value)

    async def value_of(self, key: str) -> str | None:
        """The value stored with a live key (None when absent, expired or stored without one)."""
        return await self._api.run_db_interaction("qunzu_once_value", _value_txn, key, self._clock.now_ms())

    async def set_value(self, key: str, value: str) -> None:
        await self._api.run_db_interaction("qunzu_once_set_value", _set_value_txn, key, value)

    async def release(self, key: str) -> None:
        """Give a key back (the thing it stood for could not be done)."""
        await self._api.run_db_interaction("qunzu_once_release", _release_txn, key)

    async def accounts_without(self, key_prefix: str, registered_since_ms: int, limit: int) -> list[str]:
        """Accounts registered since a time that never took the key `<key_prefix><user id>`."""
        return await self._api.run_db_interaction(
            "qunzu_once_accounts_without", accounts_without_once_key_txn, registered_since_ms, key_prefix, limit
        )

    async def forget_expired(self, batch: int) -> int:
        """Delete up to `batch` expired keys; the number deleted."""
        return await self._api.run_db_interaction("qunzu_once_forget", _forget_txn, self._clock.now_ms(), batch)


def _claim_txn(txn: LoggingTransaction, key: str, now_ms: int, expires_ms: int, value: str | None) -> bool:
    txn.execute(
        "INSERT INTO qunzu_once (key, expires_ts, value) VALUES (?, ?, ?)"
        " ON CONFLICT (key) DO UPDATE SET expires_ts = excluded.expires_ts, value = excluded.value"
        " WHERE qunzu_once.expires_ts <= ?",
        (key, expires_ms, value, now_ms),
    )
    return txn.rowcount == 1


def _value_txn(txn: LoggingTransaction, key: str, now_ms: int) -> str | None:
    txn.execute("SELECT value FROM qunzu_once WHERE key = ? AND expires_ts > ?", (key, now_ms))
    row = txn.fetchone()
    return None if row is None or row[0] is None else str(row[0])


def _set_value_txn(txn: LoggingTransaction, key: str, value: str) -> None:
    txn.execute("UPDATE qunzu_once SET value = ? WHERE key = ?", (value, key))


def _release_txn(txn: LoggingTransaction, key: str) -> None:
    txn.execute("DELETE FROM qunzu_once WHERE key = ?", (key,))


def _forget_txn(txn: LoggingTransaction, now_ms: int, batch: int) -> int:
    txn.execute(
        "DELETE FROM qunzu_once WHERE key IN (SELECT key FROM qunzu_once WHERE expires_ts <= ? LIMIT ?)",
        (now_ms, batch),
    )
    return max(txn.rowcount, 0)
