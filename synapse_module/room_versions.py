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

from synapse.module_api import make_deferred_yieldable
from twisted.web.client import readBody
from twisted.web.http_headers import Headers

if TYPE_CHECKING:
    from .module import QunzuModule

logger = logging.getLogger(__name__)

DEVICE_ID = "QUNZU_ROOM_VERSIONS"
# After a failed look-up, creations go on without it; asked again no sooner than this.
RETRY_MS = 60_000


class DefaultRoomVersion:
    """Learns and keeps the server's default room version."""

    def __init__(self, module: QunzuModule) -> None:
        self._module = module
        self._api = module.api
        self._version: str | None = None
        self._failed_at_ms: int | None = None

    async def get(self) -> str | None:
        """The server's default room version, or None while it cannot be learned."""
        if self._version is not None:
            return self._version
        now = self._module.clock.now_ms()
        if self._failed_at_ms is not None and now - self._failed_at_ms < RETRY_MS:
            return None
        try:
            self._version = await self._ask()
        except Exception as exc:  # the boundary to an HTTP call: any failure means "not known yet"
            self._failed_at_ms = now
            logger.warning("qunzu: could not learn the default room version (%s: %s)", type(exc).__name__, exc)
        return self._version

    async def _ask(self) -> str:
        _device, token, _expiry, _refresh = await self._api.register_device(
            self._module.config.service_account, DEVICE_ID, "Qunzu module (room versions)"
        )
        base = (self._module.config.client_url or self._api.public_baseurl).rstrip("/")
        headers = Headers({b"Authorization": [f"Bearer {token}".encode()]})
        response = await self._api.http_client.request("GET", f"{base}/_matrix/client/v3/capabilities", headers=headers)
        raw = await make_deferred_yieldable(readBody(response))
        if response.code != 200:
            raise ValueError(f"the capabilities answered {response.code}")
        version = json.loads(raw)["capabilities"]["m.room_versions"]["default"]
        if not isinstance(version, str):
            raise ValueError("no default room version in the capabilities")
        return version
