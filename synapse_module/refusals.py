"""The one place a refusal becomes what a client sees (DESIGN.md §3.3)."""

from __future__ import annotations

from synapse.module_api.errors import Codes, SynapseError

from policies import ERRCODE, HTTP_STATUS, Decision, render

from .config import QunzuConfig
from .errors import Refusal
from .metrics import record_decision
from .store.limits import Use


def refusal_error(refusal: Refusal, config: QunzuConfig, language: str | None = None) -> SynapseError:
    """HTTP status, errcode, a human text in the configured language and the reason fields."""
    text = render(refusal.reason, language or config.language, refusal.detail, config.policy)
    status = HTTP_STATUS.get(refusal.reason, 403)
    errcode = ERRCODE.get(refusal.reason, Codes.FORBIDDEN)
    return SynapseError(status, text, errcode, additional_fields=refusal_fields(refusal))


def decision_error(decision: Decision, config: QunzuConfig) -> SynapseError:
    """A refused decision of the rules as the error a client sees."""
    assert decision.reason is not None, "an allowed decision is no refusal"
    return refusal_error(Refusal(decision.reason, decision.detail), config)


def refusal_fields(refusal: Refusal) -> dict[str, object]:
    """The fields added to Synapse's error JSON."""
    # Every refusal a client sees passes here exactly once (refusal_error calls this): count it.
    record_decision(refusal.reason.value)
    return {"cn.qunzu.reason": refusal.reason.value, "cn.qunzu.detail": dict(refusal.detail)}


def limit_exceeded(message: str, use: Use, per: str) -> SynapseError:
    """The 429 of a per-person limit (store/limits.py): the text, when to retry, the cap and the count."""
    return SynapseError(
        429,
        message,
        Codes.LIMIT_EXCEEDED,
        additional_fields={
            "retry_after_ms": use.retry_after_ms,
            "cn.qunzu.detail": {"cap": use.cap, "count": use.count, "per": per},
        },
    )
