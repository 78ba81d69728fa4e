"""What measures mean for one account or room right now: read on every event (the hot path).

Two cluster-wide caches (`user_state`, `room_state`) hold end times, compared
with the clock on read: a measure ends by itself, no job is needed for that;
credit recovery is computed on read too. Every change invalidates them on every
process (`invalidate`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from synapse.module_api import ModuleApi

from policies import Measure, Policy
from policies.credit import CreditRow, current
from policies.timing import end_in_force

from ..cache import ClusterCache, InvalidatableCache
from ..clock import Clock
from ..store.identities import GateRecord, IdentityStore
from ..store.measures import MeasureEnds, MeasureStore, Sanction

# The identity record of an account (realname's cached gate record).
IdentityOf = Callable[[str], Awaitable[GateRecord]]


@dataclass(frozen=True)
class UserSanctionState:
    """What measures mean for one account right now (credit follows the identity).

    Attributes:
        credit_score: the identity's score with recovery applied; None while unverified.
        muted_until_ms: end of a server-wide mute; None none, PERMANENT no end.
        creation_revoked: the right to create rooms is revoked (取消建群资格).
        admin_suspended: admin rights are suspended (暂停管理权限).
        admin_suspended_until_ms: when that ends (PERMANENT: no end).
        creation_revoked_until_ms: when the revocation ends (PERMANENT: no end).
    """

    credit_score: int | None
    muted_until_ms: int | None
    creation_revoked: bool
    admin_suspended: bool
    admin_suspended_until_ms: int | None = None
    creation_revoked_until_ms: int | None = None


@dataclass(frozen=True)
class RoomSanctionState:
    """What measures mean for one room right now.

    Attributes:
        closed: closed (关闭群组) or on the blacklist: nobody joins, posts or is invited.
        posting_suspended_until_ms: end of a posting suspension (暂停发布); None none, PERMANENT no end.
        warning_until_ms: rectification deadline of an active warning (警示整改), None none.
    """

    closed: bool
    posting_suspended_until_ms: int | None
    warning_until_ms: int | None


@dataclass(frozen=True)
class UserRecord:
    """One account's cached measures and the identity (and credit) they were read for."""

    fingerprint: str | None
    verified: bool
    credit: CreditRow | None
    ends: MeasureEnds


def _active_end(ends: MeasureEnds, measure: str, now_ms: int) -> int | None:
    return end_in_force(ends.ends.get(measure), now_ms)


class SanctionState:
    """Reads and invalidates the cached measures of accounts and rooms."""

    def __init__(
        self,
        api: ModuleApi,
        clock: Clock,
        policy: Policy,
        store: MeasureStore,
        identities: IdentityStore,
        gate: InvalidatableCache[str, GateRecord],
    ) -> None:
        self._clock = clock
        self._policy = policy
        self._store = store
        self._identities = identities
        # Realname's cached gate records: which identity (and so which credit) an account has.
        self._gate = gate
        # Told on every process when an account's cached measures are dropped (the admin guard looks).
        self.on_account_changed: list[Callable[[str], None]] = []
        # Told when a room admin's mute changed (the posting gate caches those per room and user).
        self.on_room_mute_changed: list[Callable[[str, str, str | None], Awaitable[None]]] = []
        self._users: ClusterCache[str, UserRecord] = ClusterCache(
            api, "qunzu_user_sanctions", self._load_user, on_invalidate=self._account_changed
        )
        self._rooms: ClusterCache[str, MeasureEnds] = ClusterCache(api, "qunzu_room_sanctions", store.room_ends)

    def _account_changed(self, user_id: str) -> None:
        for hook in self.on_account_changed:
            hook(user_id)

    async def _load_user(self, user_id: str) -> UserRecord:
        if user_id in self._gate:
            gate = await self._gate.get(user_id)
            credit, ends = await self._store.user_credit_and_ends(user_id, gate.fingerprint)
        else:
            # An account nothing is cached of (a first join, say) waits for one round trip, not two,
            # and its gate record is kept as if read on its own.
            as_of = self._gate.generation
            gate, credit, ends = await self._store.user_gate_credit_and_ends(user_id)
            self._gate.put(user_id, gate, as_of=as_of)
        verified = gate.status == "verified" and gate.fingerprint is not None
        return UserRecord(gate.fingerprint, verified, credit if verified else None, ends)

    async def user_record(self, user_id: str) -> UserRecord:
        """The account's cached record, re-read when its identity changed since it was cached."""
        record = await self._users.get(user_id)
        gate = await self._gate.get(user_id)
        if record.fingerprint != gate.fingerprint or record.verified != (gate.status == "verified"):
            # Verified (or re-bound) since the record was cached: the identity decides credit.
            self._users.invalidate((user_id,))
            record = await self._users.get(user_id)
        return record

    async def user_state(self, user_id: str) -> UserSanctionState:
        """The account's credit and active measures (cached; computed against the clock)."""
        record = await self.user_record(user_id)
        now = self._clock.now_ms()
        admin_end = _active_end(record.ends, Measure.ADMIN_SUSPENSION, now)
        revoked_end = _active_end(record.ends, Measure.CREATION_REVOKED, now)
        return UserSanctionState(
            credit_score=current(record.credit, now, self._policy).score if record.verified else None,
            muted_until_ms=_active_end(record.ends, Measure.MUTE, now),
            creation_revoked=revoked_end is not None,
            admin_suspended=admin_end is not None,
            admin_suspended_until_ms=admin_end,
            creation_revoked_until_ms=revoked_end,
        )

    async def room_state(self, room_id: str) -> RoomSanctionState:
        """The room's active measures (cached; computed against the clock)."""
        ends = await self._rooms.get(room_id)
        now = self._clock.now_ms()
        return RoomSanctionState(
            closed=_active_end(ends, Measure.CLOSURE, now) is not None,
            posting_suspended_until_ms=_active_end(ends, Measure.POSTING_SUSPENSION, now),
            warning_until_ms=_active_end(ends, Measure.WARNING, now),
        )

    async def invalidate(self, sanction: Sanction | None, credit_fingerprint: str | None = None) -> None:
        """Drop, on every process, what `sanction` and a credit change of `credit_fingerprint` touched."""
        users: set[str] = set()
        if sanction is not None and sanction.subject_type == "room":
            await self._rooms.invalidate_everywhere(sanction.subject)
        elif sanction is not None:
            users.add(sanction.subject)
            if sanction.fingerprint:
                users.update(await self._identities.accounts_of(sanction.fingerprint))
            if sanction.room_id is not None:
                # A room admin's mute ('room_member'): the posting gate caches it per room and user.
                for hook in self.on_room_mute_changed:
                    await hook(sanction.room_id, sanction.subject, sanction.fingerprint)
        if sanction is not None and sanction.credit_user:
            users.add(sanction.credit_user)
        if credit_fingerprint:
            users.update(await self._identities.accounts_of(credit_fingerprint))
        for user in users:
            await self._users.invalidate_everywhere(user)

    async def invalidate_room(self, room_id: str) -> None:
        """Drop a room's cached measures everywhere (its blacklist entry changed, say)."""
        await self._rooms.invalidate_everywhere(room_id)
