"""Real-name verification for end-to-end tests: fresh valid ID numbers and one call to verify.

Posting, creating rooms and inviting need a verified identity (DESIGN.md §4),
and at most 3 accounts may share one ID number, so every test account gets a
number of its own::

    await verify(qunzu_api, synapse.base_url, account.access_token)
"""

from __future__ import annotations

import datetime
import random
from typing import Any

import aiohttp

from policies.identity import id_check_character

from .http_client import QunzuHttp

#: 北京市朝阳区: a real area code, so the number passes every format check.
AREA_CODE = "110105"
API_PATH = "/_synapse/client/qunzu/v1"

_random = random.SystemRandom()


def fresh_id_number() -> str:
    """A valid 18-character ID number (area 110105, adult birth date, random sequence, check character).

    There are about 11 million of them (birth dates 1960–1999 × 1000
    sequences), so two tests of one session practically never share one.
    """
    birth = datetime.date(1960, 1, 1) + datetime.timedelta(days=_random.randrange(40 * 365))
    first17 = f"{AREA_CODE}{birth:%Y%m%d}{_random.randrange(1000):03d}"
    return first17 + id_check_character(first17)


async def _call(
    http: aiohttp.ClientSession | QunzuHttp, base_url: str, method: str, path: str, token: str | None, body: Any
) -> tuple[int, Any]:
    if isinstance(http, QunzuHttp):
        return await http.request(method, path, token, json=body)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.request(method, f"{base_url}{API_PATH}{path}", json=body, headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def verify(http: aiohttp.ClientSession | QunzuHttp, base_url: str, token: str, *, name: str = "张三") -> str:
    """Verify the account behind ``token`` with a fresh ID number and accept the current convention.

    Args:
        http: An aiohttp session, or the ``qunzu_api`` fixture (then ``base_url``
            is the one it was made for and this argument is not used).
        base_url: The homeserver's base URL (``synapse.base_url``).
        token: The account's access token.
        name: The real name to submit.

    Returns:
        The ID number used.

    Raises:
        AssertionError: The module did not answer 200 (the message carries its answer).
    """
    status, health = await _call(http, base_url, "GET", "/health", None, None)
    assert status == 200, f"GET /health: {status} {health}"
    id_number = fresh_id_number()
    body = {"name": name, "id_number": id_number, "convention_version": health["convention_version"]}
    status, answer = await _call(http, base_url, "POST", "/realname", token, body)
    assert status == 200, f"POST /realname: {status} {answer}"
    return id_number
