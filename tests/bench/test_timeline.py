"""`python -m bench.timeline`: each join request's steps and the time between them, read from the log."""

from __future__ import annotations

import pytest

from bench.timeline import gap_table, gaps, join_requests, main

LOG = """\
2026-12-06 01:00:00,000 synapse.storage.txn DEBUG POST-7 [TXN START] {get_ratelimit_for_user-3a}
2026-12-06 01:00:00,002 synapse.storage.txn DEBUG POST-7 [TXN END] {get_ratelimit_for_user-3a} 0.001 sec
2026-12-06 01:00:00,003 synapse.storage.txn DEBUG qunzu_jobs-2 [TXN START] {qunzu_last_job_run-3b}
2026-12-06 01:00:00,005 synapse.storage.txn DEBUG POST-7 [TXN START] {get_ratelimit_for_user-3c}
2026-12-06 01:00:00,012 synapse.access.http.8008 INFO POST-7 Processed request: 0.012sec POST /_matrix/client/v3/join/!r
2026-12-06 01:00:00,020 synapse.storage.txn DEBUG POST-8 [TXN START] {get_users_in_room-3d}
2026-12-06 01:00:00,030 synapse.access.http.8008 INFO POST-8 Processed request: 0.01s POST /_matrix/client/v3/createRoom
"""


def test_only_finished_join_requests_are_read() -> None:
    assert join_requests(LOG) == {"POST-7"}


def test_each_gap_is_named_by_its_two_lines_with_repeats_numbered_and_counters_dropped() -> None:
    found = gaps(LOG, {"POST-7"})
    start = "[TXN START] {get_ratelimit_for_user}"
    assert found == {
        ("(first line)", start): [0.0],
        (start, "[TXN END] {get_ratelimit_for_user}"): [2.0],
        ("[TXN END] {get_ratelimit_for_user}", f"{start} #2"): [3.0],
        (f"{start} #2", "(answered)"): [7.0],
    }


def test_the_table_weights_a_gap_by_how_many_requests_have_it_largest_difference_first() -> None:
    vanilla = {("a", "b"): [2.0, 2.0], ("b", "c"): [1.0, 1.0]}
    qunzu = {("a", "b"): [7.0, 9.0], ("b", "c"): [1.0, 1.0], ("b", "qunzu"): [2.0]}
    lines = gap_table(vanilla, qunzu, requests=2, rows=10).splitlines()
    assert lines[1].split() == ["+6.0", "2.0", "8.0", "a", "→", "b"]
    # Only one of two requests has it: half its median.
    assert lines[2].split() == ["+1.0", "0.0", "1.0", "b", "→", "qunzu"]
    assert lines[3].split()[0] == "+0.0"


def test_a_count_out_of_range_is_refused_before_any_server_starts(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--count", "0"])
    assert exited.value.code == 2
    assert "1 to 200" in capsys.readouterr().err
