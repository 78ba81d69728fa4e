"""Tier changes a group goes through by itself (Art. 7, 8), whichever part of the module sees them first."""

from __future__ import annotations

from types import SimpleNamespace

from policies.constants import GROUP_STATE_TYPE
from policies.tiers import tier_index
from synapse_module.module import QunzuModule
from synapse_module.store.groups import NewGroup

from .harness import Database, FakeModuleApi

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
    reservation = await module.store.groups.reserve(
        NewGroup(
            codes=("100000002",),
            category="general",
            creator=OWNER,
            scale_tier=tiers[0].name,
            activity_tier=policy.activity_tiers.tiers[0].name,
            verification_dm=False,
        ),
        None,
    )
    assert reservation.code is not None
    assert await module.store.groups.link(reservation.code, ROOM)
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
