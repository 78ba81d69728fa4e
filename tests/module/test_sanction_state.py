"""The hot-path sanction state (sanctions/state.py) over the real store on SQLite and PostgreSQL, with a movable clock.

No Synapse: a stand-in module API runs the store's transactions on the test
database and invalidates the caches as Synapse's replication would. What is
shown: a cached measure ends by itself when the clock passes its end (no job,
no invalidation), credit recovers on read, a change reaches the cache only
through `invalidate`, which also tells the admin guard's and room mutes' hooks,
and an account nothing is cached of costs one read, gate record included.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from synapse.module_api import ModuleApi

from policies import Policy, default_policy
from policies.constants import DAY_MS, HOUR_MS
from synapse_module.audit import AuditChain
from synapse_module.cache import InvalidatableCache
from synapse_module.sanctions.state import SanctionState
from synapse_module.store.audit import AuditRecord
from synapse_module.store.credit import CreditCharge
from synapse_module.store.identities import GateRecord, IdentityStore
from synapse_module.store.measures import MeasureStore, Sanction, room_mute
from tests.module.harness import NOW, Database

POLICY: Policy = default_policy()
USER = "@u:localhost"
FINGERPRINT = "fp-u"


class MovableClock:
    def __init__(self) -> None:
        self.now = NOW

    def now_ms(self) -> int:
        return self.now


class StandInApi:
    """What the state and its store use of Synapse's ModuleApi."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self.reads = 0
        # Runs inside the next read: another process's change arriving while it is under way.
        self.meanwhile: Callable[[], None] | None = None

    def register_cached_function(self, cache: Any) -> None:
        pass

    async def invalidate_cache(self, cache: Any, keys: tuple[Any, ...]) -> None:
        cache.invalidate(keys)

    async def run_db_interaction(self, desc: str, func: Any, *args: Any) -> Any:
        self.reads += 1
        result = self._db.run(func, *args)
        if self.meanwhile is not None:
            self.meanwhile()
            self.meanwhile = None
        return result


VERIFIED = GateRecord("verified", 2, FINGERPRINT, None, None)


async def _verified(user_id: str) -> GateRecord:
    return VERIFIED


def _state(database: Database) -> tuple[SanctionState, MeasureStore, MovableClock, StandInApi]:
    """The state over a gate cache that already holds `USER` as verified (realname's part is not shown)."""
    stand_in = StandInApi(database)
    api = cast(ModuleApi, stand_in)
    clock = MovableClock()
    store = MeasureStore(api, clock, AuditChain(b"k" * 32))
    gate: InvalidatableCache[str, GateRecord] = InvalidatableCache("gate", _verified)
    gate.put(USER, VERIFIED, as_of=gate.generation)
    state = SanctionState(api, clock, POLICY, store, IdentityStore(api, clock), gate)
    return state, store, clock, stand_in


def _verified_identity_txn(txn: Any, user_id: str, fingerprint: str) -> None:
    txn.execute(
        "INSERT INTO qunzu_identities (user_id, status, level, fingerprint, name_enc, id_number_enc, provider,"
        " submitted_ts, decided_ts) VALUES (?, 'verified', 2, ?, 'x', 'x', 'checksum', ?, ?)",
        (user_id, fingerprint, NOW, NOW),
    )


def _mute(now_ms: int, end_ts: int | None) -> Sanction:
    return Sanction(
        id="sn_1",
        subject_type="user",
        subject=USER,
        room_id=None,
        fingerprint=FINGERPRINT,
        measure="mute",
        ladder="member",
        category=None,
        reason="flooding",
        evidence=(),
        ticket_id=None,
        actor="@staff:localhost",
        start_ts=now_ms,
        end_ts=end_ts,
        credit_delta=-10,
        credit_user=USER,
    )


async def test_a_cached_mute_ends_by_itself_and_credit_recovers_as_the_clock_moves(db: Database) -> None:
    state, store, clock, api = _state(db)
    assert (await state.user_state(USER)).muted_until_ms is None
    mute = _mute(NOW, NOW + HOUR_MS)
    charge = CreditCharge("sn_1.credit", FINGERPRINT, USER, -10, "mute: flooding")
    await store.apply(POLICY, mute, charge, [AuditRecord("@staff:localhost", "sanction.apply", USER, {})], None)

    # Cached before the measure: only the invalidation brings the change in.
    assert (await state.user_state(USER)).muted_until_ms is None
    await state.invalidate(mute, FINGERPRINT)
    muted = await state.user_state(USER)
    assert muted.muted_until_ms == NOW + HOUR_MS
    assert muted.credit_score == POLICY.credit.initial - 10

    reads = api.reads
    clock.now = NOW + HOUR_MS
    ended = await state.user_state(USER)
    assert ended.muted_until_ms is None
    clock.now = NOW + POLICY.credit.recovery.every_days * DAY_MS
    recovered = await state.user_state(USER)
    assert recovered.credit_score == POLICY.credit.initial - 10 + POLICY.credit.recovery.points
    assert api.reads == reads  # from the cache: no job and no read ended the mute or recovered the score


async def test_invalidating_a_room_mute_tells_the_posting_gate_and_never_mutes_server_wide(db: Database) -> None:
    state, store, _clock, _api = _state(db)
    told: list[tuple[str, str, str | None]] = []
    changed: list[str] = []

    async def mute_changed(room_id: str, user_id: str, fingerprint: str | None) -> None:
        told.append((room_id, user_id, fingerprint))

    state.on_room_mute_changed.append(mute_changed)
    state.on_account_changed.append(changed.append)
    audit = AuditRecord("@admin:localhost", "room.mute", "!r:localhost", {})
    mute_id = await store.add_room_mute("!r:localhost", USER, FINGERPRINT, "@admin:localhost", "noise", None, audit)
    mute = room_mute(mute_id, "!r:localhost", USER, FINGERPRINT, "@admin:localhost", "noise", NOW, None)

    await state.invalidate(mute)

    assert told == [("!r:localhost", USER, FINGERPRINT)]
    assert changed == [USER]  # the admin guard hears of every dropped account
    assert (await state.user_state(USER)).muted_until_ms is None
    assert await store.room_mute_end("!r:localhost", USER, FINGERPRINT) == -1


async def test_an_account_nothing_is_cached_of_costs_one_read_and_its_gate_record_is_kept(db: Database) -> None:
    stand_in = StandInApi(db)
    api = cast(ModuleApi, stand_in)
    clock = MovableClock()
    identities = IdentityStore(api, clock)
    gate: InvalidatableCache[str, GateRecord] = InvalidatableCache("gate", identities.gate_record)
    store = MeasureStore(api, clock, AuditChain(b"k" * 32))
    state = SanctionState(api, clock, POLICY, store, identities, gate)
    db.run(_verified_identity_txn, USER, FINGERPRINT)
    charge = CreditCharge("sn_1.credit", FINGERPRINT, USER, -10, "mute: flooding")
    await store.apply(POLICY, _mute(NOW, NOW + HOUR_MS), charge, [AuditRecord("@s:localhost", "x", USER, {})], None)

    reads = stand_in.reads
    first = await state.user_state(USER)
    # The gate record, the identity's credit and the account's measures: one round trip.
    assert stand_in.reads == reads + 1
    assert first.muted_until_ms == NOW + HOUR_MS
    assert first.credit_score == POLICY.credit.initial - 10
    assert await gate.get(USER) == GateRecord("verified", 2, FINGERPRINT, None, None)
    assert stand_in.reads == reads + 1  # the gate record came with that read

    # A change on another process while the read is under way: what was read may predate it,
    # so the gate record is not kept from it but read again on its own.
    other = "@other:localhost"
    db.run(_verified_identity_txn, other, "fp-other")
    reads = stand_in.reads
    stand_in.meanwhile = lambda: gate.invalidate((other,))
    assert (await state.user_state(other)).credit_score == POLICY.credit.initial
    assert stand_in.reads == reads + 2
    assert (await gate.get(other)).fingerprint == "fp-other"
    assert stand_in.reads == reads + 2
