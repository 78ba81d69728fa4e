"""Telling verified people once that the platform convention changed (Art. 5; DESIGN.md §6.4).

After a new convention version takes effect, posting needs it accepted. Each
verified person who had accepted an earlier version is told once, in their bot
chat, what changed and how to accept (`!accept` there, or the form). A job runs
right after start (on the background-task instance) and every minute after; a claim row per person and version
(`qunzu_convention_notices`) makes it tell nobody twice, across restarts and
processes.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from policies.api import ConventionNoticesSent

from .texts import text

if TYPE_CHECKING:
    from .config import QunzuConfig
    from .health import Health
    from .notices import Notifier
    from .store.lifecycle import LifecycleStore

logger = logging.getLogger(__name__)

BATCH = 200


class ConventionNotices:
    """The job that tells people about a new convention version."""

    def __init__(self, config: QunzuConfig, *, health: Health, store: LifecycleStore, notifier: Notifier) -> None:
        self._config = config
        self._health = health
        self._store = store
        self._notifier = notifier

    async def at_start(self) -> None:
        """Right after start, where the convention may just have changed (the job repeats it)."""
        try:
            await self._health.ready()
            result = await self.run()
        except Exception:
            # A background boundary: the job retries within a minute.
            logger.exception("qunzu: telling people about the convention at start failed")
            return
        if result.told:
            logger.info("qunzu: told %d people about convention version changes", result.told)

    async def run(self) -> ConventionNoticesSent:
        """Tell everyone not told yet; returns how many were told."""
        version = self._config.policy.convention.version
        store = self._store
        body = text("convention_updated", self._config.language, version=version)
        told = failed = 0
        after = ""
        while people := await store.verified_without(version, after, BATCH):
            for user_id in people:
                if not await store.claim_convention_notice(user_id, version):
                    continue  # another process told them
                if await self._notifier.to_user(user_id, body):
                    told += 1
                else:
                    failed += 1  # logged by the notifier; they still learn it when posting is refused
            after = people[-1]
        return ConventionNoticesSent(told=told, failed=failed)
