"""Whether this process has its schema: requests wait for it, jobs and followers skip until then."""

from __future__ import annotations

import logging
from collections.abc import Callable

from synapse.module_api import ModuleApi

from policies.api import AdminGuardStatus, GreetingQueue, HealthReport, NoticeQueue

from .config import QunzuConfig
from .errors import NotReady
from .store import QunzuStore
from .work_queue import WorkQueue

logger = logging.getLogger(__name__)

# How long a request waits for the schema on a process that is still starting.
READY_TIMEOUT_S = 30.0
_READY_POLL_S = 0.05


class Health:
    """The process's state ("starting", "ready", "failed"), set by the schema setup at start."""

    def __init__(self, api: ModuleApi, config: QunzuConfig, store: QunzuStore) -> None:
        self._api = api
        self._config = config
        self._store = store
        self._state = "starting"
        self._schema_version = 0
        # Further parts of `report()`, once registered: the admin guard's state, the bot chats' queues.
        self.admin_guard: Callable[[], AdminGuardStatus] | None = None
        self.greetings: WorkQueue | None = None
        self.notices: WorkQueue | None = None

    def is_ready(self) -> bool:
        """Whether the schema is set up: looping jobs and the event follower skip their tick until then."""
        return self._state == "ready"

    async def setup(self) -> None:
        """Migrate the schema, and put a change on the audit record; the state tells how it went."""
        instance = self._api.worker_name or "master"
        try:
            result = await self._store.migrate(instance)
        except Exception:
            self._state = "failed"
            logger.exception("qunzu: schema setup failed; Qunzu refuses guarded actions until fixed")
            return
        self._schema_version = result.to_version
        if result.changed:
            logger.info("qunzu: schema migrated from version %d to %d", result.from_version, result.to_version)
            await self._store.audit.append(
                f"module:{instance}",
                "schema.migrate",
                "schema",
                {"from": result.from_version, "to": result.to_version},
            )
        else:
            logger.info("qunzu: schema up to date at version %d", result.to_version)
        self._state = "ready"

    async def ready(self) -> None:
        """Wait until this process has its schema; refuse with 503 if that does not happen.

        Raises:
            RequestError: 503 when setup failed or takes longer than READY_TIMEOUT_S.
        """
        waited = 0.0
        while self._state == "starting" and waited < READY_TIMEOUT_S:
            await self._api.sleep(_READY_POLL_S)
            waited += _READY_POLL_S
        if self._state != "ready":
            raise NotReady("Qunzu is starting or its database setup failed; try again shortly")

    def report(self) -> HealthReport:
        """What `GET /health` starts from: state, schema, convention, process and the registered parts."""
        report = HealthReport(
            status=self._state,
            schema_version=self._schema_version,
            convention_version=self._config.policy.convention.version,
            instance=self._api.worker_name or "master",
        )
        parts: dict[str, AdminGuardStatus | GreetingQueue | NoticeQueue] = {}
        if self.admin_guard is not None:
            parts["admin_guard"] = self.admin_guard()
        if (greetings := self.greetings) is not None:
            parts["greetings"] = GreetingQueue(waiting=greetings.waiting, greeters=greetings.workers)
        if (notices := self.notices) is not None:
            parts["notices"] = NoticeQueue(waiting=notices.waiting, senders=notices.workers, dropped=notices.dropped)
        return report.model_copy(update=parts)
