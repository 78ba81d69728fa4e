"""Names of sanction measures and of the subjects they apply to (Art. 11)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final


class Measure(enum.StrEnum):
    """A sanction measure. The values are stored in records and sent over the API."""

    # Art. 11, groups: 警示整改, 暂停发布, 关闭群组.
    WARNING = "warning"
    POSTING_SUSPENSION = "posting_suspension"
    CLOSURE = "closure"
    # Art. 11, owners and admins: 降低信用等级, 暂停管理权限, 取消建群资格.
    CREDIT_LOWERED = "credit_lowered"
    ADMIN_SUSPENSION = "admin_suspension"
    CREATION_REVOKED = "creation_revoked"
    # Members: 禁言, and the blacklist of Art. 11 (纳入黑名单).
    MUTE = "mute"
    BLACKLIST = "blacklist"


class SubjectKind(enum.StrEnum):
    """Which escalation ladder applies: to a room, to an owner/admin, or to a member."""

    ROOM = "room"
    ADMIN = "admin"
    MEMBER = "member"


MEASURES_FOR: Final[Mapping[SubjectKind, frozenset[Measure]]] = MappingProxyType(
    {
        SubjectKind.ROOM: frozenset({Measure.WARNING, Measure.POSTING_SUSPENSION, Measure.CLOSURE}),
        SubjectKind.ADMIN: frozenset({Measure.CREDIT_LOWERED, Measure.ADMIN_SUSPENSION, Measure.CREATION_REVOKED}),
        SubjectKind.MEMBER: frozenset({Measure.WARNING, Measure.MUTE, Measure.BLACKLIST}),
    }
)
"""The measures each ladder may use."""
