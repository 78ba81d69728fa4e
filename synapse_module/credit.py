"""Credit scores of verified people (信用等级, Art. 7): the arithmetic, pure.

A score is stored as it stood at an *anchor* time; recovery since the anchor
(``credit.recovery.points`` per ``credit.recovery.every_days`` without a
violation) is computed whenever the score is read, so no job can miss a day
and a restart changes nothing. Recovery restores: it never lifts a score above
``credit.initial`` (higher scores are earned by staff adjustments only), and it
never lowers one.
"""

from __future__ import annotations

from dataclasses import dataclass

from policies import Policy

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class CreditRow:
    """The stored score of one identity: the score at ``anchor_ts`` (``None``: no recovery runs)."""

    score: int
    anchor_ts: int | None


def clamp(score: int, policy: Policy) -> int:
    return max(policy.credit.min, min(policy.credit.max, score))


def current(row: CreditRow | None, now_ms: int, policy: Policy) -> CreditRow:
    """The score now, with recovery applied, and the anchor advanced by the whole periods used.

    Keeping the partial period in the anchor means that materialising the score
    (on the next change) neither loses nor double-counts recovery.
    """
    if row is None:
        return CreditRow(policy.credit.initial, None)
    recovery = policy.credit.recovery
    ceiling = policy.credit.initial
    if row.anchor_ts is None or row.score >= ceiling:
        return row
    period = recovery.every_days * DAY_MS
    steps = max(now_ms - row.anchor_ts, 0) // period
    score = min(ceiling, row.score + steps * recovery.points)
    return CreditRow(score, row.anchor_ts + steps * period)


def changed(row: CreditRow | None, delta: int, now_ms: int, policy: Policy) -> tuple[int, CreditRow]:
    """Apply ``delta`` now: returns the score before (recovery included) and the new row.

    A decrease is a violation (or a finding of staff): recovery starts again from now.
    """
    before = current(row, now_ms, policy)
    after = clamp(before.score + delta, policy)
    anchor = now_ms if delta < 0 else before.anchor_ts
    return before.score, CreditRow(after, anchor)
