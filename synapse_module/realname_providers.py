"""Who confirms that a name and an ID number belong together (Art. 6).

- `checksum`: development only; the format checks in `policies.identity` are all it does.
- `manual`: a person at the operator approves or rejects each submission.
- `http`: an external verification service (e.g. the operator's carrier or a
  licensed identity service). Request: POST of canonical JSON
  `{"request_id", "ts", "name", "id_number", "phone"}` with the header
  `X-Qunzu-Signature: sha256=<hex HMAC-SHA256 of the exact body, keyed by the shared secret>`.
  Answer: HTTP 200 with `{"result": "verified"}` or `{"result": "mismatch"}`.
  Anything else, a network error or a timeout is "unavailable": the user is
  asked to retry later, and nothing is marked verified.
"""

from __future__ import annotations

import enum
import json
import logging
import secrets
from dataclasses import dataclass
from typing import Protocol

from synapse.module_api import ModuleApi, make_deferred_yieldable, run_in_background
from twisted.internet import defer, reactor
from twisted.web.client import readBody
from twisted.web.http_headers import Headers

from .audit import canonical_json
from .config import HttpProvider, QunzuConfig
from .crypto import mac_hex

logger = logging.getLogger(__name__)


class Outcome(enum.Enum):
    VERIFIED = "verified"
    MISMATCH = "mismatch"
    PENDING = "pending"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class Submission:
    """Validated, normalised identity data; lives only in memory."""

    user_id: str
    name: str
    id_number: str
    phone: str | None

    def __repr__(self) -> str:  # never print personal data by accident
        return f"Submission(user_id={self.user_id!r}, <identity withheld>)"


class Provider(Protocol):
    name: str
    # The verification level an account reaches when this provider says yes.
    level: int

    async def verify(self, submission: Submission) -> Outcome: ...


class ChecksumProvider:
    name = "checksum"
    level = 1

    async def verify(self, submission: Submission) -> Outcome:
        return Outcome.VERIFIED


class ManualProvider:
    name = "manual"
    level = 1

    async def verify(self, submission: Submission) -> Outcome:
        return Outcome.PENDING


class HttpVerificationProvider:
    name = "http"
    level = 2

    def __init__(self, api: ModuleApi, settings: HttpProvider) -> None:
        self._api = api
        self._settings = settings

    async def verify(self, submission: Submission) -> Outcome:
        body = canonical_json(
            {
                "request_id": secrets.token_hex(12),
                "ts": self._api.get_current_time_msec(),
                "name": submission.name,
                "id_number": submission.id_number,
                "phone": submission.phone,
            }
        ).encode("utf-8")
        signature = "sha256=" + mac_hex(self._settings.secret, body)
        deferred = run_in_background(self._post, body, signature)
        deferred.addTimeout(self._settings.timeout_s, reactor)
        try:
            status, answer = await make_deferred_yieldable(deferred)
        except defer.TimeoutError:
            logger.warning("qunzu: verification service did not answer within %.1fs", self._settings.timeout_s)
            return Outcome.UNAVAILABLE
        except Exception as exc:  # the boundary to an outside service: any failure means "try later"
            logger.warning("qunzu: verification service request failed: %s", type(exc).__name__)
            return Outcome.UNAVAILABLE
        result = answer.get("result") if status == 200 and isinstance(answer, dict) else None
        if result == "verified":
            return Outcome.VERIFIED
        if result == "mismatch":
            return Outcome.MISMATCH
        logger.warning("qunzu: verification service answered %d without a usable result", status)
        return Outcome.UNAVAILABLE

    async def _post(self, body: bytes, signature: str) -> tuple[int, object]:
        headers = Headers(
            {
                b"Content-Type": [b"application/json"],
                b"X-Qunzu-Signature": [signature.encode("ascii")],
            }
        )
        response = await self._api.http_client.request("POST", self._settings.url, data=body, headers=headers)
        raw = await make_deferred_yieldable(readBody(response))
        try:
            return int(response.code), json.loads(raw)
        except ValueError:
            return int(response.code), None


def make_provider(api: ModuleApi, config: QunzuConfig) -> Provider:
    """The provider the configuration names."""
    if config.realname_provider == "http":
        assert config.http_provider is not None  # guaranteed by config validation
        return HttpVerificationProvider(api, config.http_provider)
    if config.realname_provider == "manual":
        return ManualProvider()
    return ChecksumProvider()
