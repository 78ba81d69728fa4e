"""The measures store's transactions (store/measures.py) on plain SQLite and PostgreSQL, without Synapse.

A measure, its credit change, its audit rows and its regulator report commit
together or not at all; an overturned measure gives its credit back in the
lift's own transaction; a room admin's mute is written with the same column
list as every measure and is in force by the same predicate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest
from synapse.module_api import LoggingTransaction

from policies import Policy, default_policy
from policies.constants import DAY_MS
from policies.credit import current
from synapse_module.audit import AuditChain
from synapse_module.store.audit import AuditRecord
from synapse_module.store.credit import CreditCharge, _adjust_credit_txn, credit_row_txn
from synapse_module.store.measures import (
    ROOM_MEMBER,
    Sanction,
    _add_room_mute_txn,
    _apply_txn,
    _get_txn,
    _lift_room_mutes_txn,
    _lift_txn,
    _room_mute_end_txn,
    _user_credit_and_ends_txn,
    room_mute,
)
from synapse_module.store.regulator_reports import RegulatorReport
from tests.module.harness import NOW, Database

CHAIN = AuditChain(b"k" * 32)
POLICY: Policy = default_policy()
ACTOR = "@staff:localhost"
USER = "@u:localhost"
FINGERPRINT = "fp-u"


def _txn(txn: Any) -> LoggingTransaction:
    return cast(LoggingTransaction, txn)


def _mute_sanction(sanction_id: str = "sn_1", delta: int = -10) -> Sanction:
    return Sanction(
        id=sanction_id,
        subject_type="user",
        subject=USER,
        room_id=None,
        fingerprint=FINGERPRINT,
        measure="mute",
        ladder="member",
        category="spam",
        reason="flooding",
        evidence=({"event_id": "$e", "content_sha256": "ab"},),
        ticket_id="tk_1",
        actor=ACTOR,
        start_ts=NOW,
        end_ts=NOW + 3600_000,
        credit_delta=delta,
        credit_user=USER,
    )


def _charge(sanction_id: str = "sn_1", delta: int = -10) -> CreditCharge:
    return CreditCharge(f"{sanction_id}.credit", FINGERPRINT, USER, delta, "mute: flooding")


def _report(sanction_id: str = "sn_1") -> RegulatorReport:
    return RegulatorReport(
        "rr_1", NOW, "severe_measure", "user", USER, sanction_id, None, "spam", "mute", [], "basis", ACTOR
    )


def _audit(sanction_id: str = "sn_1") -> AuditRecord:
    return AuditRecord(ACTOR, "sanction.apply", USER, {"id": sanction_id})


def _rows_txn(txn: Any, sql: str) -> list[tuple[Any, ...]]:
    txn.execute(sql)
    return [tuple(row) for row in txn.fetchall()]


def _rows(db: Database, sql: str) -> list[tuple[Any, ...]]:
    return db.run(_rows_txn, sql)


def _apply(txn: Any, also: Callable[[LoggingTransaction, str], None] | None = None) -> Any:
    return _apply_txn(_txn(txn), CHAIN, POLICY, _mute_sanction(), _charge(), [_audit()], _report(), also)


def test_a_measure_its_credit_change_audit_rows_and_report_commit_together(db: Database) -> None:
    outcome = db.run(_apply)

    assert outcome.credit is not None
    assert (outcome.credit.before, outcome.credit.after) == (POLICY.credit.initial, POLICY.credit.initial - 10)
    stored = db.run(lambda txn: _get_txn(_txn(txn), "sn_1"))
    assert stored == _mute_sanction()
    assert _rows(db, "SELECT score FROM qunzu_credit WHERE fingerprint = 'fp-u'") == [(POLICY.credit.initial - 10,)]
    assert _rows(db, "SELECT id, sanction_id, delta FROM qunzu_credit_changes") == [("sn_1.credit", "sn_1", -10)]
    # The measure's own row first, then the credit change's: the order the log reads.
    actions = _rows(db, "SELECT action, subject FROM qunzu_audit ORDER BY seq")
    assert actions[-2:] == [("sanction.apply", USER), ("credit.change", USER)]
    assert _rows(db, "SELECT id, sanction_id FROM qunzu_regulator_reports") == [("rr_1", "sn_1")]
    credit, ends = db.run(lambda txn: _user_credit_and_ends_txn(_txn(txn), USER, FINGERPRINT, NOW + 1))
    assert credit is not None and credit.score == POLICY.credit.initial - 10
    assert dict(ends.ends) == {"mute": NOW + 3600_000}


def test_a_step_that_fails_in_the_measures_transaction_leaves_nothing(db: Database) -> None:
    audit_rows = len(_rows(db, "SELECT seq FROM qunzu_audit"))

    def closing(txn: LoggingTransaction, sanction_id: str) -> None:
        raise LookupError(f"ticket closed already (measure {sanction_id})")

    with pytest.raises(LookupError):
        db.run(_apply, closing)

    assert _rows(db, "SELECT id FROM qunzu_sanctions") == []
    assert _rows(db, "SELECT id FROM qunzu_credit_changes") == []
    assert _rows(db, "SELECT fingerprint FROM qunzu_credit") == []
    assert _rows(db, "SELECT id FROM qunzu_regulator_reports") == []
    assert len(_rows(db, "SELECT seq FROM qunzu_audit")) == audit_rows


def test_an_overturned_measure_gives_its_credit_back_in_the_lifts_transaction(db: Database) -> None:
    db.run(_apply)
    lift_audit = AuditRecord(ACTOR, "sanction.lift", "sn_1", {"id": "sn_1", "overturned": True})

    lifted = db.run(lambda txn: _lift_txn(_txn(txn), CHAIN, POLICY, "sn_1", ACTOR, "wrong", True, lift_audit, NOW + 5))
    again = db.run(lambda txn: _lift_txn(_txn(txn), CHAIN, POLICY, "sn_1", ACTOR, "wrong", True, lift_audit, NOW + 6))

    assert lifted is not None and lifted.id == "sn_1"
    assert again is None  # lifted once: no second refund
    assert _rows(db, "SELECT score FROM qunzu_credit WHERE fingerprint = 'fp-u'") == [(POLICY.credit.initial,)]
    changes = _rows(db, "SELECT id, delta FROM qunzu_credit_changes ORDER BY ts, id")
    assert changes == [("sn_1.credit", -10), ("sn_1.restore", 10)]
    actions = [row[0] for row in _rows(db, "SELECT action FROM qunzu_audit ORDER BY seq")]
    assert actions[-2:] == ["sanction.lift", "credit.change"]
    stored = db.run(lambda txn: _get_txn(_txn(txn), "sn_1"))
    assert stored is not None and stored.overturned and not stored.active(NOW + 7)
    _credit, ends = db.run(lambda txn: _user_credit_and_ends_txn(_txn(txn), USER, FINGERPRINT, NOW + 7))
    assert dict(ends.ends) == {}


def test_a_staff_adjustment_stores_the_change_and_both_audit_rows(db: Database) -> None:
    charge = CreditCharge("cr_1", FINGERPRINT, USER, 15, "helped")
    audit = AuditRecord(ACTOR, "credit.adjust", USER, {"id": "cr_1", "requested_delta": 15})

    change = db.run(lambda txn: _adjust_credit_txn(_txn(txn), CHAIN, POLICY, charge, ACTOR, audit, NOW))

    assert (change.before, change.after) == (POLICY.credit.initial, min(POLICY.credit.max, POLICY.credit.initial + 15))
    assert _rows(db, "SELECT id, sanction_id FROM qunzu_credit_changes") == [("cr_1", None)]
    actions = [row[0] for row in _rows(db, "SELECT action FROM qunzu_audit ORDER BY seq")]
    assert actions[-2:] == ["credit.adjust", "credit.change"]


def test_a_room_mute_is_a_measure_row_in_force_by_the_same_predicate(db: Database) -> None:
    mute = room_mute("rm_1", "!r:localhost", USER, FINGERPRINT, ACTOR, "noise", NOW, NOW + 1000)
    audit = AuditRecord(ACTOR, "room.mute", "!r:localhost", {"target": USER})

    db.run(lambda txn: _add_room_mute_txn(_txn(txn), CHAIN, mute, audit))

    stored = db.run(lambda txn: _get_txn(_txn(txn), "rm_1"))
    assert stored == mute
    assert stored is not None and stored.subject_type == ROOM_MEMBER and stored.notified_ts == NOW
    # Another account of the same identity is muted in that room too; it ends by itself.
    end = db.run(lambda txn: _room_mute_end_txn(_txn(txn), "!r:localhost", "@other:localhost", FINGERPRINT, NOW + 1))
    assert end == NOW + 1000
    assert db.run(lambda txn: _room_mute_end_txn(_txn(txn), "!r:localhost", USER, FINGERPRINT, NOW + 1000)) is None
    # Never a server-wide mute.
    _credit, ends = db.run(lambda txn: _user_credit_and_ends_txn(_txn(txn), USER, FINGERPRINT, NOW + 1))
    assert dict(ends.ends) == {}
    unmute = AuditRecord(ACTOR, "room.unmute", "!r:localhost", {"target": USER})
    lifted = db.run(
        lambda txn: _lift_room_mutes_txn(
            _txn(txn), CHAIN, "!r:localhost", USER, FINGERPRINT, ACTOR, "ok", unmute, NOW + 2
        )
    )
    assert lifted == 1
    assert db.run(lambda txn: _room_mute_end_txn(_txn(txn), "!r:localhost", USER, FINGERPRINT, NOW + 3)) is None
    details = _rows(db, "SELECT action, details FROM qunzu_audit ORDER BY seq")[-2:]
    assert [action for action, _ in details] == ["room.mute", "room.unmute"]
    assert '"id":"rm_1"' in details[0][1] and '"lifted":1' in details[1][1]


def _verified_identity_txn(txn: Any, user_id: str, fingerprint: str, decided_ts: int) -> None:
    txn.execute(
        "INSERT INTO qunzu_identities (user_id, status, level, fingerprint, name_enc, id_number_enc, provider,"
        " submitted_ts, decided_ts) VALUES (?, 'verified', 1, ?, 'x', 'x', 'checksum', ?, ?)",
        (user_id, fingerprint, decided_ts, decided_ts),
    )


def test_a_verified_identity_without_a_score_recovers_from_its_verification(db: Database) -> None:
    assert db.run(credit_row_txn, FINGERPRINT) is None  # not verified: no score and no recovery
    db.run(_verified_identity_txn, USER, FINGERPRINT, NOW - 70 * DAY_MS)
    db.run(_verified_identity_txn, "@second:localhost", FINGERPRINT, NOW - 7 * DAY_MS)
    row = db.run(credit_row_txn, FINGERPRINT)
    # Counted from the identity's first verification, whichever account it was.
    assert current(row, NOW, POLICY).score == POLICY.credit.initial + 10

    charge = CreditCharge("cr_2", FINGERPRINT, USER, -20, "a finding of staff")
    audit = AuditRecord(ACTOR, "credit.adjust", USER, {"id": "cr_2", "requested_delta": -20})
    change = db.run(lambda txn: _adjust_credit_txn(_txn(txn), CHAIN, POLICY, charge, ACTOR, audit, NOW))
    assert (change.before, change.after) == (110, 90)
