"""Typed async client for the module's HTTP API (DESIGN §3.4).

Every failure becomes :class:`~bot.errors.QunzuApiError` whose ``message`` is
fit for chat: the server's own ``error`` text (already in the server's
language) or a friendly local text when the server could not be reached.

Adding an endpoint is one short method::

    async def report(self, room_id: str, category: str, reason: str) -> dict[str, Any]:
        return await self._request("POST", "/reports", json={...})
"""

from __future__ import annotations

import json as jsonlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

import aiohttp

from bot.errors import QunzuApiError
from bot.messages import DEFAULT_LANGUAGE, Language, t

logger = logging.getLogger(__name__)

#: Local errcodes for failures the server did not describe.
NETWORK_ERRCODE: Final = "Q_NETWORK"
BAD_RESPONSE_ERRCODE: Final = "Q_BAD_RESPONSE"

_REASON_KEY: Final = "cn.qunzu.reason"
_DETAIL_KEY: Final = "cn.qunzu.detail"


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

    async def me(self, as_user: str | None = None) -> dict[str, Any]:
        """``GET /me``: status of the bot, or of ``as_user``.

        Args:
            as_user: Ask on behalf of this user (``?user_id=``, the Matrix
                convention for a trusted service acting for a user); the
                module allows it for its service account only.
        """
        params = {"user_id": as_user} if as_user is not None else None
        return await self._request("GET", "/me", params=params)

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
        body = await self._request("POST", "/admin/realname/links", json={"user_id": user_id})
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

    # --- plumbing ----------------------------------------------------------------

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

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


def _parse_json(text: str) -> Any:
    try:
        return jsonlib.loads(text) if text else None
    except ValueError:
        return None
