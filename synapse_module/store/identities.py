"""SQL of real-name verification: identities, attempts, convention acceptance, one-time links.

Identity fields arrive here already encrypted; this file never sees clear text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from synapse.module_api import LoggingTransaction, ModuleApi

from ..clock import Clock
from .blacklist import blacklist_until_txn

IdentityStatus = Literal["pending", "verified", "rejected"]
# Statuses that hold one of the identity's account places.
HOLDS_A_PLACE = ("pending", "verified")


@dataclass(frozen=True)
class GateRecord:
    """What the posting gate needs about one user, read in one query and cached."""

    status: IdentityStatus | None
    level: int
    fingerprint: str | None
    convention_version: str | None
    # None: not blacklisted; PERMANENT: for good; else the end (ms).
    blacklist_until: int | None


@dataclass(frozen=True)
class EncryptedIdentity:
    """A stored identity; the *_enc fields are FieldCipher output."""

    user_id: str
    status: IdentityStatus
    level: int
    fingerprint: str
    name_enc: str
    id_number_enc: str
    phone_enc: str | None
    provider: str
    submitted_ts: int
    decided_ts: int | None
    decided_by: str | None
    deactivated_ts: int | None


@dataclass(frozen=True)
class BindOutcome:
    """Result of binding an identity to an account: `bound`, or the cap was reached."""

    bound: bool
    accounts: int


class IdentityStore:
    """Async access to the real-name tables."""

    def __init__(self, api: ModuleApi, clock: Clock) -> None:
        self._api = api
        self._clock = clock

    async def gate_record(self, user_id: str) -> GateRecord:
        return await self._api.run_db_interaction("qunzu_gate_record", gate_record_txn, user_id, self._clock.now_ms())

    async def record_attempt(self, user_id: str, outcome: str) -> None:
        await self._api.run_db_interaction(
            "qunzu_record_attempt", _record_attempt_txn, user_id, self._clock.now_ms(), outcome
        )

    async def bind(self, identity: EncryptedIdentity, max_accounts: int) -> BindOutcome:
        return await self._api.run_db_interaction("qunzu_bind_identity", _bind_identity_txn, identity, max_accounts)

    async def get(self, user_id: str) -> EncryptedIdentity | None:
        return await self._api.run_db_interaction("qunzu_get_identity", _get_identity_txn, user_id)

    async def list_pending(self, limit: int) -> list[EncryptedIdentity]:
        return await self._api.run_db_interaction("qunzu_list_pending", _list_pending_txn, limit)

    async def decide(self, user_id: str, approve: bool, level: int, actor: str) -> bool:
        """Approve or reject a pending identity; False if there was none pending."""
        return await self._api.run_db_interaction(
            "qunzu_decide_identity", _decide_identity_txn, user_id, approve, level, actor, self._clock.now_ms()
        )

    async def deactivate(self, user_id: str) -> bool:
        return await self._api.run_db_interaction(
            "qunzu_deactivate_identity", _deactivate_identity_txn, user_id, self._clock.now_ms()
        )

    async def purge_deactivated(self, before_ms: int, limit: int) -> int:
        """Delete up to `limit` identities of accounts deactivated before `before_ms`."""
        return await self._api.run_db_interaction("qunzu_purge_deactivated", _purge_deactivated_txn, before_ms, limit)

    async def accounts_with(self, fingerprint: str) -> int:
        """How many accounts hold a place of this identity now."""
        return await self._api.run_db_interaction("qunzu_accounts_with", _accounts_with_txn, fingerprint)

    async def accounts_of(self, fingerprint: str) -> list[str]:
        return await self._api.run_db_interaction("qunzu_accounts_of", _accounts_of_txn, fingerprint)

    async def accept_convention(self, user_id: str, version: str) -> None:
        await self._api.run_db_interaction(
            "qunzu_accept_convention", _accept_convention_txn, user_id, version, self._clock.now_ms()
        )

    async def create_link(self, token_hash: str, user_id: str, ttl_ms: int) -> int:
        now = self._clock.now_ms()
        await self._api.run_db_interaction(
            "qunzu_create_link", _create_link_txn, token_hash, user_id, now, now + ttl_ms
        )
        return now + ttl_ms

    async def link_owner(self, token_hash: str) -> str | None:
        """The user a valid (unused, unexpired) link belongs to."""
        return await self._api.run_db_interaction("qunzu_link_owner", _link_owner_txn, token_hash, self._clock.now_ms())

    async def use_link(self, token_hash: str) -> bool:
        """Mark a link used; False if it was used or expired meanwhile."""
        return await self._api.run_db_interaction("qunzu_use_link", _use_link_txn, token_hash, self._clock.now_ms())


def gate_record_txn(txn: LoggingTransaction, user_id: str, now_ms: int) -> GateRecord:
    txn.execute("SELECT status, level, fingerprint FROM qunzu_identities WHERE user_id = ?", (user_id,))
    identity = txn.fetchone()
    txn.execute("SELECT version FROM qunzu_conventions WHERE user_id = ?", (user_id,))
    convention = txn.fetchone()
    fingerprint = str(identity[2]) if identity and identity[0] in HOLDS_A_PLACE and identity[2] else None
    until = blacklist_until_txn(txn, user_id, fingerprint, now_ms)
    return GateRecord(
        status=identity[0] if identity else None,
        level=int(identity[1]) if identity and identity[0] == "verified" else 0,
        fingerprint=fingerprint,
        convention_version=str(convention[0]) if convention else None,
        blacklist_until=until,
    )


def _record_attempt_txn(txn: LoggingTransaction, user_id: str, now_ms: int, outcome: str) -> None:
    txn.execute(
        "INSERT INTO qunzu_realname_attempts (user_id, ts, outcome) VALUES (?, ?, ?)", (user_id, now_ms, outcome)
    )


def _bind_identity_txn(txn: LoggingTransaction, identity: EncryptedIdentity, max_accounts: int) -> BindOutcome:
    txn.execute("SELECT status, fingerprint FROM qunzu_identities WHERE user_id = ?", (identity.user_id,))
    previous = txn.fetchone()
    holds_place = previous is not None and previous[0] in HOLDS_A_PLACE
    same_person = holds_place and previous is not None and previous[1] == identity.fingerprint
    txn.execute("SELECT accounts FROM qunzu_identity_accounts WHERE fingerprint = ?", (identity.fingerprint,))
    row = txn.fetchone()
    accounts = int(row[0]) if row else 0
    if not same_person:
        if accounts >= max_accounts:
            return BindOutcome(False, accounts)
        if holds_place and previous is not None:
            _release_place_txn(txn, str(previous[1]))
        # Writing the counter row makes concurrent bindings of one identity
        # conflict (PostgreSQL retries the loser), so the cap is exact.
        txn.execute(
            "INSERT INTO qunzu_identity_accounts (fingerprint, accounts) VALUES (?, 1)"
            " ON CONFLICT (fingerprint) DO UPDATE SET accounts = qunzu_identity_accounts.accounts + 1",
            (identity.fingerprint,),
        )
        accounts += 1
    txn.execute(
        """INSERT INTO qunzu_identities (user_id, status, level, fingerprint, name_enc, id_number_enc, phone_enc,
               provider, submitted_ts, decided_ts, decided_by, deactivated_ts)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
           ON CONFLICT (user_id) DO UPDATE SET status = excluded.status, level = excluded.level,
               fingerprint = excluded.fingerprint, name_enc = excluded.name_enc,
               id_number_enc = excluded.id_number_enc, phone_enc = excluded.phone_enc,
               provider = excluded.provider, submitted_ts = excluded.submitted_ts,
               decided_ts = excluded.decided_ts, decided_by = excluded.decided_by, deactivated_ts = NULL""",
        (
            identity.user_id,
            identity.status,
            identity.level,
            identity.fingerprint,
            identity.name_enc,
            identity.id_number_enc,
            identity.phone_enc,
            identity.provider,
            identity.submitted_ts,
            identity.decided_ts,
            identity.decided_by,
        ),
    )
    return BindOutcome(True, accounts)


def _release_place_txn(txn: LoggingTransaction, fingerprint: str) -> None:
    txn.execute(
        "UPDATE qunzu_identity_accounts SET accounts = accounts - 1 WHERE fingerprint = ? AND accounts > 0",
        (fingerprint,),
    )


_IDENTITY_COLUMNS = (
    "user_id, status, level, fingerprint, name_enc, id_number_enc, phone_enc, provider,"
    " submitted_ts, decided_ts, decided_by, deactivated_ts"
)


def _identity_from_row(row: tuple[object, ...]) -> EncryptedIdentity:
    return EncryptedIdentity(
        user_id=str(row[0]),
        status=row[1],  # type: ignore[arg-type]
        level=int(row[2]),  # type: ignore[call-overload]
        fingerprint=str(row[3]),
        name_enc=str(row[4]),
        id_number_enc=str(row[5]),
        phone_enc=None if row[6] is None else str(row[6]),
        provider=str(row[7]),
        submitted_ts=int(row[8]),  # type: ignore[call-overload]
        decided_ts=None if row[9] is None else int(row[9]),  # type: ignore[call-overload]
        decided_by=None if row[10] is None else str(row[10]),
        deactivated_ts=None if row[11] is None else int(row[11]),  # type: ignore[call-overload]
    )


def _get_identity_txn(txn: LoggingTransaction, user_id: str) -> EncryptedIdentity | None:
    txn.execute(f"SELECT {_IDENTITY_COLUMNS} FROM qunzu_identities WHERE user_id = ?", (user_id,))
    row = txn.fetchone()
    return _identity_from_row(row) if row else None


def _list_pending_txn(txn: LoggingTransaction, limit: int) -> list[EncryptedIdentity]:
    txn.execute(
        f"SELECT {_IDENTITY_COLUMNS} FROM qunzu_identities WHERE status = 'pending' ORDER BY submitted_ts LIMIT ?",
        (limit,),
    )
    return [_identity_from_row(row) for row in txn.fetchall()]


def _decide_identity_txn(
    txn: LoggingTransaction, user_id: str, approve: bool, level: int, actor: str, now_ms: int
) -> bool:
    txn.execute("SELECT fingerprint FROM qunzu_identities WHERE user_id = ? AND status = 'pending'", (user_id,))
    row = txn.fetchone()
    if row is None:
        return False
    if approve:
        txn.execute(
            "UPDATE qunzu_identities SET status = 'verified', level = ?, decided_ts = ?, decided_by = ?"
            " WHERE user_id = ?",
            (level, now_ms, actor, user_id),
        )
    else:
        # PIPL minimum necessary: a rejected submission keeps no personal data.
        _release_place_txn(txn, str(row[0]))
        txn.execute(
            "UPDATE qunzu_identities SET status = 'rejected', level = 0, fingerprint = '', name_enc = '',"
            " id_number_enc = '', phone_enc = NULL, decided_ts = ?, decided_by = ? WHERE user_id = ?",
            (now_ms, actor, user_id),
        )
    return True


def _deactivate_identity_txn(txn: LoggingTransaction, user_id: str, now_ms: int) -> bool:
    txn.execute(
        "SELECT status, fingerprint FROM qunzu_identities WHERE user_id = ? AND deactivated_ts IS NULL", (user_id,)
    )
    row = txn.fetchone()
    if row is None:
        return False
    if row[0] in HOLDS_A_PLACE:
        _release_place_txn(txn, str(row[1]))
    # The row itself stays for the retention period (Art. 13); the purge job removes it later.
    txn.execute("UPDATE qunzu_identities SET deactivated_ts = ? WHERE user_id = ?", (now_ms, user_id))
    return True


def _accounts_with_txn(txn: LoggingTransaction, fingerprint: str) -> int:
    txn.execute("SELECT accounts FROM qunzu_identity_accounts WHERE fingerprint = ?", (fingerprint,))
    row = txn.fetchone()
    return int(row[0]) if row else 0


def _accounts_of_txn(txn: LoggingTransaction, fingerprint: str) -> list[str]:
    txn.execute("SELECT user_id FROM qunzu_identities WHERE fingerprint = ?", (fingerprint,))
    return [str(row[0]) for row in txn.fetchall()]


def _accept_convention_txn(txn: LoggingTransaction, user_id: str, version: str, now_ms: int) -> None:
    txn.execute(
        "INSERT INTO qunzu_conventions (user_id, version, accepted_ts) VALUES (?, ?, ?)"
        " ON CONFLICT (user_id) DO UPDATE SET version = excluded.version, accepted_ts = excluded.accepted_ts",
        (user_id, version, now_ms),
    )


def _create_link_txn(txn: LoggingTransaction, token_hash: str, user_id: str, now_ms: int, expires_ms: int) -> None:
    txn.execute(
        "INSERT INTO qunzu_realname_links (token_hash, user_id, created_ts, expires_ts) VALUES (?, ?, ?, ?)",
        (token_hash, user_id, now_ms, expires_ms),
    )


def _link_owner_txn(txn: LoggingTransaction, token_hash: str, now_ms: int) -> str | None:
    txn.execute(
        "SELECT user_id FROM qunzu_realname_links WHERE token_hash = ? AND used_ts IS NULL AND expires_ts > ?",
        (token_hash, now_ms),
    )
    row = txn.fetchone()
    return str(row[0]) if row else None


def _use_link_txn(txn: LoggingTransaction, token_hash: str, now_ms: int) -> bool:
    txn.execute(
        "UPDATE qunzu_realname_links SET used_ts = ? WHERE token_hash = ? AND used_ts IS NULL AND expires_ts > ?",
        (now_ms, token_hash, now_ms),
    )
    return bool(txn.rowcount == 1)


def _purge_deactivated_txn(txn: LoggingTransaction, before_ms: int, limit: int) -> int:
    # Small batches keep locks short; the job loops until nothing is left.
    txn.execute(
        "SELECT user_id FROM qunzu_identities WHERE deactivated_ts IS NOT NULL AND deactivated_ts < ? LIMIT ?",
        (before_ms, limit),
    )
    users = [str(row[0]) for row in txn.fetchall()]
    for user_id in users:
        txn.execute("DELETE FROM qunzu_identities WHERE user_id = ?", (user_id,))
    return len(users)
