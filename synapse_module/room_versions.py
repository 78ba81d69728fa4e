"""The room version this Synapse gives a creation that names none (its `default_room_version`).

The module API does not expose the homeserver's configuration, and the shape of a
creation's `power_level_content_override` depends on the version (policies/roles.py
`override_names_creator`). Synapse announces its default to clients in
`GET /_matrix/client/v3/capabilities` (`m.room_versions.default`): the module asks
its own server as the service account (`client_url`, default `public_baseurl`) from
the start and every `LEARN_MS` until it knows, and keeps the answer for the life of
the process (the setting changes only with a restart). A creation meanwhile waits for
a look-up under way (at most `TIMEOUT_S`). Only when none can answer (the service
account is not registered yet, the server is unreachable) is a creation that names no
version shaped without it, and the service account's power granted right after
(group_state.py `ensure_service_power`), a second write the room's creator could race.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from synapse.module_api import make_deferred_yieldable
from twisted.internet import defer, reactor
from twisted.web.client import readBody
from twisted.web.http_headers import Headers

from .errors import ServiceAccountMissing

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .clock import Clock
    from .config import QunzuConfig

logger = logging.getLogger(__name__)

DEVICE_ID = "QUNZU_ROOM_VERSIONS"
# While the version is unknown, the background asks again this often.
LEARN_MS = 5_000
# After a failed look-up, a creation does not start another one sooner than this.
RETRY_MS = 60_000
# A creation waits no longer than this for a look-up under way (it then goes on without it).
TIMEOUT_S = 5.0


class DefaultRoomVersion:
    """Learns and keeps the server's default room version."""

    def __init__(self, api: ModuleApi, clock: Clock, config: QunzuConfig) -> None:
        self._api = api
        self._clock = clock
        self._config = config
        self._version: str | None = None
        self._failed_at_ms: int | None = None
        # One look-up at a time; creations meanwhile wait on it.
        self._asking = False
        self._waiters: list[defer.Deferred[None]] = []
        self._said_missing = False

    def start(self) -> None:
        """Learn the version from the start on every process, not at the first creation."""
        self._api.looping_background_call(
            self._learn, LEARN_MS, desc="qunzu_default_room_version", run_on_all_instances=True
        )
        self._learn()

    def _learn(self) -> None:
        if self._version is None and not self._asking:
            self._begin()

    async def get(self) -> str | None:
        """The server's default room version, or None while it cannot be learned."""
        if self._version is not None:
            return self._version
        if not self._asking:
            if self._failed_at_ms is not None and self._clock.now_ms() - self._failed_at_ms < RETRY_MS:
                return None
            self._begin()
        waiter: defer.Deferred[None] = defer.Deferred()
        self._waiters.append(waiter)
        waiter.addTimeout(TIMEOUT_S, reactor)
        try:
            await make_deferred_yieldable(waiter)
        except defer.TimeoutError:
            logger.info("qunzu: the default room version look-up is slow; a creation goes on without it")
        return self._version

    def _begin(self) -> None:
        self._asking = True
        # A process of its own: it outlives the request or the looping call that began it.
        self._api.run_as_background_process("qunzu_default_room_version_look_up", self._look_up)

    async def _look_up(self) -> None:
        # A background boundary: any failure means "not known yet", and the next round asks again.
        try:
            self._version = await self._ask()
        except ServiceAccountMissing:
            # Cheap to ask again (one query): the next creation does, so the first rooms after
            # the account is registered are shaped exactly. Said once.
            if not self._said_missing:
                self._said_missing = True
                logger.info("qunzu: the default room version is learned once the service account exists")
        except Exception as exc:
            # Said once as a warning: the background asks again every few seconds.
            log = logger.info if self._failed_at_ms is not None else logger.warning
            self._failed_at_ms = self._clock.now_ms()
            log("qunzu: could not learn the default room version yet (%s: %s)", type(exc).__name__, exc)
        finally:
            self._asking = False
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.called:
                    waiter.callback(None)

    async def _ask(self) -> str:
        service = self._config.service_account
        if await self._api.check_user_exists(service) is None:
            raise ServiceAccountMissing(service)
        _device, token, _expiry, _refresh = await self._api.register_device(
            service, DEVICE_ID, "Qunzu module (room versions)"
        )
        base = (self._config.client_url or self._api.public_baseurl).rstrip("/")
        headers = Headers({b"Authorization": [f"Bearer {token}".encode()]})
        try:
            response = await self._api.http_client.request(
                "GET", f"{base}/_matrix/client/v3/capabilities", headers=headers
            )
            raw = await make_deferred_yieldable(readBody(response))
        finally:
            # Used once: the device and its token are removed again (best effort; Synapse
            # 1.163's `invalidate_access_token` fails on its own Requester).
            try:
                await self._api.http_client.request("POST", f"{base}/_matrix/client/v3/logout", headers=headers)
            except Exception:  # a token left behind only lets the module in again
                logger.info("qunzu: logging the room-version look-up out failed")
        if response.code != 200:
            raise ValueError(f"the capabilities answered {response.code}")
        version = json.loads(raw)["capabilities"]["m.room_versions"]["default"]
        if not isinstance(version, str):
            raise ValueError("no default room version in the capabilities")
        return version
