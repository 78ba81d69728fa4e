"""The blacklist (黑名单, Art. 11): adding and lifting entries, and who they cover.

A user entry also covers the identity behind the account (if verified), so
every account that identity verifies is blocked and it cannot verify a new
one. An identity entry is keyed by the keyed fingerprint of the ID number:
the number itself is never stored.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from policies import InvalidIdentity, Reason
from policies.api import BlacklistEntryList
from policies.constants import SubjectType
from policies.identity import validate_id_number

from .crypto import identity_fingerprint
from .errors import Refusal
from .realname import china_today
from .store.blacklist import BlacklistEntry

if TYPE_CHECKING:
    from .cache import ClusterCache
    from .clock import Clock
    from .store import QunzuStore
    from .store.identities import GateRecord


class Blacklist:
    def __init__(self, clock: Clock, key: bytes, store: QunzuStore, *, gate: ClusterCache[str, GateRecord]) -> None:
        """`gate` is the posting gate's cache of identity records (`RealnameService.gate`)."""
        self._clock = clock
        self._key = key
        self._store = store.blacklist
        self._identities = store.identities
        self._audit = store.audit
        self._gate = gate
        # Told of every new and every lifted entry (sanctions/blacklist_consequences.py).
        self.on_added: list[Callable[[BlacklistEntry], Awaitable[None]]] = []
        self.on_lifted: list[Callable[[BlacklistEntry], Awaitable[None]]] = []

    async def add(
        self,
        actor: str,
        subject_type: SubjectType,
        subject: str,
        reason: str,
        until_ms: int | None,
        entry_id: str | None = None,
    ) -> BlacklistEntry:
        """Blacklist a user, a room or an identity (given as the ID number, stored as a fingerprint).

        `entry_id` is given when the entry is the effect of a sanction (the same id), so
        lifting the sanction lifts the entry. Every entry is reported to the regulator,
        published to the policy list, and a room's owner and admins are reviewed
        (synapse_module/sanctions/blacklist_consequences.py).
        """
        fingerprint: str | None = None
        shown_subject = subject
        if subject_type == "identity":
            try:
                number = validate_id_number(subject, china_today(self._clock.now_ms()))
            except InvalidIdentity as exc:
                raise Refusal(Reason.INVALID_IDENTITY, {"field": exc.field, "problem": exc.problem}) from None
            fingerprint = identity_fingerprint(self._key, number)
            shown_subject = f"identity:{fingerprint[:16]}"
        elif subject_type == "user":
            record = await self._identities.gate_record(subject)
            fingerprint = record.fingerprint
        entry_id = entry_id or "bl_" + secrets.token_hex(8)
        entry = await self._store.add(entry_id, subject_type, shown_subject, fingerprint, reason, actor, until_ms)
        await self._audit.append(
            actor,
            "blacklist.add",
            shown_subject,
            {"id": entry_id, "type": subject_type, "until": until_ms, "covers_identity": fingerprint is not None},
        )
        await self._invalidate(subject if subject_type == "user" else None, fingerprint)
        for hook in self.on_added:
            await hook(entry)
        return entry

    async def lift(self, actor: str, entry_id: str, reason: str) -> bool:
        found = await self._store.get(entry_id)
        if found is None or not await self._store.lift(entry_id, actor, reason):
            return False
        entry, fingerprint = found
        await self._audit.append(actor, "blacklist.lift", entry.subject, {"id": entry_id})
        await self._invalidate(entry.subject if entry.subject_type == "user" else None, fingerprint)
        for hook in self.on_lifted:
            await hook(entry)
        return True

    async def entry(self, entry_id: str) -> BlacklistEntry | None:
        """One entry, active or lifted."""
        found = await self._store.get(entry_id)
        return None if found is None else found[0]

    async def list(self, active_only: bool, limit: int) -> BlacklistEntryList:
        now = self._clock.now_ms()
        return BlacklistEntryList(entries=[entry.record(now) for entry in await self._store.list(active_only, limit)])

    async def _invalidate(self, user_id: str | None, fingerprint: str | None) -> None:
        users = set(await self._identities.accounts_of(fingerprint)) if fingerprint else set()
        if user_id:
            users.add(user_id)
        for user in users:
            await self._gate.invalidate_everywhere(user)
