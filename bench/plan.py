"""Which scenarios `make bench` runs, with their parameters and targets."""

from __future__ import annotations

from .scale import scale_scenarios
from .scenarios import (
    Scenario,
    content_matcher,
    join_latency,
    report_to_desk,
    retention_purge,
    room_creation,
    send_throughput,
)


def scenarios(quick: bool) -> list[Scenario]:
    # Six rounds: the 2,000-member room's rate moves ±10 % round to round on this kind of machine.
    rounds, seconds = (2, 3) if quick else (6, 8)
    send = {"senders": 4, "seconds": seconds, "rounds": rounds, "min_ratio": 0.95}
    return [
        Scenario(
            "send_500",
            "1. Send throughput, 4 senders, 500-member room",
            send_throughput,
            {"room": "medium", **send},
            "ratio ≥ 0.95",
        ),
        Scenario(
            "send_2000",
            "1. Send throughput, 4 senders, 2,000-member room",
            send_throughput,
            {"room": "large", **send},
            "ratio ≥ 0.95",
        ),
        Scenario(
            "join_2000",
            "2. Join latency, 2,000-member room",
            join_latency,
            {"room": "large", "per_round": 5 if quick else 20, "rounds": 2 if quick else 4, "max_added_ms": 2.0},
            "≤ 2 ms added at p50",
        ),
        Scenario(
            "create_room",
            "3. Room creation latency",
            room_creation,
            {"per_round": 5 if quick else 8, "rounds": 2 if quick else 4, "max_added_ms": 20.0},
            "≤ 20 ms added at p50",
        ),
        Scenario(
            "content_matcher",
            "4. Content matcher, 10,000 terms, 1 KB messages",
            content_matcher,
            {
                "terms": 10_000,
                "messages": 2_000,
                "regex_messages": 50,
                "bytes": 1024,
                "rounds": 3 if quick else 5,
                "seconds": 0.5 if quick else 1.0,
                "min_rate": 20_000,
            },
            "≥ 20,000 messages/s/core",
            servers=False,
        ),
        Scenario(
            "retention_purge",
            "5. Retention purge, 1,000,000 log rows (PostgreSQL)",
            retention_purge,
            {
                "rows": 20_000 if quick else 1_000_000,
                "parts": 2 if quick else 5,
                # Long enough for a part's purge (about a minute for 200,000 rows) and the next
                # window without it.
                "period_seconds": 15 if quick else 120,
                "room": "medium",
                # Inserting a million rows takes about 20 s; sending starts after it either way.
                "insert_seconds": 10 if quick else 60,
                "warmup_seconds": 5 if quick else 90,
                "idle_seconds": 5 if quick else 30,
                "max_p95_ratio": 1.10,
            },
            "send p95 ≤ 1.10× without it, windows alternating; purge time",
        ),
        Scenario(
            "report_to_desk",
            "6. Bot: report → ticket in the moderation room, 50 reports/min",
            report_to_desk,
            # 10 reporters per way in: the module allows 20 reports per reporter an hour.
            {
                "per_minute": 50,
                "seconds": 30 if quick else 120,
                "reporters": 3 if quick else 10,
                "drain_seconds": 60,
                "max_button_p95_ms": 2000,
            },
            "report button p95 ≤ 2 s",
        ),
        *scale_scenarios(quick, send),
    ]
