"""Keeping a group's `#<code>` (synapse_module/group_alias.py) against a directory the test controls.

What Synapse does around a deletion (the order of the deletion and the canonical alias
update, what the deleter is answered) is in tests/e2e/test_group_alias.py.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from synapse.module_api.errors import SynapseError

from synapse_module.group_alias import CodeAliases
from synapse_module.module import QunzuModule

from .harness import FakeModuleApi

CODE = "123456789"


class Directory:
    """The room directory and each room's canonical alias, as the module's API would read them."""

    def __init__(self, module_api: FakeModuleApi, aliases: CodeAliases) -> None:
        self.rooms: dict[str, str] = {}
        self.canonical: dict[str, dict[str, Any]] = {}
        self.puts: list[tuple[str, str]] = []
        # What the fake has no general answer for, this test gives.
        vars(module_api).update(
            lookup_room_alias=self.lookup, get_room_state=self.state, public_baseurl="http://127.0.0.1:1/"
        )
        aliases._put = self.put  # type: ignore[method-assign]
        aliases._token = "module-token"

    async def lookup(self, alias: str) -> tuple[str, list[str]]:
        if alias not in self.rooms:
            raise SynapseError(404, "Room alias not found")
        return self.rooms[alias], []

    async def state(self, room_id: str, types: list[tuple[str, str]]) -> dict[tuple[str, str], Any]:
        content = self.canonical.get(room_id)
        return {} if content is None else {("m.room.canonical_alias", ""): SimpleNamespace(content=content)}

    async def put(self, url: str, body: dict[str, Any], token: str) -> tuple[int, dict[str, Any]]:
        alias = url.rsplit("/", 1)[1].replace("%23", "#").replace("%3A", ":")
        self.puts.append((alias, body["room_id"]))
        self.rooms[alias] = body["room_id"]
        return 200, {}


@pytest.fixture
def directory(module: QunzuModule, module_api: FakeModuleApi) -> Directory:
    return Directory(module_api, module.code_aliases)


async def test_a_group_created_under_an_address_of_its_own_gets_its_code_alias_too(
    module: QunzuModule, directory: Directory
) -> None:
    alias = module.code_aliases.alias_of(CODE)
    directory.canonical["!club:localhost"] = {"alias": "#club:localhost"}
    assert await module.code_aliases.ensure(CODE, "!club:localhost") is True
    assert directory.puts == [(alias, "!club:localhost")]
    # Once there, nothing more is sent.
    assert await module.code_aliases.ensure(CODE, "!club:localhost") is False
    assert len(directory.puts) == 1


async def test_a_code_alias_the_room_still_names_is_being_deleted_and_left_to_the_deletions_own_update(
    module: QunzuModule, directory: Directory
) -> None:
    """Restoring it here first would let the deletion's canonical alias update through as a choice."""
    alias = module.code_aliases.alias_of(CODE)
    for content in ({"alias": alias}, {"alias": "#club:localhost", "alt_aliases": [alias]}):
        directory.canonical["!group:localhost"] = content
        assert await module.code_aliases.ensure(CODE, "!group:localhost") is False
    assert directory.puts == []
    assert alias not in directory.rooms
