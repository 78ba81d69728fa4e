"""Request bodies of the module's HTTP API (docs/http-api.md), as the module reads them and the bot sends them.

Each model lists every key its route accepts; any other key is refused (``invalid_request``
with ``detail.problem: "unknown_field"``). Fields are typed, not judged: whether a category
exists, an action is known or a reason is long enough stays with the route or service that
knows the policy, with its own text. Optional keys default to None ("absent"); ``actor`` is
the person the service account acts for (the bot), checked by the module.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .base import Request
from .fields import (
    CreditChange,
    Duration,
    ExportSince,
    ExportUntil,
    MeasureCharge,
    SanctionDuration,
    Since,
    SubmittedAt,
    Until,
)

# Long enough for any id Matrix allows (255) and any reason a person types; the services
# apply their own, smaller limits with their own texts.
_ID = Field(default=None, max_length=255)
_TEXT_MAX = 10_000


class SubjectRef(Request):
    """``{"type": "user"|"room", "id"}``: whom a measure or proposal is about."""

    type: Literal["user", "room"]
    id: str = Field(max_length=255)


class BlacklistSubject(Request):
    """``{"type": "user"|"room"|"identity", "id"}``: what a blacklist entry covers."""

    type: Literal["user", "room", "identity"]
    id: str = Field(max_length=255)


class ReportRequest(Request):
    """``POST /reports``: a user reports an event, a room or a user."""

    room_id: str | None = _ID
    event_id: str | None = _ID
    user_id: str | None = _ID
    category: str | None = Field(default=None, max_length=255)
    reason: str | None = Field(default=None, max_length=_TEXT_MAX)


class ResolutionSanction(Request):
    """``sanction`` of a resolution: the measure taken with it."""

    measure: str = Field(max_length=64)
    duration: SanctionDuration | None = None
    subject: SubjectRef | None = None


class ResolveRequest(Request):
    """``POST /admin/reports/{id}/resolve``."""

    outcome: str = Field(max_length=64)
    sanction: ResolutionSanction | None = None
    reason: str | None = Field(default=None, max_length=_TEXT_MAX)
    actor: str | None = _ID
    takedown: bool = False


class AssignRequest(Request):
    """``POST /admin/reports/{id}/assign``."""

    assignee: str | None = _ID


class TakedownRequest(Request):
    """``POST /admin/takedown``: events by id, or one person's messages since a time."""

    event_ids: list[str] | None = None
    user_id: str | None = _ID
    since: Since | None = None
    room_id: str | None = _ID
    reason: str | None = Field(default=None, max_length=_TEXT_MAX)
    actor: str | None = _ID


class SanctionApply(Request):
    """``POST /admin/sanctions``."""

    subject: SubjectRef
    measure: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, max_length=_TEXT_MAX)
    duration: Duration | None = None
    evidence: list[str] | None = None
    credit_delta: MeasureCharge | None = None
    blacklist: bool = False
    ladder: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, max_length=200)
    report: str | None = Field(default=None, max_length=200)
    actor: str | None = _ID


class ProposeRequest(Request):
    """``POST /admin/sanctions/propose``: the ladder's next step for a subject."""

    subject: SubjectRef
    ladder: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, max_length=200)


class LiftRequest(Request):
    """``DELETE /admin/sanctions/{id}``."""

    reason: str | None = Field(default=None, max_length=_TEXT_MAX)
    overturned: bool = False
    actor: str | None = _ID


class CreditRequest(Request):
    """``POST /admin/users/{user_id}/credit``."""

    delta: CreditChange
    reason: str | None = Field(default=None, max_length=_TEXT_MAX)
    actor: str | None = _ID


class AppealRequest(Request):
    """``POST /appeals`` and ``POST /sanctions/{id}/appeal`` (``ref`` only on the former)."""

    text: str | None = Field(default=None, max_length=_TEXT_MAX)
    ref: str | None = _ID
    appellant: str | None = _ID


class DecideAppealRequest(Request):
    """``POST /admin/appeals/{id}/decide``."""

    outcome: str = Field(max_length=64)
    reason: str | None = Field(default=None, max_length=_TEXT_MAX)


class BlacklistAdd(Request):
    """``POST /admin/blacklist``."""

    subject: BlacklistSubject
    reason: str | None = Field(default=None, max_length=_TEXT_MAX)
    until: Until | None = None
    actor: str | None = _ID


class ActingRequest(Request):
    """A body of only the acting staff member, or empty: ``POST /admin/holds/{id}/release``."""

    actor: str | None = _ID


class ReasonOnly(Request):
    """A body of only a reason: the staff member acts as themselves (reveal, approve, reject an identity)."""

    reason: str | None = Field(default=None, max_length=_TEXT_MAX)


class ReasonedRequest(Request):
    """A body of only a reason and the acting staff member: lifts, reveals, reviews, rejections."""

    reason: str | None = Field(default=None, max_length=_TEXT_MAX)
    actor: str | None = _ID


class ModerateRequest(Request):
    """``POST /admin/rooms/{room_id}/moderate``: a room admin's action through the bot."""

    actor: str | None = _ID
    action: str = Field(max_length=64)
    target: str | None = _ID
    duration: Duration | None = None
    reason: str | None = Field(default=None, max_length=_TEXT_MAX)


class AnnounceRequest(Request):
    """``POST /admin/rooms/{room_id}/announce``."""

    actor: str | None = _ID
    text: str | None = Field(default=None, max_length=_TEXT_MAX)


class EmergencyRequest(Request):
    """``POST /admin/emergency``."""

    scope: str = Field(max_length=300)
    reason: str | None = Field(default=None, max_length=_TEXT_MAX)
    actor: str | None = _ID


class CategoryRequest(Request):
    """``POST /groups/{code}/category``."""

    category: str = Field(max_length=255)


class TierRequest(Request):
    """``POST /admin/groups/{code}/tier``."""

    tier: str = Field(max_length=255)
    reason: str | None = Field(default=None, max_length=_TEXT_MAX)


class DissolveRequest(Request):
    """``POST /groups/{code}/dissolve``: without ``confirm`` only the confirmation step."""

    actor: str | None = _ID
    confirm: str | None = Field(default=None, max_length=64)


class TransferRequest(Request):
    """``POST /groups/{code}/transfer``: without ``confirm`` only the confirmation step."""

    user_id: str = Field(max_length=255)
    actor: str | None = _ID
    confirm: str | None = Field(default=None, max_length=64)


class ConventionAccept(Request):
    """``POST /convention/accept``."""

    version: str = Field(max_length=200)


class RealnameLinkRequest(Request):
    """``POST /admin/realname/links``."""

    user_id: str = Field(max_length=255)


class ExportRequest(Request):
    """``POST /admin/export``: the records of a period (``since``, ``until``: milliseconds or ISO 8601),
    of one subject if given; identities only with a ``legal_basis``."""

    since: ExportSince | None = None
    until: ExportUntil | None = None
    subject: str | None = _ID
    legal_basis: str | None = Field(default=None, max_length=2000)


class ExportCheck(Request):
    """``POST /admin/export/verify``: a bundle as ``/admin/export`` answered it."""

    manifest: dict[str, Any]
    files: dict[str, str]


class RegulatorReportUpdate(Request):
    """``POST /admin/regulator-reports/{id}``: a submission (``submitted_to``, ``submitted_at``?) or
    an acknowledgement (``receipt``) recorded, with the staff member's reason."""

    status: str = Field(max_length=64)
    submitted_to: str | None = Field(default=None, max_length=_TEXT_MAX)
    submitted_at: SubmittedAt | None = None
    receipt: str | None = Field(default=None, max_length=_TEXT_MAX)
    reason: str | None = Field(default=None, max_length=_TEXT_MAX)
    actor: str | None = _ID


__all__ = [
    "ActingRequest",
    "AnnounceRequest",
    "AppealRequest",
    "AssignRequest",
    "BlacklistAdd",
    "BlacklistSubject",
    "CategoryRequest",
    "ConventionAccept",
    "CreditRequest",
    "DecideAppealRequest",
    "DissolveRequest",
    "EmergencyRequest",
    "ExportCheck",
    "ExportRequest",
    "LiftRequest",
    "ModerateRequest",
    "ProposeRequest",
    "RealnameLinkRequest",
    "ReasonOnly",
    "ReasonedRequest",
    "RegulatorReportUpdate",
    "ReportRequest",
    "ResolutionSanction",
    "ResolveRequest",
    "SanctionApply",
    "SubjectRef",
    "TakedownRequest",
    "TierRequest",
    "TransferRequest",
]
