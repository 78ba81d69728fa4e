"""Tier changes a group goes through by itself (Art. 7, 8), whichever part of the module sees them first."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from policies.constants import GROUP_STATE_TYPE
from policies.tiers import tier_index
from synapse_module.module import QunzuModule
from synapse_module.store.groups import GroupRecord

from .harness import Database, FakeModuleApi, linked_group

ROOM = "!growing:localhost"
OWNER = "@owner:localhost"


def _members(database: Database, room_id: str, count: int) -> None:
    def join_txn(txn: object) -> None:
        for index in range(count):
            txn.execute(  # type: ignore[attr-defined]
                "INSERT INTO current_state_events (event_id, room_id, type, state_key, membership)"
                " VALUES (?, ?, 'm.room.member', ?, 'join')",
                (f"$join{index}", room_id, f"@member{index}:localhost"),
            )

    database.run(join_txn)


async def test_the_tier_job_that_sees_a_room_grow_first_also_switches_it_to_knocking(
    module: QunzuModule, module_api: FakeModuleApi, database: Database
) -> None:
    policy = module.config.policy
    tiers = policy.scale_tiers.tiers
    approval = tier_index(policy.scale_tiers.approval_from_tier, policy)
    await linked_group(module, ROOM, "100000002", category="general", creator=OWNER)
    module_api.room_state[ROOM] = {
        ("m.room.join_rules", ""): SimpleNamespace(content={"join_rule": "public"}, sender=OWNER),
    }
    # The room grew into the first tier that needs approval before the event follower looked at it.
    _members(database, ROOM, tiers[approval - 1].max_members + 1)

    result = await module.jobs.run_now("refresh_group_tiers")

    assert result is not None and result.model_dump()["changed"] == 1
    state = module_api.room_state[ROOM]
    assert state[(GROUP_STATE_TYPE, "")].content["tier"] == tiers[approval].name
    join_rules = state[("m.room.join_rules", "")]
    assert (join_rules.content, join_rules.sender) == ({"join_rule": "knock"}, module.config.service_account)


async def test_restoring_a_group_event_never_undoes_a_tier_change_made_while_it_ran(
    module: QunzuModule, module_api: FakeModuleApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The federation sweep runs at every start; a room growing meanwhile keeps its new tier in its event."""
    policy = module.config.policy
    small, medium = policy.scale_tiers.tiers[0], policy.scale_tiers.tiers[1]
    before = await _small_group_with_its_event(module, "100000003")
    read_state = module_api.get_room_state
    grown: list[bool] = []

    async def growing_while_read(
        room_id: str, event_filter: list[tuple[str, str | None]] | None = None
    ) -> dict[tuple[str, str], SimpleNamespace]:
        # The room grows into the next tier after the sweep read the registry, before it reads the room.
        if not grown and event_filter is not None and (GROUP_STATE_TYPE, "") in event_filter:
            grown.append(True)
            await module.groups.change(before, small.max_members + 1, scale_tier=medium.name)
        return await read_state(room_id, event_filter)

    monkeypatch.setattr(module_api, "get_room_state", growing_while_read)

    await module.federation_guard.settle(ROOM)

    assert grown
    after = await module.groups.record.get(ROOM)
    assert after is not None and after.scale_tier == medium.name
    assert module_api.room_state[ROOM][(GROUP_STATE_TYPE, "")].content["tier"] == medium.name
    sent_tiers = [e["content"]["tier"] for e in module_api.sent_events if e["type"] == GROUP_STATE_TYPE]
    assert sent_tiers[-1] == medium.name, sent_tiers


async def test_a_change_made_from_an_older_record_keeps_what_another_change_wrote_meanwhile(
    module: QunzuModule, module_api: FakeModuleApi
) -> None:
    """The follower's tier change may hold the record from before the creator's category change."""
    policy = module.config.policy
    small, medium = policy.scale_tiers.tiers[0], policy.scale_tiers.tiers[1]
    before = await _small_group_with_its_event(module, "100000004")

    await module.groups.change(before, 1, category="study")
    await module.groups.change(before, small.max_members + 1, scale_tier=medium.name)

    after = await module.groups.record.get(ROOM)
    assert after is not None and (after.category, after.scale_tier) == ("study", medium.name)
    event = module_api.room_state[ROOM][(GROUP_STATE_TYPE, "")].content
    assert (event["category"], event["tier"]) == ("study", medium.name)


async def _small_group_with_its_event(module: QunzuModule, code: str) -> GroupRecord:
    """A general group of the smallest tier linked to `ROOM`, its group event in the room."""
    record = await linked_group(module, ROOM, code, category="general", creator=OWNER)
    await module.group_state.send_group_state(record)
    return record
