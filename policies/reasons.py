"""The stable reason codes a refusal carries (DESIGN.md §3.3).

Clients see the code in ``cn.qunzu.reason``; the human text comes from the policy's
``messages`` catalogue (see ``policies.messages.render``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final


class Reason(enum.StrEnum):
    """Why an action was refused. The values are a public, stable contract."""

    REALNAME_REQUIRED = "realname_required"
    REALNAME_LEVEL_INSUFFICIENT = "realname_level_insufficient"
    CONVENTION_NOT_ACCEPTED = "convention_not_accepted"
    BLACKLISTED = "blacklisted"
    POSTING_SUSPENDED_USER = "posting_suspended_user"
    POSTING_SUSPENDED_ROOM = "posting_suspended_room"
    ROOM_CLOSED = "room_closed"
    ROOM_FULL = "room_full"
    JOIN_LIMIT = "join_limit"
    CREATE_LIMIT = "create_limit"
    CREATE_REVOKED = "create_revoked"
    CREDIT_INSUFFICIENT = "credit_insufficient"
    TIER_NOT_ALLOWED = "tier_not_allowed"
    PROHIBITED_CONTENT = "prohibited_content"
    ADMIN_SUSPENDED = "admin_suspended"
    PROTECTED_STATE = "protected_state"
    EMERGENCY_FREEZE = "emergency_freeze"
    INVALID_CATEGORY = "invalid_category"
    JOIN_APPROVAL_REQUIRED = "join_approval_required"
    INVALID_IDENTITY = "invalid_identity"
    IDENTITY_IN_USE = "identity_in_use"
    INVALID_NUMBER = "invalid_number"
    INVALID_REQUEST = "invalid_request"
    BOT_CHAT_PRIVATE = "bot_chat_private"
    BOT_CHAT_EXISTS = "bot_chat_exists"
    ALIAS_RESERVED = "alias_reserved"
    REMOTE_SERVER_NOT_ALLOWED = "remote_server_not_allowed"
    GROUP_NOT_FOUND = "group_not_found"
    ROOM_MUTED_ALL = "room_muted_all"
    NOT_OWNER = "not_owner"
    TRANSFER_NOT_ALLOWED = "transfer_not_allowed"
    STAFF_ONLY = "staff_only"
    HOLD_DECIDED = "hold_decided"
    HOLD_UNDELIVERABLE = "hold_undeliverable"
    REPORT_RECEIVED = "report_received"
    REPORT_NOT_FILED = "report_not_filed"


# Malformed input is a 400; a conflict with an existing binding is a 409; a group page
# nobody may see is a 404 (as if the code were unknown); every other refusal is a 403
# (DESIGN.md §3.3, §3.4, §6.6).
_NOT_FORBIDDEN: Final[Mapping[Reason, int]] = {
    Reason.INVALID_IDENTITY: 400,
    Reason.INVALID_CATEGORY: 400,
    Reason.INVALID_NUMBER: 400,
    Reason.INVALID_REQUEST: 400,
    Reason.IDENTITY_IN_USE: 409,
    Reason.GROUP_NOT_FOUND: 404,
    Reason.HOLD_DECIDED: 409,
    Reason.HOLD_UNDELIVERABLE: 409,
}

HTTP_STATUS: Final[Mapping[Reason, int]] = MappingProxyType(
    {reason: _NOT_FORBIDDEN.get(reason, 403) for reason in Reason}
)
"""The HTTP status a client gets for each reason."""

_ERRCODE_BY_STATUS: Final[Mapping[int, str]] = {400: "M_INVALID_PARAM", 404: "M_NOT_FOUND"}

ERRCODE: Final[Mapping[Reason, str]] = MappingProxyType(
    {reason: _ERRCODE_BY_STATUS.get(HTTP_STATUS[reason], "M_FORBIDDEN") for reason in Reason}
)
"""The Matrix errcode a client gets for each reason."""
