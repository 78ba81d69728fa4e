"""The audit chain catches every kind of tampering with the rows."""

from __future__ import annotations

import pytest

from synapse_module.audit import GENESIS, AuditChain, ChainVerifier, canonical_json

Row = tuple[int, int, str, str, str, str, str, str]
KEY = b"k" * 32


def make_rows(count: int, chain: AuditChain) -> list[Row]:
    rows: list[Row] = []
    prev = GENESIS
    for seq in range(1, count + 1):
        details = canonical_json({"n": seq})
        row_hash = chain.hash_row(seq, 1000 + seq, "@staff:hs", "act", f"!room{seq}", details, prev)
        rows.append((seq, 1000 + seq, "@staff:hs", "act", f"!room{seq}", details, prev, row_hash))
        prev = row_hash
    return rows


def verify(rows: list[Row], head: tuple[int, str], chain: AuditChain) -> tuple[bool, int | None]:
    verifier = ChainVerifier(chain)
    for row in rows:
        if not verifier.feed(row):
            break
    result = verifier.finish(*head)
    return result.ok, result.first_bad


@pytest.fixture
def chain() -> AuditChain:
    return AuditChain(KEY)


def test_untouched_chain_verifies(chain: AuditChain) -> None:
    rows = make_rows(5, chain)
    assert verify(rows, (5, rows[-1][7]), chain) == (True, None)


def test_empty_chain_verifies(chain: AuditChain) -> None:
    assert verify([], (0, GENESIS), chain) == (True, None)


def test_edited_details_are_caught_at_that_row(chain: AuditChain) -> None:
    rows = make_rows(5, chain)
    seq, ts, actor, action, subject, _details, prev, row_hash = rows[2]
    rows[2] = (seq, ts, actor, action, subject, canonical_json({"n": 99}), prev, row_hash)
    assert verify(rows, (5, rows[-1][7]), chain) == (False, 3)


def test_edited_actor_is_caught(chain: AuditChain) -> None:
    rows = make_rows(3, chain)
    row = rows[0]
    rows[0] = (row[0], row[1], "@someone-else:hs", *row[3:])
    assert verify(rows, (3, rows[-1][7]), chain) == (False, 1)


def test_deleted_middle_row_is_caught(chain: AuditChain) -> None:
    rows = make_rows(5, chain)
    del rows[1]
    assert verify(rows, (5, rows[-1][7]), chain) == (False, 3)


def test_deleted_last_row_is_caught_by_the_head(chain: AuditChain) -> None:
    rows = make_rows(5, chain)
    head = (5, rows[-1][7])
    assert verify(rows[:-1], head, chain) == (False, 5)


def test_reordered_rows_are_caught(chain: AuditChain) -> None:
    rows = make_rows(4, chain)
    first, second = rows[1], rows[2]
    # Swap contents but keep the sequence numbers in place.
    rows[1] = (2, *second[1:])
    rows[2] = (3, *first[1:])
    assert verify(rows, (4, rows[-1][7]), chain)[0] is False


def test_a_rebuilt_chain_without_the_key_does_not_verify(chain: AuditChain) -> None:
    forged = make_rows(3, AuditChain(b"x" * 32))
    assert verify(forged, (3, forged[-1][7]), chain) == (False, 1)


def test_canonical_json_is_stable_for_key_order() -> None:
    assert canonical_json({"b": 1, "a": "张"}) == canonical_json({"a": "张", "b": 1}) == '{"a":"张","b":1}'
