"""The direct chat with the bot where an unverified person asks how to verify (Art. 6).

It is the one channel the real-name gate leaves open: a private direct chat
whose only invitee is the service account. The module marks it in the
room's create event at creation (clients cannot set the mark themselves),
and the posting rule lets plain messages through there, nothing else.
"""

from __future__ import annotations

from typing import Any

# Set by the module only (client-supplied values are removed), read back from the create event.
VERIFICATION_DM_KEY = "cn.qunzu.verification_dm"


def mark_verification_dm(config: dict[str, Any], service_account: str) -> bool:
    """Mark a private direct chat whose only invitee is the service account.

    Art. 6 leaves unverified people one way to reach the bot and ask for the
    verification link. The room is forced private so nobody else can join it.
    """
    creation = config.get("creation_content")
    if not isinstance(creation, dict):
        creation = {}
    creation.pop(VERIFICATION_DM_KEY, None)
    invites = config.get("invite") or []
    is_channel = (
        config.get("is_direct") is True
        and invites == [service_account]
        and not config.get("invite_3pid")
        and not config.get("room_alias_name")
    )
    if is_channel:
        creation[VERIFICATION_DM_KEY] = True
        config["preset"] = "trusted_private_chat"
        config["visibility"] = "private"
    if creation or "creation_content" in config:
        config["creation_content"] = creation
    return is_channel
