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

REFUSAL_NOTICE_EVERY_MS: Final = 10 * MINUTE_MS
"""DESIGN.md §6.3: a refusal is told in the person's bot chat at most once per person, reason and room in this time."""

CLIENT_RETRY_WINDOW_MS: Final = 30 * MINUTE_MS
"""Retries of one client transaction (same sender, device, room and txn id) within this time are one attempt.

Synapse keeps a transaction's answer for 30 minutes too (``HttpTransactionCache``), but forgets a
refused one at once, so every retry of a refused message reaches the spam checker again.
"""

UNTRACKED_RETRY_WINDOW_MS: Final = MINUTE_MS
"""Events without a transaction id (``PUT /state``): the same content from the same person in the same
room within this time is one attempt."""

PROFILE_REVIEW_WINDOW_MS: Final = DAY_MS
"""A profile text (display name or custom field) that broke a content rule is recorded once in this time.

Synapse tells modules of every profile change with the whole profile, so a later change of
another part (an avatar) shows the same text again: within this time it gets the first
record's answer instead of a second record and ticket."""

#: Where a ticket comes from, and where it stands (Art. 12 complaints).
TicketSource = Literal["content_flag", "content_hold", "user_report", "matrix_report", "public_report"]
TicketStatus = Literal["open", "in_review", "resolved", "dismissed"]
TICKET_STATUSES: Final[tuple[TicketStatus, ...]] = get_args(TicketStatus)
#: Where a report to the regulator stands (Art. 11: 向有关主管部门报告).
ReportStatus = Literal["draft", "submitted", "acknowledged"]
REPORT_STATUSES: Final[tuple[ReportStatus, ...]] = get_args(ReportStatus)
#: What a blacklist entry names.
SubjectType = Literal["user", "room", "identity"]
