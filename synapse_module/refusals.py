"""The one place a refusal becomes what a client sees (DESIGN.md §3.3)."""

from __future__ import annotations

from synapse.module_api.errors import Codes, SynapseError

from policies import ERRCODE, HTTP_STATUS, Decision, Reason, render

from .config import QunzuConfig
from .errors import Refusal, RequestError, TooMany
from .metrics import record_decision
from .store.limits import Use


def refusal_error(refusal: Refusal, config: QunzuConfig, language: str | None = None) -> SynapseError:
    """HTTP status, errcode, a human text in the configured language and the reason fields."""
    text = render(refusal.reason, language or config.language, refusal.detail, config.policy)
    status = HTTP_STATUS.get(refusal.reason, 403)
    errcode = ERRCODE.get(refusal.reason, Codes.FORBIDDEN)
    return SynapseError(status, text, errcode, additional_fields=refusal_fields(refusal))


def request_error(error: RequestError) -> SynapseError:
    """A service's `RequestError` as the HTTP error a client sees: its status, errcode, message and fields."""
    return SynapseError(error.status, error.message, error.errcode, additional_fields=dict(error.fields) or None)


def client_error(error: SynapseError | RequestError) -> SynapseError:
    """Either kind of error a service call may end in, as the HTTP error a client sees."""
    return request_error(error) if isinstance(error, RequestError) else error


def decision_error(decision: Decision, config: QunzuConfig) -> SynapseError:
    """A refused decision of the rules as the error a client sees."""
    assert decision.reason is not None, "an allowed decision is no refusal"
    return refusal_error(Refusal(decision.reason, decision.detail), config)


_REASONS = frozenset(reason.value for reason in Reason)


def refusal_of(error: SynapseError) -> Refusal | None:
    """The refusal behind an error `refusal_error` made (None for any other error)."""
    fields = error.error_dict(None)
    reason, detail = fields.get("cn.qunzu.reason"), fields.get("cn.qunzu.detail")
    if not isinstance(reason, str) or reason not in _REASONS:
        return None
    return Refusal(Reason(reason), dict(detail) if isinstance(detail, dict) else {})


def refusal_fields(refusal: Refusal) -> dict[str, object]:
    """The fields added to Synapse's error JSON."""
    # Every refusal a client sees passes here exactly once (refusal_error calls this): count it.
    record_decision(refusal.reason.value)
    return {"cn.qunzu.reason": refusal.reason.value, "cn.qunzu.detail": dict(refusal.detail)}


def limit_exceeded(message: str, use: Use, per: str) -> TooMany:
    """The 429 of a per-person limit (store/limits.py): the text, when to retry, the cap and the count."""
    return TooMany(
        message,
        fields={
            "retry_after_ms": use.retry_after_ms,
            "cn.qunzu.detail": {"cap": use.cap, "count": use.count, "per": per},
        },
    )
