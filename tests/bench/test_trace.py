"""`python -m bench.trace`: the transactions of a request read from Synapse's DEBUG log."""

from __future__ import annotations

from bench.trace import difference_table, per_request, request_transactions

LOG = """\
2026-12-05 22:11:48,001 synapse.storage.txn DEBUG PUT-7 [TXN START] {get_users_in_room-3a}
2026-12-05 22:11:48,002 synapse.storage.txn DEBUG PUT-7 [TXN START] {qunzu_room_mute_end-3b}
2026-12-05 22:11:48,003 synapse.storage.txn DEBUG qunzu_jobs-2 [TXN START] {qunzu_last_job_run-3c}
2026-12-05 22:11:48,004 synapse.storage.txn DEBUG POST-8 [TXN START] {qunzu_room_counts-3d}
2026-12-05 22:11:48,005 synapse.storage.txn DEBUG PUT-9 [TXN START] {get_users_in_room-3e}
2026-12-05 22:11:48,006 synapse.access.http.8008 INFO PUT-9 Processed request: 0.010sec PUT /send
"""


def test_only_the_transactions_of_the_requests_asked_for_are_counted_by_name() -> None:
    counts = request_transactions(LOG, ["PUT"])
    # The per-process counter after the name is not part of it; a background job's and a POST's are left out.
    assert counts == {"get_users_in_room": 2, "qunzu_room_mute_end": 1}
    assert request_transactions(LOG, ["POST"]) == {"qunzu_room_counts": 1}


def test_what_also_runs_while_idle_is_taken_off_before_dividing() -> None:
    result = per_request({"get_users_in_room": 20, "background_updates": 2}, {"background_updates": 2}, 10)
    assert result == {"get_users_in_room": 2.0, "background_updates": 0.0}


def test_the_table_puts_the_totals_first_and_the_largest_difference_next() -> None:
    table = difference_table({"a": 1.0, "b": 2.0}, {"a": 1.0, "b": 2.0, "qunzu_room_counts": 1.0, "c": 0.5})
    lines = table.splitlines()
    assert lines[1].split() == ["4.50", "3.00", "(all)"]
    assert lines[2].split() == ["1.00", "0.00", "qunzu_room_counts"]
    assert lines[3].split() == ["0.50", "0.00", "c"]
    assert len(lines) == 4  # rows without a difference are left out
