"""Typed async client for the module's HTTP API (DESIGN §3.4).

Every failure becomes :class:`~bot.errors.QunzuApiError` whose ``message`` is
fit for chat: the server's own ``error`` text (already in the server's
language) or a friendly local text when the server could not be reached.

Requests are built from the module's own request models and answers read as its
records (``policies.api``), so the bot and the module agree on every field by type;
an answer that does not fit its record is a :class:`~bot.errors.QunzuApiError` like
any other bad answer. Adding an endpoint is one short method::

    async def report(self, room_id: str, category: str, reason: str) -> Ticket:
        body = ReportRequest(room_id=room_id, category=category, reason=reason).body()
        return await self._typed(Ticket, "POST", "/reports", json=body)
"""

from __future__ import annotations

import json as jsonlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar
from urllib.parse import quote

import aiohttp
from pydantic import ValidationError

from bot.errors import QunzuApiError
from bot.messages import t
from policies.api import (
    ActingRequest,
    Announcement,
    AnnouncementList,
    AnnounceRequest,
    Appeal,
    AppealList,
    AppealRequest,
    BlacklistAdd,
    BlacklistEntry,
    BlacklistLift,
    BlacklistSubject,
    CategoryRequest,
    Convention,
    ConventionAccept,
    CreditChange,
    CreditRequest,
    Dissolution,
    DissolveRequest,
    EmergencyRequest,
    Freeze,
    GroupPage,
    Hold,
    HoldPage,
    LiftRequest,
    MeStatus,
    ModerateRequest,
    Moderation,
    PendingVerification,
    PendingVerifications,
    Proposal,
    ProposeRequest,
    RealnameLinkRequest,
    ReasonedRequest,
    Record,
    Resolution,
    ResolutionSanction,
    ResolveRequest,
    Sanction,
    SanctionApply,
    SanctionList,
    Stats,
    SubjectRef,
    Ticket,
    TicketList,
    Transfer,
    TransferRequest,
)
from policies.constants import DEFAULT_LANGUAGE, Language

logger = logging.getLogger(__name__)

#: Local errcodes for failures the server did not describe.
NETWORK_ERRCODE: Final = "Q_NETWORK"
BAD_RESPONSE_ERRCODE: Final = "Q_BAD_RESPONSE"

_REASON_KEY: Final = "cn.qunzu.reason"
_DETAIL_KEY: Final = "cn.qunzu.detail"

RecordT = TypeVar("RecordT", bound=Record)


@dataclass(frozen=True)
class RealnameLink:
    """A one-time link to the module's verification form.

    Attributes:
        url: The link; it works once, for the user it was made for.
        expires_at_ms: When it stops working (ms since the epoch), or None
            when the module did not say.
    """

    url: str
    expires_at_ms: int | None


def path_segment(value: str) -> str:
    """Quote ``value`` (a user id, room id, ticket …) for use as one URL path segment."""
    return quote(value, safe="")


class QunzuApi:
    """Client of ``/_synapse/client/qunzu/v1`` authenticated as the bot.

    Args:
        base_url: API base URL without trailing slash.
        access_token: Returns the bot's current access token (known only
            after login, and it may change on re-login).
        language: Language of the bot's own fallback texts.
        timeout_s: Total time allowed per request.
        session: An aiohttp session to use (not closed by :meth:`close`);
            by default one is created on first use.
    """

    def __init__(
        self,
        base_url: str,
        access_token: Callable[[], str | None],
        *,
        language: Language = DEFAULT_LANGUAGE,
        timeout_s: float = 15.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._token = access_token
        self._language = language
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(5.0, timeout_s))
        self._session = session
        self._own_session = session is None

    async def close(self) -> None:
        """Close the HTTP session if this client created it."""
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    # --- endpoints -------------------------------------------------------------

    async def me(self, as_user: str | None = None) -> MeStatus:
        """``GET /me``: status of the bot, or of ``as_user``.

        Args:
            as_user: Ask on behalf of this user (``?user_id=``, the Matrix
                convention for a trusted service acting for a user); the
                module allows it for its service account only.
        """
        params = {"user_id": as_user} if as_user is not None else None
        return await self._typed(MeStatus, "GET", "/me", params=params)

    async def realname_link(self, user_id: str) -> RealnameLink:
        """``POST /admin/realname/links``: a one-time verification link for ``user_id``.

        Only staff may ask; the bot asks as the module's service account on
        behalf of the user who sent ``!verify``.

        Args:
            user_id: The user the link is for.

        Raises:
            QunzuApiError: Refused (e.g. 409 when the user is verified already,
                with the server's explanation), unreachable, or an answer
                without a usable ``url``.
        """
        body = await self._request("POST", "/admin/realname/links", json=RealnameLinkRequest(user_id=user_id).body())
        url = body.get("url")
        expires_at = body.get("expires_at")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            logger.warning("qunzu api POST /admin/realname/links: answer without a usable url")
            raise QunzuApiError(
                status=200,
                errcode=BAD_RESPONSE_ERRCODE,
                message=t("api_failed", self._language, status=200),
            )
        valid_expiry = isinstance(expires_at, int) and not isinstance(expires_at, bool)
        return RealnameLink(url=url, expires_at_ms=expires_at if valid_expiry else None)

    # --- reports, room admins, the moderation desk -----------------------------------

    async def holds(self, *, limit: int = 20) -> HoldPage:
        """``GET /admin/holds``: held messages and room settings waiting for review, newest first (no content)."""
        return await self._typed(HoldPage, "GET", "/admin/holds", params={"limit": str(limit)})

    async def release_hold(self, hold_id: str, *, actor: str | None = None) -> Hold:
        """``POST /admin/holds/{id}/release``: deliver it as its sender (for the staff member ``actor``)."""
        body = ActingRequest(actor=actor).body()
        return await self._typed(Hold, "POST", f"/admin/holds/{path_segment(hold_id)}/release", json=body)

    async def reject_hold(self, hold_id: str, reason: str | None, *, actor: str | None = None) -> Hold:
        """``POST /admin/holds/{id}/reject``: never delivered; the module tells the sender."""
        body = ReasonedRequest(reason=reason, actor=actor).body()
        return await self._typed(Hold, "POST", f"/admin/holds/{path_segment(hold_id)}/reject", json=body)

    async def convention(self) -> Convention:
        """``GET /convention``: the platform convention and the report categories of the policy."""
        return await self._typed(Convention, "GET", "/convention")

    async def tickets(self, **query: str) -> list[Ticket]:
        """``GET /admin/reports`` with filters (``open``, ``overdue``, ``since``, ``status``, ``limit``)."""
        return (await self._typed(TicketList, "GET", "/admin/reports", params=query or None)).tickets

    async def ticket(self, ticket_id: str) -> Ticket:
        """``GET /admin/reports/{id}``."""
        return await self._typed(Ticket, "GET", f"/admin/reports/{path_segment(ticket_id)}")

    async def report_stats(self, since_ms: int) -> Stats:
        """``GET /admin/reports/stats?since=``: counts for the daily digest."""
        return await self._typed(Stats, "GET", "/admin/reports/stats", params={"since": str(since_ms)})

    async def resolve(
        self, ticket_id: str, actor: str, outcome: str, reason: str, sanction: ResolutionSanction | None = None
    ) -> Resolution:
        """``POST /admin/reports/{id}/resolve`` for the staff member ``actor``."""
        body = ResolveRequest(outcome=outcome, actor=actor, reason=reason, sanction=sanction).body()
        return await self._typed(Resolution, "POST", f"/admin/reports/{path_segment(ticket_id)}/resolve", json=body)

    async def propose(self, subject_type: str, subject: str, category: str | None) -> Proposal:
        """``POST /admin/sanctions/propose``: the ladder's next step."""
        body = ProposeRequest(subject=_subject(subject_type, subject), category=category).body()
        return await self._typed(Proposal, "POST", "/admin/sanctions/propose", json=body)

    async def sanction(self, request: SanctionApply) -> Sanction:
        """``POST /admin/sanctions``."""
        return await self._typed(Sanction, "POST", "/admin/sanctions", json=request.body())

    async def sanctions(self, **query: str) -> list[Sanction]:
        """``GET /admin/sanctions`` (newest first)."""
        return (await self._typed(SanctionList, "GET", "/admin/sanctions", params=query or None)).sanctions

    async def lift(self, sanction_id: str, reason: str, *, actor: str | None = None) -> Sanction:
        """``DELETE /admin/sanctions/{id}`` (for the staff member ``actor``, when given)."""
        body = LiftRequest(reason=reason, actor=actor).body()
        return await self._typed(Sanction, "DELETE", f"/admin/sanctions/{path_segment(sanction_id)}", json=body)

    async def appeal(self, appellant: str, ref: str | None, text: str) -> Appeal:
        """``POST /appeals`` for ``appellant``: ``ref`` (a measure or a refused message), else the latest decision."""
        body = AppealRequest(text=text, appellant=appellant, ref=ref).body()
        return await self._typed(Appeal, "POST", "/appeals", json=body)

    async def blacklist_add(
        self, subject_type: Literal["user", "room", "identity"], subject: str, reason: str, *, actor: str | None = None
    ) -> BlacklistEntry:
        """``POST /admin/blacklist`` (for the staff member ``actor``, when given)."""
        kind = BlacklistSubject(type=subject_type, id=subject)
        body = BlacklistAdd(subject=kind, reason=reason, actor=actor).body()
        return await self._typed(BlacklistEntry, "POST", "/admin/blacklist", json=body)

    async def blacklist_remove(self, entry_id: str, reason: str, *, actor: str | None = None) -> BlacklistLift:
        """``DELETE /admin/blacklist/{id}`` (for the staff member ``actor``, when given)."""
        body = ReasonedRequest(reason=reason, actor=actor).body()
        return await self._typed(BlacklistLift, "DELETE", f"/admin/blacklist/{path_segment(entry_id)}", json=body)

    async def adjust_credit(self, user_id: str, delta: int, reason: str, *, actor: str | None = None) -> CreditChange:
        """``POST /admin/users/{user_id}/credit`` (for the staff member ``actor``, when given)."""
        body = CreditRequest(delta=delta, reason=reason, actor=actor).body()
        return await self._typed(CreditChange, "POST", f"/admin/users/{path_segment(user_id)}/credit", json=body)

    async def credit(self, user_id: str) -> dict[str, Any]:
        """``GET /admin/users/{user_id}/credit``."""
        return await self._request("GET", f"/admin/users/{path_segment(user_id)}/credit")

    async def group(self, code: str, language: str | None = None) -> GroupPage:
        """``GET /groups/{code}``: the group's info page as JSON (labels in ``language`` when given)."""
        query = f"?lang={language}" if language else ""
        return await self._typed(GroupPage, "GET", f"/groups/{path_segment(code)}{query}")

    async def set_category(self, code: str, category: str) -> GroupPage:
        """``POST /groups/{code}/category`` (as the service account, after the bot checked the creator)."""
        body = CategoryRequest(category=category).body()
        return await self._typed(GroupPage, "POST", f"/groups/{path_segment(code)}/category", json=body)

    async def accept_convention(self, user_id: str, version: str) -> dict[str, Any]:
        """``POST /convention/accept?user_id=`` for the person who sent ``!accept`` (service account only)."""
        body = ConventionAccept(version=version).body()
        return await self._request("POST", "/convention/accept", params={"user_id": user_id}, json=body)

    async def dissolve(self, code: str, actor: str, *, confirm: str | None = None) -> Dissolution:
        """``POST /groups/{code}/dissolve`` for the owner ``actor``; without ``confirm`` nothing changes."""
        body = DissolveRequest(actor=actor, confirm=confirm).body()
        return await self._typed(Dissolution, "POST", f"/groups/{path_segment(code)}/dissolve", json=body)

    async def transfer(self, code: str, actor: str, new_owner: str, *, confirm: str | None = None) -> Transfer:
        """``POST /groups/{code}/transfer`` for the owner ``actor``; without ``confirm`` nothing changes."""
        body = TransferRequest(actor=actor, user_id=new_owner, confirm=confirm).body()
        return await self._typed(Transfer, "POST", f"/groups/{path_segment(code)}/transfer", json=body)

    async def moderate(
        self,
        room_id: str,
        actor: str,
        action: str,
        *,
        target: str | None = None,
        duration: str | None = None,
        reason: str = "",
    ) -> Moderation:
        """``POST /admin/rooms/{room_id}/moderate`` for the room admin ``actor``."""
        body = ModerateRequest(actor=actor, action=action, target=target, duration=duration, reason=reason).body()
        return await self._typed(Moderation, "POST", f"/admin/rooms/{path_segment(room_id)}/moderate", json=body)

    async def emergency(self, scope: str, reason: str, *, actor: str | None = None) -> Freeze:
        """``POST /admin/emergency`` (for the staff member ``actor``, when given)."""
        body = EmergencyRequest(scope=scope, reason=reason, actor=actor).body()
        return await self._typed(Freeze, "POST", "/admin/emergency", json=body)

    async def emergency_lift(self, freeze_id: str, reason: str, *, actor: str | None = None) -> Freeze:
        """``DELETE /admin/emergency/{id}`` (for the staff member ``actor``, when given)."""
        body = ReasonedRequest(reason=reason, actor=actor).body()
        return await self._typed(Freeze, "DELETE", f"/admin/emergency/{path_segment(freeze_id)}", json=body)

    async def realname_pending(self) -> list[PendingVerification]:
        """``GET /admin/realname/pending``: submissions waiting for a person (manual provider)."""
        return (await self._typed(PendingVerifications, "GET", "/admin/realname/pending")).pending

    async def announce(self, room_id: str, actor: str, text: str) -> Announcement:
        """``POST /admin/rooms/{room_id}/announce`` for the room admin ``actor``."""
        body = AnnounceRequest(actor=actor, text=text).body()
        return await self._typed(Announcement, "POST", f"/admin/rooms/{path_segment(room_id)}/announce", json=body)

    async def pending_announcements(self) -> list[Announcement]:
        """``GET /admin/announcements``: announcements waiting for staff review."""
        return (await self._typed(AnnouncementList, "GET", "/admin/announcements")).announcements

    async def decide_announcement(
        self, announcement_id: str, approve: bool, reason: str, *, actor: str | None = None
    ) -> Announcement:
        """``POST /admin/announcements/{id}/approve|reject`` (for the staff member ``actor``, when given)."""
        verb = "approve" if approve else "reject"
        body = ReasonedRequest(reason=reason, actor=actor).body()
        path = f"/admin/announcements/{path_segment(announcement_id)}/{verb}"
        return await self._typed(Announcement, "POST", path, json=body)

    async def appeals(self) -> list[Appeal]:
        """``GET /admin/appeals?status=open``."""
        return (await self._typed(AppealList, "GET", "/admin/appeals", params={"status": "open"})).appeals

    # --- plumbing ----------------------------------------------------------------

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def _typed(
        self,
        record: type[RecordT],
        method: str,
        path: str,
        json: Any = None,
        *,
        params: Mapping[str, str] | None = None,
    ) -> RecordT:
        """Like :meth:`_request`, the answer read as ``record``.

        Raises:
            QunzuApiError: as :meth:`_request`, and an answer that does not fit ``record``
                (a field missing or of the wrong type; unknown fields are ignored).
        """
        body = await self._request(method, path, json, params=params)
        try:
            return record.model_validate(body)
        except ValidationError as exc:
            where = ".".join(str(part) for part in exc.errors()[0]["loc"])
            logger.warning("qunzu api %s %s: answer does not fit %s at %s", method, path, record.__name__, where)
            raise QunzuApiError(
                status=200,
                errcode=BAD_RESPONSE_ERRCODE,
                message=t("api_failed", self._language, status=200),
            ) from None

    async def _request(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Call ``method path`` and return the JSON object of a 2xx answer.

        Args:
            method: HTTP method.
            path: Path below the base URL, starting with ``/``; quote dynamic
                segments with :func:`path_segment`.
            json: Request body, sent as JSON when not None.
            params: Query parameters.

        Raises:
            QunzuApiError: Error answer (fields from the §3.3 error JSON),
                a non-JSON or non-object answer, or no answer at all (status 0).
        """
        headers = {"Accept": "application/json"}
        token = self._token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        url = self._base + path
        try:
            async with self._http().request(
                method, url, json=json, params=params, headers=headers, timeout=self._timeout
            ) as resp:
                status = resp.status
                text = await resp.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Only the exception class: messages of some aiohttp errors contain the URL.
            logger.warning("qunzu api %s %s unreachable: %s", method, path, type(exc).__name__)
            raise QunzuApiError(
                status=0,
                errcode=NETWORK_ERRCODE,
                message=t("api_unreachable", self._language),
            ) from exc
        body = _parse_json(text)
        if 200 <= status < 300:
            if not isinstance(body, dict):
                logger.warning("qunzu api %s %s: %s without a JSON object", method, path, status)
                raise QunzuApiError(
                    status=status,
                    errcode=BAD_RESPONSE_ERRCODE,
                    message=t("api_failed", self._language, status=status),
                )
            return body
        raise self._error(method, path, status, body)

    def _error(self, method: str, path: str, status: int, body: Any) -> QunzuApiError:
        if not isinstance(body, dict):
            body = {}
        error = body.get("error")
        has_text = isinstance(error, str) and bool(error)
        errcode = body.get("errcode")
        if not isinstance(errcode, str):
            errcode = "M_UNKNOWN" if has_text else BAD_RESPONSE_ERRCODE
        reason = body.get(_REASON_KEY)
        detail = body.get(_DETAIL_KEY)
        logger.info("qunzu api %s %s refused: %s %s %s", method, path, status, errcode, reason or "-")
        return QunzuApiError(
            status=status,
            errcode=errcode,
            reason=reason if isinstance(reason, str) else None,
            message=error if has_text else t("api_failed", self._language, status=status),
            detail=detail if isinstance(detail, dict) else None,
        )


def _subject(subject_type: str, subject: str) -> SubjectRef:
    """The ``subject`` of a measure or proposal; only ``user`` and ``room`` exist."""
    return SubjectRef(type="room" if subject_type == "room" else "user", id=subject)


def _parse_json(text: str) -> Any:
    try:
        return jsonlib.loads(text) if text else None
    except ValueError:
        return None
