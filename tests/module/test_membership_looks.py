"""A muted person's join is compared with their global profile once no change to it is under way.

Synapse stores a refused global name before `ProfileGuard` sets it back, so for a moment the
profile holds a value no room shows. The follower (membership_texts.py) reads the profile until
two reads agree: Synapse's own copy of the name the rooms show stands, and a join showing the
refused name is taken down, whichever moment the follower happens to read in.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, cast

import pytest

from policies import RoomFacts, UserFacts
from synapse_module import membership_texts
from synapse_module.event_stream import StreamEvent
from synapse_module.facts import FactsSource
from synapse_module.membership_texts import MembershipTexts
from synapse_module.module import QunzuModule

from ..facts import room_facts, user_facts
from .harness import NOW, FakeModuleApi

MEMBER = "@member:localhost"
ROOM = "!room:localhost"
SHOWN = "member"  # the name every room shows
REFUSED = "禁言者的新名字"  # stored by Synapse a moment before it is set back


class MutedFacts:
    """The follower's facts: the member is muted (so may not rename), the room is a group."""

    async def user(self, user_id: str) -> UserFacts:
        return user_facts(user_id=user_id, muted_until_ms=NOW + 3_600_000)

    async def room(self, room_id: str) -> RoomFacts:
        return room_facts(room_id=room_id)

    async def is_exempt(self, user_id: str) -> bool:
        return False


@pytest.fixture(autouse=True)
def no_settle_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(membership_texts, "PROFILE_SETTLE_S", 0.0)


def _profile_reads(module_api: FakeModuleApi, names: list[str]) -> list[str]:
    """The global display name Synapse answers at each read, in turn (the last one from then on)."""
    reads: list[str] = []
    answers: Iterator[str] = iter(names)

    async def get_profile_for_user(localpart: str) -> SimpleNamespace:
        reads.append(localpart)
        name = next(answers, names[-1])
        return SimpleNamespace(display_name=name, avatar_url=None)

    module_api.get_profile_for_user = get_profile_for_user  # type: ignore[attr-defined]
    return reads


def _follower(module: QunzuModule, module_api: FakeModuleApi) -> MembershipTexts:
    return MembershipTexts(
        module_api.as_module_api(),
        module.clock,
        module.config,
        content=module.content,
        facts=cast(FactsSource, MutedFacts()),
        audit=module.store.audit,
        notices=module.bot_chat_notices,
    )


def _join(displayname: str) -> StreamEvent:
    content: dict[str, Any] = {"displayname": displayname, "membership": "join"}
    return StreamEvent(1, "$join", ROOM, "m.room.member", MEMBER, MEMBER, content, NOW)


def _redacted(module_api: FakeModuleApi) -> list[str]:
    return [event["redacts"] for event in module_api.sent_events if event["type"] == "m.room.redaction"]


async def _looks_removed(module: QunzuModule) -> int:
    entries = await module.store.audit.query(subject=MEMBER)
    return sum(entry.action == "membership.looks_removed" for entry in entries)


async def test_synapses_copy_of_the_shown_name_stands_though_the_refused_one_was_stored_a_moment(
    module: QunzuModule, module_api: FakeModuleApi
) -> None:
    reads = _profile_reads(module_api, [REFUSED, SHOWN, SHOWN])
    await _follower(module, module_api).on_events([_join(SHOWN)])
    assert len(reads) == 3  # the moment, then two reads that agree
    assert _redacted(module_api) == []
    assert await _looks_removed(module) == 0


async def test_a_join_showing_the_refused_name_is_taken_down_though_read_in_that_moment(
    module: QunzuModule, module_api: FakeModuleApi
) -> None:
    _profile_reads(module_api, [REFUSED, SHOWN, SHOWN])
    await _follower(module, module_api).on_events([_join(REFUSED)])
    assert _redacted(module_api) == ["$join"]
    assert await _looks_removed(module) == 1


async def test_a_per_room_name_is_taken_down_after_two_agreeing_reads(
    module: QunzuModule, module_api: FakeModuleApi
) -> None:
    reads = _profile_reads(module_api, [SHOWN])
    await _follower(module, module_api).on_events([_join("群昵称")])
    assert len(reads) == 2
    assert _redacted(module_api) == ["$join"]
    assert await _looks_removed(module) == 1
