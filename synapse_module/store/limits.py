"""Per-person limits, exact under concurrency (Art. 8, 12; DESIGN.md §5, §6.1).

One mechanism decides every per-person limit, inside the transaction that
records the use it counts:

1. `guard_txn` writes the person's guard row for that limit
   (`qunzu_cap_guards`). Two transactions for the same person and limit both
   write it, so they serialise: on PostgreSQL (REPEATABLE READ) the later one
   fails with a serialization failure and runs again with a snapshot that sees
   the earlier one's use (`run_contended` keeps retrying); SQLite has a single
   writer. Processes (workers) share the row, so the guard holds across them.
2. The uses are counted: a windowed counter (`take_txn`: reports per hour,
   verification attempts per day, malformed verification submissions per hour)
   or, for rooms joined, the rooms a person is in plus the places their joins
   hold while Synapse finishes them
   (`store/groups.py: _check_join_txn`).
3. The pure rule decides, and the use is recorded in the same transaction only
   when it is allowed. Nothing leaves the database before the commit, so a retry
   repeats the whole step: the transactions are idempotent and free of side effects.

Windowed counters keep one row per use in `qunzu_limit_uses`; a person's uses
older than the window are deleted when that person next takes one (under the
guard, so the delete never contends with anyone else).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from synapse.module_api import LoggingTransaction, ModuleApi

from policies.constants import DAY_MS, HOUR_MS

from ..clock import Clock
from .sql import run_contended


@dataclass(frozen=True)
class Window:
    """A per-person limit counted over a sliding time window."""

    name: str
    window_ms: int


# Art. 12: reports one person may file in an hour (POST /reports, the bot's !report; report buttons count).
REPORTS = Window("reports", HOUR_MS)
# Art. 6: real-name verification attempts per account and day (guards the provider against guessing).
REALNAME_ATTEMPTS = Window("realname_attempts", DAY_MS)
# Art. 6: submissions refused for their format per account and hour (they never reach the provider).
REALNAME_FORMAT_ERRORS = Window("realname_format_errors", HOUR_MS)


@dataclass(frozen=True)
class Use:
    """The outcome of taking one use of a windowed limit.

    Attributes:
        allowed: The use was recorded (the person was under the cap).
        count: Uses in the window before this one.
        cap: The cap that applied.
        use_id: The recorded use (to give it back), or None when refused.
        retry_after_ms: When refused, how long until the oldest use leaves the window.
    """

    allowed: bool
    count: int
    cap: int
    use_id: str | None
    retry_after_ms: int = 0


def new_use_id() -> str:
    """An id for a use, chosen before the transaction so a retry records the same use."""
    return secrets.token_hex(8)


def guard_txn(txn: LoggingTransaction, scope: str) -> None:
    """Write the guard row of `scope`: concurrent transactions writing it take turns."""
    txn.execute(
        "INSERT INTO qunzu_cap_guards (scope, bumps) VALUES (?, 1)"
        " ON CONFLICT (scope) DO UPDATE SET bumps = qunzu_cap_guards.bumps + 1",
        (scope,),
    )


def uses_txn(txn: LoggingTransaction, window: Window, subject: str, now_ms: int) -> int:
    """Uses of the limit by `subject` in the window ending now (read only, no guard)."""
    txn.execute(
        "SELECT COUNT(*) FROM qunzu_limit_uses WHERE limit_name = ? AND subject = ? AND ts > ?",
        (window.name, subject, now_ms - window.window_ms),
    )
    row = txn.fetchone()
    return int(row[0]) if row else 0


def take_txn(
    txn: LoggingTransaction,
    window: Window,
    subject: str,
    cap: int | None,
    now_ms: int,
    use_id: str,
) -> Use:
    """Decide one use of a windowed limit exactly and record it when allowed.

    Args:
        txn: The transaction that also records what the use is for (a report, an attempt).
        window: Which limit.
        subject: The person (user id).
        cap: Uses allowed in the window; None records the use without deciding (something
            the person did already, e.g. a report made with a client's report button: it
            counts against later reports, but it cannot be refused any more).
        now_ms: The current time.
        use_id: The id of this use (`new_use_id`), the same on every retry.
    """
    guard_txn(txn, f"{window.name}:{subject}")
    txn.execute(
        "DELETE FROM qunzu_limit_uses WHERE limit_name = ? AND subject = ? AND ts <= ?",
        (window.name, subject, now_ms - window.window_ms),
    )
    count = uses_txn(txn, window, subject, now_ms)
    if cap is not None and count >= cap:
        txn.execute(
            "SELECT MIN(ts) FROM qunzu_limit_uses WHERE limit_name = ? AND subject = ? AND ts > ?",
            (window.name, subject, now_ms - window.window_ms),
        )
        row = txn.fetchone()
        oldest = int(row[0]) if row and row[0] is not None else now_ms
        # A use recorded by a transaction that read the clock after this one did may look
        # younger than now; a wait is never longer than the window.
        wait = min(window.window_ms, max(0, oldest + window.window_ms - now_ms))
        return Use(False, count, cap, None, wait)
    txn.execute(
        "INSERT INTO qunzu_limit_uses (limit_name, subject, use_id, ts) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (limit_name, subject, use_id) DO NOTHING",
        (window.name, subject, use_id, now_ms),
    )
    return Use(True, count, -1 if cap is None else cap, use_id)


def give_back_txn(txn: LoggingTransaction, window: Window, subject: str, use_id: str) -> None:
    """Withdraw a recorded use (the action it was taken for did not happen)."""
    txn.execute(
        "DELETE FROM qunzu_limit_uses WHERE limit_name = ? AND subject = ? AND use_id = ?",
        (window.name, subject, use_id),
    )


class LimitStore:
    """Async access to the windowed per-person counters."""

    def __init__(self, api: ModuleApi, clock: Clock) -> None:
        self._api = api
        self._clock = clock

    async def take(self, window: Window, subject: str, cap: int) -> Use:
        """Take one use of `window` for `subject` if fewer than `cap` were taken in the window."""
        return await run_contended(
            self._api,
            f"qunzu_take_{window.name}",
            take_txn,
            window,
            subject,
            cap,
            self._clock.now_ms(),
            new_use_id(),
        )

    async def give_back(self, window: Window, subject: str, use_id: str) -> None:
        await self._api.run_db_interaction(f"qunzu_give_back_{window.name}", give_back_txn, window, subject, use_id)

    async def used(self, window: Window, subject: str) -> int:
        """Uses of `window` by `subject` in the window ending now (what `GET /me` tells the person)."""
        return int(
            await self._api.run_db_interaction(
                f"qunzu_count_{window.name}", uses_txn, window, subject, self._clock.now_ms()
            )
        )
