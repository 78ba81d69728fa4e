"""Handing a group over (转让群主) and dissolving it (解散群): who may, to whom (Art. 8, 9; DESIGN.md §6.4).

Pure rules; the module counts the new owner's groups inside its guarded
transaction and asks `decisions.may_create` for the cap (as for a creation).
"""

from __future__ import annotations

import dataclasses

from .decisions import Decision, RoomFacts, UserFacts, effective_tier, may_create, user_level
from .model import Policy
from .reasons import Reason
from .tiers import max_tier_for_level, tier_index


def may_act_as_owner(actor: str, owner: str, code: str) -> Decision:
    """Only the group's owner (群主) dissolves or hands it over; staff close groups with measures."""
    if actor != owner:
        return Decision.refuse(Reason.NOT_OWNER, code=code, owner=owner)
    return Decision.allow()


def may_take_over(target: UserFacts, room: RoomFacts, owner: str, *, is_member: bool, policy: Policy) -> Decision:
    """May `target` become the owner of this group (before their cap is counted)?

    The new owner is a joined member of the group, verified and not blacklisted,
    and their credit level allows the group's size (or staff granted the size).

    Returns:
        Allowed, or refused with transfer_not_allowed (`detail.problem`: same_owner,
        not_member, not_verified, level).
    """

    def refuse(problem: str) -> Decision:
        return Decision.refuse(Reason.TRANSFER_NOT_ALLOWED, target=target.user_id, problem=problem)

    if target.user_id == owner:
        return refuse("same_owner")
    if not is_member:
        return refuse("not_member")
    if target.exempt:
        return Decision.allow()
    if not target.verified or target.blacklisted:
        return refuse("not_verified")
    if room.granted_tier is None:
        allowed = max_tier_for_level(user_level(target, policy), policy)
        if tier_index(effective_tier(room, policy), policy) > tier_index(allowed, policy):
            return refuse("level")
    return Decision.allow()


def may_own_one_more(target: UserFacts, owned: int, category: str, policy: Policy) -> Decision:
    """The new owner's rooms-created cap, counted like a creation (create_limit, credit_insufficient, …)."""
    return may_create(dataclasses.replace(target, rooms_owned=owned), category, policy)
