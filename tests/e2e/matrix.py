"""Raw client-server API calls for tests, returning status and the full JSON (incl. cn.qunzu.* fields)."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

import aiohttp

from devtools.homeserver import Account

from .identities import fresh_id_number

Reply = tuple[int, dict[str, Any]]


class Matrix:
    """Matrix client-server calls as one account."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, account: Account) -> None:
        self._session = session
        self._base = base_url
        self.account = account

    @property
    def user_id(self) -> str:
        return self.account.user_id

    async def call(self, method: str, path: str, body: Any = None) -> Reply:
        headers = {"Authorization": f"Bearer {self.account.access_token}"}
        async with self._session.request(method, self._base + path, json=body, headers=headers) as response:
            return response.status, await response.json(content_type=None)

    async def qunzu(self, method: str, path: str, body: Any = None) -> Reply:
        return await self.call(method, "/_synapse/client/qunzu/v1" + path, body)

    async def create_room(self, **body: Any) -> Reply:
        return await self.call("POST", "/_matrix/client/v3/createRoom", body)

    async def new_room(self, **body: Any) -> str:
        status, reply = await self.create_room(**body)
        assert status == 200, reply
        return str(reply["room_id"])

    async def send_text(self, room_id: str, text: str) -> Reply:
        txn = secrets.token_hex(8)
        path = f"/_matrix/client/v3/rooms/{quote(room_id)}/send/m.room.message/{txn}"
        return await self.call("PUT", path, {"msgtype": "m.text", "body": text})

    async def send_state(self, room_id: str, event_type: str, content: dict[str, Any], state_key: str = "") -> Reply:
        path = f"/_matrix/client/v3/rooms/{quote(room_id)}/state/{event_type}/{quote(state_key)}"
        return await self.call("PUT", path, content)

    async def invite(self, room_id: str, user_id: str) -> Reply:
        return await self.call("POST", f"/_matrix/client/v3/rooms/{quote(room_id)}/invite", {"user_id": user_id})

    async def join(self, room_id: str) -> Reply:
        return await self.call("POST", f"/_matrix/client/v3/join/{quote(room_id)}", {})

    async def verify(self, id_number: str | None = None, name: str = "张三", **extra: Any) -> Reply:
        """Submit an identity and accept the current convention."""
        _status, health = await self.qunzu("GET", "/health")
        body = {
            "name": name,
            "id_number": id_number or fresh_id_number(),
            "convention_version": health["convention_version"],
            **extra,
        }
        return await self.qunzu("POST", "/realname", body)
