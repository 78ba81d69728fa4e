"""Values the module and the bot must agree on: units of time, the permanent end, event names.

Each has one home here; every package imports it from this module.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

SECOND_MS: Final = 1000
MINUTE_MS: Final = 60 * SECOND_MS
HOUR_MS: Final = 60 * MINUTE_MS
DAY_MS: Final = 24 * HOUR_MS

PERMANENT: Final = -1
"""A stored end time (``muted_until_ms``, a measure's or a blacklist entry's end) that never comes."""

GROUP_STATE_TYPE: Final = "cn.qunzu.group"
"""The state event that carries a room's group record (code, category, tiers); the service account's own."""

SERVER_ACL_STATE_TYPE: Final = "m.room.server_acl"
"""Art. 6: the server ACL keeps non-partner servers out of a group (policies/federation.py); the platform keeps it."""

DESK_NUDGE_TYPE: Final = "cn.qunzu.desk_nudge"
"""Global account data of the service account the module rewrites after filing a report from a room;
the bot's sync sees it and its moderation desk looks at once (a report must reach staff without delay)."""

ADMIN_POWER_LEVEL: Final = 50
"""Power level from which a member is a room admin (管理员): Synapse's default for kick, ban and redact."""

Language = Literal["zh-CN", "en"]
LANGUAGES: Final[tuple[Language, ...]] = get_args(Language)
DEFAULT_LANGUAGE: Final[Language] = "zh-CN"
