"""Real-name verification (后台实名、前台自愿, Art. 6) and protection of the data it collects.

The order of a submission is chosen so that nothing personal is stored unless
it is going to be kept: format checks → rate limit → blacklist → account cap
→ provider → encrypted binding (cap re-checked exactly in the transaction).

A format error names its field and problem and never reaches the provider, so it
does not use one of the day's provider attempts (`realname_attempts`); format
errors have their own hourly limit (`realname_format_errors`), so a script cannot
hammer the endpoint either way.
Clear identity data exists only in memory during a request and in the answer
to a staff `reveal`, which is audited with its reason.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from policies import InvalidIdentity, Reason, may_bind_identity
from policies.api import PendingVerification, PendingVerifications, RealnameLink, RevealedIdentity, Verification
from policies.api.paths import api_url
from policies.identity import mask_id_number, mask_name, mask_phone, validate_id_number, validate_name, validate_phone
from policies.messages import CHINA_STANDARD_TIME as CHINA_TZ
from policies.timing import until_detail

from .cache import ClusterCache
from .crypto import FieldCipher, identity_fingerprint
from .errors import Conflict, InvalidInput, NotFound, NotReady, Refusal
from .realname_providers import Outcome, Submission, make_provider
from .refusals import limit_exceeded
from .store.identities import EncryptedIdentity, GateRecord
from .store.limits import REALNAME_ATTEMPTS, REALNAME_FORMAT_ERRORS
from .texts import text

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .clock import Clock
    from .config import QunzuConfig
    from .store import QunzuStore

logger = logging.getLogger(__name__)

FORM_PATH = "/realname/form"
TOKEN_PARAM = "client_secret"


def china_today(now_ms: int) -> datetime.date:
    """The calendar date in China Standard Time (birth dates are checked against it)."""
    return datetime.datetime.fromtimestamp(now_ms / 1000, CHINA_TZ).date()


def _field(body: Mapping[str, Any], name: str, *, required: bool) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"'{name}' must be a string", errcode="M_BAD_JSON")
    return value


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class RealnameService:
    """Submissions, staff decisions, masked views and audited reveals."""

    def __init__(self, api: ModuleApi, clock: Clock, config: QunzuConfig, store: QunzuStore) -> None:
        self._api = api
        self._clock = clock
        self._config = config
        self._store = store.identities
        self._limits = store.limits
        self._blacklist = store.blacklist
        self._audit = store.audit
        self._cipher = FieldCipher(config.key)
        self._provider = make_provider(api, config)
        # Read on every message by the posting gate; invalidated on every change, on every process.
        self.gate = ClusterCache(api, "qunzu_gate_record", self._store.gate_record)

    @property
    def form_url(self) -> str:
        return api_url(self._api.public_baseurl, FORM_PATH)

    def _language(self) -> str:
        return self._config.language

    # -- submission ----------------------------------------------------------------

    async def submit(self, user_id: str, body: Mapping[str, Any]) -> tuple[int, Verification]:
        """Verify an identity for `user_id` (DESIGN.md §3.4 `POST /realname`).

        Returns:
            200 and the masked status when verified, 202 when waiting for staff.

        Raises:
            Refusal: invalid_identity (400; a format error has ``field`` and ``problem`` in
                its detail), blacklisted (403), identity_in_use (409).
            RequestError: malformed body (400), too many attempts or too many format
                errors (429), provider unavailable (503).
        """
        name_text = _field(body, "name", required=True)
        id_text = _field(body, "id_number", required=True)
        phone_text = _field(body, "phone", required=False)
        convention = _field(body, "convention_version", required=False)
        assert name_text is not None and id_text is not None
        self._check_convention_version(convention)
        now = self._clock.now_ms()
        try:
            name = validate_name(name_text)
            id_number = validate_id_number(id_text, china_today(now))
            phone = validate_phone(phone_text) if phone_text else None
        except InvalidIdentity as exc:
            await self._format_error(user_id, exc)

        # Art. 6: provider attempts per account and day, taken exactly before anything else is
        # checked (store/limits.py), so parallel submissions cannot all pass a count read at once.
        limits = self._limits
        limit = self._config.policy.realname.attempts_per_day
        use = await limits.take(REALNAME_ATTEMPTS, user_id, limit)
        if not use.allowed or use.use_id is None:
            raise limit_exceeded(text("attempts_exceeded", self._language(), limit=limit), use, "day")
        recorded = False

        async def record(outcome: str) -> None:
            nonlocal recorded
            await self._store.record_attempt(user_id, outcome)
            recorded = True

        try:
            return await self._counted_submit(user_id, name, id_number, phone, convention, now, record)
        except Exception:
            if not recorded:
                # A fault of ours before the attempt was decided: it does not count against the person.
                try:
                    await limits.give_back(REALNAME_ATTEMPTS, user_id, use.use_id)
                except Exception:
                    logger.exception("qunzu: giving back a verification attempt failed")
            raise

    async def _format_error(self, user_id: str, exc: InvalidIdentity) -> NoReturn:
        """Refuse a submission for its format: 400 naming the field, or 429 past the hourly cap.

        The use is taken through the same guarded counter as every per-person limit, so
        parallel malformed submissions get exactly `cap` 400s and then 429s.
        """
        cap = self._config.policy.realname.format_errors_per_hour
        use = await self._limits.take(REALNAME_FORMAT_ERRORS, user_id, cap)
        if not use.allowed:
            raise limit_exceeded(text("format_errors_exceeded", self._language(), limit=cap), use, "hour")
        await self._store.record_attempt(user_id, "invalid")
        raise Refusal(Reason.INVALID_IDENTITY, {"field": exc.field, "problem": exc.problem}) from None

    async def _counted_submit(
        self,
        user_id: str,
        name: str,
        id_number: str,
        phone: str | None,
        convention: str | None,
        now: int,
        record: Callable[[str], Awaitable[None]],
    ) -> tuple[int, Verification]:
        """`submit` once the fields are valid and the attempt is counted; every outcome is recorded with `record`."""
        policy = self._config.policy
        fingerprint = identity_fingerprint(self._config.key, id_number)
        current = await self._store.gate_record(user_id)
        if current.status in ("verified", "pending"):
            return await self._resubmission(user_id, current, fingerprint, convention, record)
        if (blacklisted_until := await self._blacklist.until(user_id, fingerprint)) is not None:
            await record("blacklisted")
            await self._audit.append(user_id, "realname.refused", user_id, {"reason": "blacklisted"})
            raise Refusal(Reason.BLACKLISTED, until_detail(blacklisted_until))
        holders = await self._store.accounts_with(fingerprint)
        if not (decision := may_bind_identity(holders, policy)).allowed:
            await record("identity_in_use")
            assert decision.reason is not None
            raise Refusal(decision.reason, decision.detail)

        outcome = await self._provider.verify(Submission(user_id, name, id_number, phone))
        await record(outcome.value)
        if outcome is Outcome.MISMATCH:
            raise Refusal(Reason.INVALID_IDENTITY, {"field": "identity", "mismatch": True})
        if outcome is Outcome.UNAVAILABLE:
            raise NotReady(text("provider_unavailable", self._language()), fields={"retry_after_ms": 60_000})
        verified = outcome is Outcome.VERIFIED
        identity = EncryptedIdentity(
            user_id=user_id,
            status="verified" if verified else "pending",
            level=self._provider.level if verified else 0,
            fingerprint=fingerprint,
            name_enc=self._cipher.encrypt(name, user_id),
            id_number_enc=self._cipher.encrypt(id_number, user_id),
            phone_enc=self._cipher.encrypt(phone, user_id) if phone else None,
            provider=self._provider.name,
            submitted_ts=now,
            decided_ts=now if verified else None,
            decided_by=self._provider.name if verified else None,
            deactivated_ts=None,
        )
        bound = await self._store.bind(identity, policy.realname.max_accounts_per_identity)
        if not bound.bound:
            decision = may_bind_identity(bound.accounts, policy)
            assert decision.reason is not None
            raise Refusal(decision.reason, decision.detail)
        if convention:
            await self._store.accept_convention(user_id, convention)
        await self._audit.append(
            user_id,
            "realname.submit",
            user_id,
            {"outcome": identity.status, "provider": self._provider.name, "level": identity.level},
        )
        await self.gate.invalidate_everywhere(user_id)
        return (200 if verified else 202), await self.masked_status(user_id)

    async def _resubmission(
        self,
        user_id: str,
        current: GateRecord,
        fingerprint: str,
        convention: str | None,
        record: Callable[[str], Awaitable[None]],
    ) -> tuple[int, Verification]:
        await record("resubmission")
        if current.fingerprint != fingerprint:
            # Re-binding an account to another person is a staff matter.
            raise Conflict(text("rebind_refused", self._language()), errcode="M_FORBIDDEN")
        if convention:
            await self.accept_convention(user_id, convention)
        return (200 if current.status == "verified" else 202), await self.masked_status(user_id)

    # -- convention ------------------------------------------------------------------

    def _check_convention_version(self, version: str | None) -> None:
        current = self._config.policy.convention.version
        if version is not None and version != current:
            raise InvalidInput(
                text("convention_outdated", self._language(), current=current),
                fields={"cn.qunzu.detail": {"current_version": current}},
            )

    async def accept_convention(self, user_id: str, version: str) -> None:
        """Art. 5: the user accepts the current platform convention."""
        self._check_convention_version(version)
        await self._store.accept_convention(user_id, version)
        await self._audit.append(user_id, "convention.accept", user_id, {"version": version})
        await self.gate.invalidate_everywhere(user_id)

    # -- views -------------------------------------------------------------------------

    async def masked_status(self, user_id: str) -> Verification:
        """What the user (or staff without a reveal) may see: status and masked fields."""
        identity = await self._store.get(user_id)
        if identity is None or identity.status not in ("pending", "verified"):
            # Art. 6: someone still to verify sees the provider attempts left today (format errors use none).
            used = await self._limits.used(REALNAME_ATTEMPTS, user_id)
            left = max(0, self._config.policy.realname.attempts_per_day - used)
            if identity is None:
                return Verification(status="unverified", level=0, attempts_left_today=left)
            return _verification_of(identity, attempts_left_today=left)
        masked = {
            "name": mask_name(self._cipher.decrypt(identity.name_enc, user_id)),
            "id_number": mask_id_number(self._cipher.decrypt(identity.id_number_enc, user_id)),
        }
        if identity.phone_enc:
            masked["phone"] = mask_phone(self._cipher.decrypt(identity.phone_enc, user_id))
        return _verification_of(identity, **masked)

    async def reveal(self, actor: str, user_id: str, reason: str) -> RevealedIdentity:
        """Clear identity for staff, with the reason on the audit record first."""
        identity = await self._store.get(user_id)
        if identity is None or identity.status not in ("pending", "verified"):
            raise NotFound(text("no_identity", self._language()))
        await self._audit.append(actor, "identity.reveal", user_id, {"reason": reason})
        return RevealedIdentity(
            user_id=user_id,
            status=identity.status,
            name=self._cipher.decrypt(identity.name_enc, user_id),
            id_number=self._cipher.decrypt(identity.id_number_enc, user_id),
            phone=self._cipher.decrypt(identity.phone_enc, user_id) if identity.phone_enc else None,
        )

    # -- staff decisions (manual provider) -----------------------------------------

    async def pending(self, limit: int) -> PendingVerifications:
        listed = []
        for identity in await self._store.list_pending(limit):
            masked = await self.masked_status(identity.user_id)
            listed.append(PendingVerification(user_id=identity.user_id, **masked.model_dump(exclude_unset=True)))
        return PendingVerifications(pending=listed)

    async def decide(self, actor: str, user_id: str, approve: bool, reason: str | None) -> Verification:
        if not await self._store.decide(user_id, approve, self._provider.level, actor):
            raise NotFound(text("not_pending", self._language()))
        action = "realname.approve" if approve else "realname.reject"
        await self._audit.append(actor, action, user_id, {"reason": reason or ""})
        await self.gate.invalidate_everywhere(user_id)
        return await self.masked_status(user_id)

    async def deactivated(self, user_id: str) -> None:
        """The account was deactivated: free its place; the row stays for the retention period."""
        if await self._store.deactivate(user_id):
            await self._audit.append(user_id, "realname.deactivated", user_id, {})
            await self.gate.invalidate_everywhere(user_id)

    # -- one-time links to the form -------------------------------------------------

    async def create_link(self, user_id: str) -> RealnameLink:
        record = await self._store.gate_record(user_id)
        # A verified person gets a link only to accept a new convention version (the form shows just that).
        if record.status == "verified" and record.convention_version == self._config.policy.convention.version:
            raise Conflict(text("already_verified", self._language()), errcode="M_FORBIDDEN")
        token = secrets.token_urlsafe(32)
        expires = await self._store.create_link(token_hash(token), user_id, self._config.link_ttl_s * 1000)
        # `client_secret`: the one query parameter besides `access_token` whose value Synapse
        # writes as <redacted> in every request log line (synapse.http.redact_uri).
        return RealnameLink(url=f"{self.form_url}?{TOKEN_PARAM}={token}", expires_at=expires)

    async def is_verified(self, user_id: str) -> bool:
        """Whether the account is verified (its form then only asks for the convention)."""
        return (await self._store.gate_record(user_id)).status == "verified"

    async def link_owner(self, token: str) -> str | None:
        return await self._store.link_owner(token_hash(token))

    async def use_link(self, token: str) -> bool:
        return await self._store.use_link(token_hash(token))


def _verification_of(identity: EncryptedIdentity, **shown: Any) -> Verification:
    """A stored identity's status and dates as its owner and staff see them, with `shown` (masked) fields."""
    return Verification(
        status=identity.status,
        level=identity.level,
        provider=identity.provider,
        submitted_at=identity.submitted_ts,
        decided_at=identity.decided_ts,
        deactivated_at=identity.deactivated_ts,
        **shown,
    )
