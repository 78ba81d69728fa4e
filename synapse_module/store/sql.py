"""Small SQL helpers shared by the stores."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TypeVar

from synapse.module_api import ModuleApi

T = TypeVar("T")


class Where:
    """A WHERE clause built from optional conditions, its arguments kept alongside.

    `str(where)` is "" when no condition applies, so it can always be interpolated.
    """

    def __init__(self) -> None:
        self._clauses: list[str] = []
        self.args: list[object] = []

    def add(self, clause: str, *args: object, when: bool = True) -> Where:
        if when:
            self._clauses.append(clause)
            self.args.extend(args)
        return self

    def __str__(self) -> str:
        return f"WHERE {' AND '.join(self._clauses)}" if self._clauses else ""


# PostgreSQL's "serialization_failure" and "deadlock_detected": transient by definition.
_TRANSIENT_SQLSTATES = ("40001", "40P01")


def is_transient(error: BaseException) -> bool:
    """A conflict between concurrent transactions that a retry resolves."""
    return getattr(error, "pgcode", None) in _TRANSIENT_SQLSTATES


async def run_contended(api: ModuleApi, desc: str, func: Callable[..., T], *args: object, attempts: int = 20) -> T:
    """`run_db_interaction` for transactions many processes contend for (cap guards).

    Synapse retries a serialization failure a few times and then gives up; a
    guard row that a dozen simultaneous joins or creations all write can need
    more turns than that. The transaction functions are idempotent, so running
    again is safe; the pause grows and is jittered so contenders spread out.
    """
    for attempt in range(1, attempts + 1):
        try:
            return await api.run_db_interaction(desc, func, *args)
        except Exception as exc:
            if not is_transient(exc) or attempt == attempts:
                raise
            await api.sleep(random.uniform(0.005, 0.02) * attempt)
    raise AssertionError("unreachable")
