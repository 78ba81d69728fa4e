"""Two reads at once inside Synapse (Twisted, with Synapse's log contexts).

A cold callback often needs two independent database reads; awaiting them one
after the other doubles the wait. Synapse's own `gather_results` is not part of
the module API, so this is the few lines it takes with what the API exports.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from synapse.module_api import make_deferred_yieldable, run_in_background
from twisted.internet import defer

A = TypeVar("A")
B = TypeVar("B")


async def both(first: Callable[[], Awaitable[A]], second: Callable[[], Awaitable[B]]) -> tuple[A, B]:
    """Run two coroutine functions concurrently and return both results.

    Raises:
        Exception: the first failure of either, as itself (not wrapped).
    """
    started: list[defer.Deferred[Any]] = [run_in_background(first), run_in_background(second)]
    try:
        results: list[Any] = await make_deferred_yieldable(defer.gatherResults(started, consumeErrors=True))
    except defer.FirstError as error:
        error.subFailure.raiseException()
        raise  # unreachable: raiseException always raises; keeps type checkers content
    return cast(A, results[0]), cast(B, results[1])
