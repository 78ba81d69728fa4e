"""A verification service on 127.0.0.1 for the module's `http` provider (shared by the e2e tests)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from typing import Any

from aiohttp import web

SECRET = "test-provider-secret-0123456789"
# The module waits `TIMEOUT_S` for an answer; "王超时" is answered only after `SLOW_S`.
TIMEOUT_S = 5.0
SLOW_S = 8.0


class FakeVerificationService:
    """A verification service on 127.0.0.1 whose answer depends on the submitted name."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        if request.headers.get("X-Qunzu-Signature") != expected:
            self.bad_signatures += 1
            return web.json_response({"error": "bad signature"}, status=401)
        payload = json.loads(body)
        self.requests.append(payload)
        behaviour = {"张通过": "verified", "李不符": "mismatch"}.get(payload["name"])
        if payload["name"] == "王超时":
            await asyncio.sleep(SLOW_S)
            behaviour = "verified"
        if behaviour is None:
            return web.json_response({"error": "internal"}, status=500)
        return web.json_response({"result": behaviour})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/verify", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/verify"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
