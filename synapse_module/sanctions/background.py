"""Work that runs after the answer, in its own log context, and only logs when it fails."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from synapse.module_api import ModuleApi

logger = logging.getLogger(__name__)


def run_in_background(api: ModuleApi, desc: str, work: Callable[[], Awaitable[Any]]) -> None:
    """Run `work()` as a Synapse background process named `desc`; a failure is logged, never raised."""

    # The coroutine is made inside the background process, in its own log context.
    async def run() -> None:
        try:
            await work()
        except Exception:
            logger.exception("qunzu: %s failed", desc)

    api.run_as_background_process(desc, run)
