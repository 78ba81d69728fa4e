"""Helpers for the sanction tests: verified accounts, measures, polling with deadlines, notices."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote

from devtools.homeserver import SERVER_NAME, SERVICE_LOCALPART, SynapseProcess

from .conftest import fresh_localpart
from .matrix import Matrix

SERVICE_USER_ID = f"@{SERVICE_LOCALPART}:{SERVER_NAME}"
WAIT_S = 20.0
T = TypeVar("T")


async def verified(as_user: Callable[..., Matrix], server: SynapseProcess, prefix: str = "m", **kwargs: Any) -> Matrix:
    account = as_user(server.register(fresh_localpart(prefix)), server)
    status, reply = await account.verify(**kwargs)
    assert status == 200, reply
    return account


async def eventually(
    probe: Callable[[], Awaitable[T | None]], deadline_s: float = WAIT_S, what: str | Callable[[], str] = ""
) -> T:
    """Poll `probe` until it returns something other than None or False, within a deadline.

    `what` names the wait in the failure; a callable is asked then (it can tell what the
    probe saw last).
    """
    deadline = time.monotonic() + deadline_s
    while True:
        value = await probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            described = what() if callable(what) else what
            raise AssertionError(f"timed out waiting for {described or probe}")
        await asyncio.sleep(0.2)


async def sanction(staff: Matrix, subject_type: str, subject: str, measure: str, **extra: Any) -> dict[str, Any]:
    body = {"subject": {"type": subject_type, "id": subject}, "measure": measure, "reason": "测试处理", **extra}
    status, reply = await staff.qunzu("POST", "/admin/sanctions", body)
    assert status == 200, reply
    return reply


async def joined_members(staff: Matrix, room_id: str) -> list[str]:
    status, reply = await staff.call("GET", f"/_synapse/admin/v1/rooms/{quote(room_id)}/members")
    assert status == 200, reply
    return list(reply["members"])


async def set_power(owner: Matrix, room_id: str, users: dict[str, int]) -> None:
    path = f"/_matrix/client/v3/rooms/{quote(room_id)}/state/m.room.power_levels/"
    status, levels = await owner.call("GET", path)
    assert status == 200, levels
    levels.setdefault("users", {}).update(users)
    status, reply = await owner.send_state(room_id, "m.room.power_levels", levels)
    assert status == 200, reply


async def notices(account: Matrix, service_account: str = SERVICE_USER_ID) -> list[str]:
    """Bodies of m.notice messages the service account sent the account in direct chats (joins invites)."""
    # A fresh inline filter each time: Synapse caches an initial sync's answer for minutes.
    fresh = quote(json.dumps({"presence": {"not_types": [secrets.token_hex(4)]}}))
    status, sync = await account.call("GET", f"/_matrix/client/v3/sync?timeout=0&filter={fresh}")
    assert status == 200, sync
    rooms = sync.get("rooms", {})
    for room_id, invite in rooms.get("invite", {}).items():
        events = invite.get("invite_state", {}).get("events", [])
        if any(e.get("sender") == service_account for e in events):
            await account.join(room_id)
    bodies: list[str] = []
    status, joined = await account.call("GET", "/_matrix/client/v3/joined_rooms")
    for room_id in joined.get("joined_rooms", []):
        status, page = await account.call("GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/messages?dir=b&limit=50")
        for event in page.get("chunk", []):
            content = event.get("content", {})
            if event.get("sender") == service_account and content.get("msgtype") == "m.notice":
                bodies.append(str(content.get("body")))
    return bodies
