"""The room version this Synapse gives a creation that names none (its `default_room_version`).

The module API does not expose the homeserver's configuration, and the shape of a
creation's `power_level_content_override` depends on the version (policies/roles.py
`override_names_creator`). Synapse announces its default to clients in
`GET /_matrix/client/v3/capabilities` (`m.room_versions.default`): the module asks
its own server once, as the service account (`client_url`, default `public_baseurl`),
and keeps the answer for the life of the process (the setting changes only with a
restart). Until an answer arrives, creations that name no version are shaped without
knowing it and the service account's power is granted right after (groups.py).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from synapse.module_api import make_deferred_yieldable, run_in_background
from twisted.internet import reactor
from twisted.web.client import readBody
from twisted.web.http_headers import Headers

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .clock import Clock
    from .config import QunzuConfig

logger = logging.getLogger(__name__)

DEVICE_ID = "QUNZU_ROOM_VERSIONS"
# After a failed look-up, creations go on without it; asked again no sooner than this.
RETRY_MS = 60_000
# A creation waits no longer than this for the look-up (it then goes on without it).
TIMEOUT_S = 5.0


class DefaultRoomVersion:
    """Learns and keeps the server's default room version."""

    def __init__(self, api: ModuleApi, clock: Clock, config: QunzuConfig) -> None:
        self._api = api
        self._clock = clock
        self._config = config
        self._version: str | None = None
        self._failed_at_ms: int | None = None
        # One look-up at a time: creations meanwhile go on without it (they are granted after).
        self._asking = False

    async def get(self) -> str | None:
        """The server's default room version, or None while it cannot be learned."""
        if self._version is not None:
            return self._version
        now = self._clock.now_ms()
        if self._asking or (self._failed_at_ms is not None and now - self._failed_at_ms < RETRY_MS):
            return None
        self._asking = True
        deferred = run_in_background(self._ask)
        deferred.addTimeout(TIMEOUT_S, reactor)
        try:
            self._version = await make_deferred_yieldable(deferred)
        except Exception as exc:  # the boundary to an HTTP call: any failure (or timeout) means "not known yet"
            self._failed_at_ms = now
            logger.warning("qunzu: could not learn the default room version (%s: %s)", type(exc).__name__, exc)
        finally:
            self._asking = False
        return self._version

    async def _ask(self) -> str:
        service = self._config.service_account
        if await self._api.check_user_exists(service) is None:
            raise LookupError("the service account is not registered yet")
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
