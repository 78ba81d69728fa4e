"""A replaced room is judged as its group in every moment of the upgrade (Art. 8)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from synapse_module.module import QunzuModule
from synapse_module.store.groups import GroupRecord

from .harness import FakeModuleApi, linked_group

OLD = "!old:localhost"
NEW = "!new:localhost"
OWNER = "@owner:localhost"


async def test_the_new_room_keeps_its_groups_category_while_the_group_is_carried_over(
    module: QunzuModule, module_api: FakeModuleApi
) -> None:
    await linked_group(module, OLD, "100000003", category="news", creator=OWNER)
    module_api.room_state[OLD] = {("m.room.create", ""): SimpleNamespace(content={"room_version": "12"}, sender=OWNER)}
    module_api.room_state[NEW] = {
        ("m.room.create", ""): SimpleNamespace(
            content={"room_version": "12", "predecessor": {"room_id": OLD}}, sender=OWNER
        )
    }
    # Before the group moves: the new room is judged as the group of the room it replaces.
    assert (await module.groups.room_facts(NEW)).category == "news"

    # The follower moves the group between the look for the new room's own group (none yet) and
    # the look for its predecessor's: the moment two readings of the store straddle the move.
    read_state = module_api.get_room_state
    moved: list[GroupRecord | None] = []

    async def moving_meanwhile(room_id: str, event_filter: Any = None) -> Any:
        if room_id == NEW and event_filter == [("m.room.create", "")] and not moved:
            moved.append(await module.store.groups.move_to_successor(OLD, NEW))
        return await read_state(room_id, event_filter)

    module_api.get_room_state = moving_meanwhile  # type: ignore[method-assign]
    facts = await module.groups.room_facts(NEW)
    assert moved and moved[0] is not None
    assert facts.category == "news"
    assert (
        module.groups.check_state_change(
            SimpleNamespace(type="m.room.join_rules", sender=OWNER, content={"join_rule": "public"}),  # type: ignore[arg-type]
            facts,
        ).reason
        is not None
    )
