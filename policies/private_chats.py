"""Private chats (私聊) are not groups (DESIGN.md §6.2; Regulations Art. 2, 8).

The Regulations govern group chats: a one-to-one conversation is not a group. A
room is a private chat when it is created as a direct chat (`is_direct`) that
nobody but its creator, at most one other person and the service account can
reach: invite-only, no public address, no third-party invite, no predecessor,
the default category. Anything else in the request makes it a group from the
start. A private chat becomes a group the moment a third person would enter it
(an invite, a join, an invite by e-mail or phone) or its door opens (a join rule
other than `invite`); that is decided like a creation, against the owner's cap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Join rules that keep a room reachable only by invitation.
_CLOSED_JOIN_RULES = frozenset({"invite"})
_OPEN_PRESETS = frozenset({"public_chat"})


def is_private_chat_request(
    config: Mapping[str, Any], creator: str, service_account: str, default_category: str
) -> bool:
    """Whether a `createRoom` request makes a private chat rather than a group.

    Args:
        config: the request body (before the module shapes it; the category key still in it).
        creator: the creating account.
        service_account: the platform's account (never counts as a person).
        default_category: the policy's default category; a chosen category asks for a group.
    """
    if config.get("is_direct") is not True:
        return False
    if config.get("invite_3pid") or config.get("room_alias_name") or config.get("visibility") == "public":
        return False
    if config.get("preset") in _OPEN_PRESETS:
        return False
    invites = config.get("invite") or []
    if not isinstance(invites, list):
        return False
    people = {user for user in invites if user not in (creator, service_account)}
    if len(people) > 1:
        return False
    creation = config.get("creation_content") or {}
    if not isinstance(creation, Mapping):
        return False
    if "predecessor" in creation or creation.get("type") is not None:
        return False  # an upgrade's successor or a space is no conversation between two people
    category = creation.get("cn.qunzu.category", default_category)
    if category != default_category:
        return False
    for event in config.get("initial_state") or []:
        if isinstance(event, Mapping) and event.get("type") == "m.room.join_rules":
            content = event.get("content")
            if not isinstance(content, Mapping) or not keeps_private(str(content.get("join_rule", ""))):
                return False
    return True


def keeps_private(join_rule: str) -> bool:
    """Whether a join rule keeps a private chat closed to people nobody invited."""
    return join_rule in _CLOSED_JOIN_RULES


def third_person_enters(others: Iterable[str], entrant: str | None) -> bool:
    """Whether `entrant` would be the third person of a private chat.

    Args:
        others: people other than the owner and the service account who are in the
            chat or on their way in (joined, invited, knocking).
        entrant: the person entering; None for an invite by e-mail or phone number,
            whose person is not known yet (it always makes a group: the account it
            reaches may be anyone's, and a private chat is between known people).
    """
    if entrant is None:
        return True
    return bool(set(others) - {entrant})
