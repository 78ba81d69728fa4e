"""Which measure comes next on an escalation ladder (Art. 11).

The adapter counts the earlier measures against the same subject within
``sanctions.repeat_window_days`` and asks for the next step; a severe violation
(``sanctions.severe_categories``) takes the last step at once.
"""

from __future__ import annotations

from .measures import Measure, SubjectKind
from .model import LadderStep, Policy
from .report_reasons import canonical_category


def is_severe(violation_category: str, policy: Policy) -> bool:
    """Whether a violation of this kind skips the ladder (terrorism, child sexual content, …).

    The kind is a report category (a ticket's), or a content rule's name, which means its
    report category: the ladder and the tickets share one vocabulary.
    """
    return canonical_category(violation_category, policy) in policy.sanctions.severe_categories


def next_measure(kind: SubjectKind, prior_measures: int, policy: Policy, *, severe: bool = False) -> LadderStep:
    """The ladder step for a new violation.

    Args:
        kind: whose ladder: room, admin (owner or admin), or member.
        prior_measures: measures against the subject within the repeat window.
        policy: the active policy.
        severe: the violation is of a severe category; takes the last step.

    Returns:
        The step: measure, duration (``None`` permanent, 0 instant), credit delta and
        whether it also blacklists.
    """
    ladder = policy.sanctions.ladders[kind]
    if severe:
        return ladder[-1]
    # Each step answers `repeat` violations (three warnings before a suspension, say).
    remaining = max(prior_measures, 0)
    for step in ladder:
        if remaining < step.repeat:
            return step
        remaining -= step.repeat
    return ladder[-1]


def default_duration(kind: SubjectKind, measure: Measure, policy: Policy) -> int | None:
    """The duration of a measure taken directly by staff: its first step on the ladder.

    Returns:
        Seconds, 0 for an instant measure, ``None`` for permanent.

    Raises:
        ValueError: the ladder of ``kind`` does not use ``measure``.
    """
    for step in policy.sanctions.ladders[kind]:
        if step.measure == measure:
            return step.duration
    raise ValueError(f"the {kind} ladder has no {measure} step")


def credit_delta(measure: Measure, policy: Policy) -> int:
    """How much a measure taken directly by staff lowers credit (0 or negative)."""
    return policy.sanctions.credit_deltas[measure]


def regulator_report_kind(measure: Measure, category: str | None, policy: Policy) -> str | None:
    """Whether a measure is reported to the authorities (Art. 11), and as what.

    Returns:
        The measure's name when the policy lists it in ``sanctions.reportable_measures``,
        ``severe_measure`` for any other measure in a severe category when
        ``sanctions.report_severe`` is on, else ``None``.
    """
    if measure in policy.sanctions.reportable_measures:
        return str(measure)
    if policy.sanctions.report_severe and category is not None and is_severe(category, policy):
        return "severe_measure"
    return None


def measure_report_kind(
    measure: Measure, category: str | None, policy: Policy, *, makes_blacklist_entry: bool
) -> str | None:
    """The report a measure makes itself, or None (``regulator_report_kind``'s answer otherwise).

    A measure that makes a blacklist entry (a ``blacklist``, a ``closure`` that blacklists its
    room) leaves its report to that entry while the policy reports blacklistings: one decision,
    one report. A report for the severe category is made all the same.
    """
    kind = regulator_report_kind(measure, category, policy)
    entry_reports = makes_blacklist_entry and Measure.BLACKLIST in policy.sanctions.reportable_measures
    return None if entry_reports and kind == str(measure) else kind
