"""The hot-path sanction state (sanctions/state.py) over the real store on SQLite and PostgreSQL, with a movable clock.

No Synapse: a stand-in module API runs the store's transactions on the test
database and invalidates the caches as Synapse's replication would. What is
shown: a cached measure ends by itself when the clock passes its end (no job,
no invalidation), credit recovers on read, and a change reaches the cache only
through `invalidate`, which also tells the admin guard's and room mutes' hooks.
"""

from __future__ import annotations

from typing import Any, cast

from synapse.module_api import ModuleApi

from policies import Policy, default_policy
from policies.constants import DAY_MS, HOUR_MS
from synapse_module.audit import AuditChain
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

    def register_cached_function(self, cache: Any) -> None:
        pass

    async def invalidate_cache(self, cache: Any, keys: tuple[Any, ...]) -> None:
        cache.invalidate(keys)

    async def run_db_interaction(self, desc: str, func: Any, *args: Any) -> Any:
        self.reads += 1
        return self._db.run(func, *args)


async def _verified(user_id: str) -> GateRecord:
    return GateRecord("verified", 2, FINGERPRINT, None, None)


def _state(database: Database) -> tuple[SanctionState, MeasureStore, MovableClock, StandInApi]:
    stand_in = StandInApi(database)
    api = cast(ModuleApi, stand_in)
    clock = MovableClock()
    store = MeasureStore(api, clock, AuditChain(b"k" * 32))
    state = SanctionState(api, clock, POLICY, store, IdentityStore(api, clock), _verified)
    return state, store, clock, stand_in


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
