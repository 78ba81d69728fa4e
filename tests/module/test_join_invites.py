"""A join reads the joiner's invite only where the invite can decide it (Art. 8 群聊邀请确认)."""

from __future__ import annotations

from policies import Reason, RoomFacts, UserFacts
from synapse_module.module import QunzuModule

from ..facts import room_facts, user_facts

MEMBER = "@member:localhost"


def _joiner() -> UserFacts:
    """A verified person in good standing (credit level B: 500 rooms joined at most)."""
    return user_facts(user_id="@joiner:localhost")


def _room(members: int, tier: str, owner_level: str) -> RoomFacts:
    return room_facts(room_id="!joined:localhost", member_count=members, tier=tier, owner_level=owner_level)


class _Invites:
    """`pending_inviter` for the test: who invited, and how often it was asked."""

    def __init__(self, inviter: str | None) -> None:
        self.inviter = inviter
        self.reads = 0

    async def __call__(self) -> str | None:
        self.reads += 1
        return self.inviter


async def test_a_join_into_a_room_that_needs_no_approval_leaves_the_invite_unread(module: QunzuModule) -> None:
    invites = _Invites(MEMBER)
    decision = await module.groups.decide_join(
        _joiner(), _room(10, "small", "B"), True, (10, 0), pending_inviter=invites
    )
    assert decision.allowed
    assert invites.reads == 0


async def test_a_plain_members_invite_into_an_approval_room_is_read_and_named_in_the_refusal(
    module: QunzuModule,
) -> None:
    # Level A owners' rooms grow to the large tier, from which joining needs approval.
    room = _room(600, "large", "A")
    invites = _Invites(MEMBER)
    decision = await module.groups.decide_join(_joiner(), room, True, (600, 0), pending_inviter=invites)
    assert not decision.allowed
    assert decision.reason is Reason.JOIN_APPROVAL_REQUIRED
    assert decision.detail["via"] == "invite" and decision.detail["inviter"] == MEMBER
    assert invites.reads == 1

    approved = _Invites(None)  # an admin's invite, or one an admin confirmed
    assert (await module.groups.decide_join(_joiner(), room, True, (600, 0), pending_inviter=approved)).allowed
    assert approved.reads == 1


async def test_near_a_cap_the_invite_is_read_when_the_room_may_need_approval_before_the_cap(
    module: QunzuModule,
) -> None:
    # 480 rooms joined is within FAST_MARGIN of level B's 500: the guarded transaction counts
    # again, so the room may have grown meanwhile, up to its cap.
    up_to_large = _Invites(MEMBER)  # a level A owner's room may reach the large tier
    decision = await module.groups.decide_join(
        _joiner(), _room(10, "small", "A"), True, (10, 480), pending_inviter=up_to_large
    )
    assert up_to_large.reads == 1
    # The transaction's own count (an empty room here) decides: small, so no approval yet.
    assert decision.allowed

    up_to_medium = _Invites(MEMBER)  # a level B owner's room stops at the medium tier
    decision = await module.groups.decide_join(
        _joiner(), _room(10, "small", "B"), True, (10, 480), pending_inviter=up_to_medium
    )
    assert up_to_medium.reads == 0
    assert decision.allowed
