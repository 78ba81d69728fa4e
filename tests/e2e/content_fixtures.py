"""One server with term lists, shared by the content tests (test_content.py, test_content_texts.py, …).

Its policy points at term files in a temporary directory, reloaded every second,
so a test can also edit them (only `reload.txt`, which starts empty). Its default
room version is 11 (tests/e2e/test_room_versions.py uses it as its version-11
server) and groups' pages are public from 3 members (tests/e2e/test_browser.py).
Every test uses people of its own. Import the fixtures into a test module to use
them; every such module gets the same server (`shared_servers`) and runs on one
worker (xdist group "content").
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from devtools.homeserver import SynapseProcess
from policies import default_policy

from .conftest import SharedServers, fresh_localpart
from .matrix import Matrix

BLOCKED = "法轮功"  # cults: refused
BLOCKED_LATIN = "falungong"  # cults, in latin letters
FLAGGED = "加微信领红包"  # spam: passes, opens a ticket
HELD = "地震预言"  # rumor: held for review
RELOADED = "新增违禁词"  # added to reload.txt by a test
BLOCKED_MEDIA = b"a file that the operator listed as prohibited"

# The content server's `default_room_version`, and the member count from which its groups' pages
# are public (tests/e2e/test_browser.py: a public group needs no crowd).
CONTENT_ROOM_VERSION = "11"
PUBLIC_FROM = 3

ENABLED = {
    "cults": ["cults.txt"],
    "spam": ["spam.txt"],
    "rumor": ["rumor.txt"],
    "other_illegal": ["reload.txt"],
}


@pytest.fixture(name="terms_dir", scope="session")
def terms_dir_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One directory per session (each importing module has its own fixture; the files are written once).
    directory = tmp_path_factory.getbasetemp() / "content-terms"
    if directory.exists():
        return directory
    directory.mkdir()
    (directory / "cults.txt").write_text(f"# cults\n{BLOCKED}\n{BLOCKED_LATIN}\n", encoding="utf-8")
    (directory / "spam.txt").write_text(f"{FLAGGED}\n", encoding="utf-8")
    (directory / "rumor.txt").write_text(f"{HELD}\n", encoding="utf-8")
    (directory / "reload.txt").write_text("# empty at start\n", encoding="utf-8")
    (directory / "allow.txt").write_text("", encoding="utf-8")
    (directory / "media.txt").write_text(hashlib.sha256(BLOCKED_MEDIA).hexdigest() + "\n", encoding="utf-8")
    return directory


@pytest.fixture(name="server", scope="session")
def content_server_fixture(shared_servers: SharedServers, terms_dir: Path) -> SynapseProcess:
    categories: dict[str, Any] = {
        name: {"enabled": name in ENABLED, "lists": ENABLED.get(name, [])}
        for name in default_policy().content.categories
    }
    policy = {
        "scale_tiers": {"info_page_from_members": PUBLIC_FROM},
        "content": {
            "terms_dir": str(terms_dir),
            "reload_interval": "1s",
            "categories": categories,
            "allow_lists": ["allow.txt"],
            "media_hashes": {"category": "other_illegal", "lists": ["media.txt"]},
        },
    }
    # The same policy from either module: the same shared server. Its default room version is 11:
    # the content rules do not depend on it, and tests/e2e/test_room_versions.py needs such a server.
    return shared_servers.with_policy(policy, homeserver_extra={"default_room_version": CONTENT_ROOM_VERSION})


@pytest.fixture(name="session")
async def session_fixture() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        yield http


@pytest.fixture(name="person")
def person_fixture(server: SynapseProcess, session: aiohttp.ClientSession) -> Callable[..., Matrix]:
    """Makes new accounts on the content server (staff with ``admin=True``)."""

    def make(admin: bool = False) -> Matrix:
        return Matrix(session, server.base_url, server.register(fresh_localpart("c"), admin=admin))

    return make


@pytest.fixture(name="poster")
async def poster_fixture(person: Callable[..., Matrix]) -> Matrix:
    """A verified member who has accepted the convention."""
    member = person()
    status, reply = await member.verify()
    assert status == 200, reply
    return member


@pytest.fixture(name="staff")
def staff_fixture(person: Callable[..., Matrix]) -> Matrix:
    return person(admin=True)
