"""Credit scores of verified people (信用等级, Art. 7): the arithmetic.

A score is stored as it stood at an *anchor* time (the last violation, the
last time recovery was counted, or for a person never sanctioned the time the
identity was verified); recovery since the anchor
(``credit.recovery.points`` per ``credit.recovery.every_days`` without a
violation) is computed whenever the score is read, so no job can miss a day
and a restart changes nothing.

Recovery lifts a score up to ``credit.recovery.ceiling`` and never lowers one:
a score above the ceiling (a staff adjustment) stays where it is. The default
ceiling is ``credit.max``, so the best level is reachable by conduct over time.
"""

from __future__ import annotations

from dataclasses import dataclass

from .constants import DAY_MS
from .model import Policy


@dataclass(frozen=True)
class CreditRow:
    """The stored score of one identity at ``anchor_ts`` (``None``: no recovery runs).

    ``score`` is ``None`` for a verified identity that has no score of its own yet:
    it holds ``credit.initial`` and recovers from its verification, like anyone.
    """

    score: int | None
    anchor_ts: int | None


def clamp(score: int, policy: Policy) -> int:
    """The score held inside the policy's ``credit.min``..``credit.max``."""
    return max(policy.credit.min, min(policy.credit.max, score))


def current(row: CreditRow | None, now_ms: int, policy: Policy) -> CreditRow:
    """The score now, with recovery applied, and the anchor advanced by the whole periods used.

    Keeping the partial period in the anchor means that materialising the score
    (on the next change) neither loses nor double-counts recovery.

    Args:
        row: the stored score; ``None`` for an identity without one (it holds ``credit.initial``).
        now_ms: the time of the reading.
        policy: the active policy.
    """
    if row is None:
        return CreditRow(policy.credit.initial, None)
    stored = policy.credit.initial if row.score is None else row.score
    recovery = policy.credit.recovery
    if row.anchor_ts is None or stored >= recovery.ceiling:
        return CreditRow(stored, row.anchor_ts)
    period = recovery.every_days * DAY_MS
    steps = max(now_ms - row.anchor_ts, 0) // period
    score = min(recovery.ceiling, stored + steps * recovery.points)
    return CreditRow(score, row.anchor_ts + steps * period)


def changed(row: CreditRow | None, delta: int, now_ms: int, policy: Policy) -> tuple[int, CreditRow]:
    """Apply ``delta`` now: returns the score before (recovery included) and the new row.

    A decrease is a violation (or a finding of staff): recovery starts again from now.
    """
    before = current(row, now_ms, policy)
    assert before.score is not None  # current() always resolves the score
    after = clamp(before.score + delta, policy)
    anchor = now_ms if delta < 0 else before.anchor_ts
    return before.score, CreditRow(after, anchor)
