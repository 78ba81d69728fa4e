"""A plain HTTP client for the module's API, returning status and JSON."""

from __future__ import annotations

from typing import Any

import aiohttp


class QunzuHttp:
    """A plain HTTP client for the module's API that returns status and JSON."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self._session = session
        self._base = f"{base_url}/_synapse/client/qunzu/v1"

    async def request(
        self, method: str, path: str, token: str | None = None, json: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        async with self._session.request(method, self._base + path, json=json, headers=all_headers) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()

    async def get(self, path: str, token: str | None = None) -> tuple[int, Any]:
        return await self.request("GET", path, token)

    async def post(self, path: str, body: Any, token: str | None = None) -> tuple[int, Any]:
        return await self.request("POST", path, token, json=body)
