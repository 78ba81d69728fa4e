"""The bot chat: a person's two-party chat with the service account (Art. 6; DESIGN.md §6.1, §6.3).

It is the one channel the real-name gate leaves open, and the place where muted
and suspended people still reach the bot (`!verify`, `!me`, `!appeal`,
`!rules`). Two kinds exist: the verification chat a person opens with the bot
(a direct chat whose only invitee is the service account) and the notice chat
the service account opens to tell a person about a measure (notices.py). The
module marks both in the room's create event at creation, with the owner;
clients cannot set the marks themselves (they are removed from requests).

Because the gate is open there, the chat must stay two-party: it is created
invite-only with nothing in its request that could open it, nobody else may
join, knock or be invited, its join rules, visibility, power levels and aliases
cannot change, it cannot be published or upgraded (callbacks.py), and a person
has at most one open verification chat (group_creation.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policies.decisions import BOT_CHAT_STATE_TYPES

# Set by the module only (client-supplied values are removed), read back from the create event.
VERIFICATION_DM_KEY = "cn.qunzu.verification_dm"
NOTICE_ROOM_KEY = "cn.qunzu.notices"
BOT_CHAT_OWNER_KEY = "cn.qunzu.bot_chat_owner"
_MODULE_KEYS = (VERIFICATION_DM_KEY, NOTICE_ROOM_KEY, BOT_CHAT_OWNER_KEY)
# What a bot chat's create event may carry besides the marks: nothing that makes it a
# space, names other creators (MSC4289) or claims a predecessor.
_KEPT_CREATION_KEYS = frozenset({"m.federate"})
# Stated explicitly: the trusted_private_chat preset alone lets guests in (guest_access can_join).
_CLOSED: Mapping[str, Mapping[str, str]] = {
    "m.room.join_rules": {"join_rule": "invite"},
    "m.room.history_visibility": {"history_visibility": "shared"},
    "m.room.guest_access": {"guest_access": "forbidden"},
}


def shape_bot_chat(config: dict[str, Any], creator: str, service_account: str) -> str | None:
    """Mark and close a bot chat in a creation request; returns its owner, or None for other rooms.

    A verification chat: a direct chat whose only invitee is the service account
    (owner: its creator). A notice chat: a direct chat the service account opens
    with one person, marked by notices.py (owner: that person). Anything in the
    request that could let a third person in is forced or removed.
    """
    creation = config.get("creation_content")
    if not isinstance(creation, dict):
        creation = {}
    notice = creator == service_account and creation.get(NOTICE_ROOM_KEY) is True
    for key in _MODULE_KEYS:
        creation.pop(key, None)
    invites = config.get("invite") or []
    plain = config.get("is_direct") is True and not config.get("invite_3pid") and not config.get("room_alias_name")
    owner: str | None = None
    if plain and notice and len(invites) == 1 and isinstance(invites[0], str) and invites[0] != service_account:
        owner = invites[0]
    elif plain and creator != service_account and invites == [service_account]:
        owner = creator
    if owner is None:
        if creation or "creation_content" in config:
            config["creation_content"] = creation
        return None
    creation = {key: value for key, value in creation.items() if key in _KEPT_CREATION_KEYS}
    creation[NOTICE_ROOM_KEY if notice else VERIFICATION_DM_KEY] = True
    creation[BOT_CHAT_OWNER_KEY] = owner
    config["creation_content"] = creation
    # Invite-only, history for its members, no guests: whatever the preset or the state asked.
    config["preset"] = "trusted_private_chat"
    config["visibility"] = "private"
    config.pop("power_level_content_override", None)
    config["initial_state"] = [
        event
        for event in config.get("initial_state") or []
        if isinstance(event, dict) and event.get("type") in BOT_CHAT_STATE_TYPES and event.get("state_key", "") == ""
    ] + [{"type": event_type, "state_key": "", "content": dict(content)} for event_type, content in _CLOSED.items()]
    return owner


def bot_chat_owner(creation: Mapping[str, Any], creator: str | None, service_account: str) -> str | bool | None:
    """The owner of a bot chat from its create event's content and sender.

    Returns:
        The owner; None when the room is no bot chat; True for a notice chat opened
        before the owner was written into its create event (the caller looks it up).
    """
    owner = creation.get(BOT_CHAT_OWNER_KEY)
    if creation.get(VERIFICATION_DM_KEY) is True:
        return owner if isinstance(owner, str) else creator
    if creation.get(NOTICE_ROOM_KEY) is True and creator == service_account:
        return owner if isinstance(owner, str) else True
    return None
