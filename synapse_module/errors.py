"""Exceptions of the Synapse module.

QunzuError
├── QunzuConfigError   bad module configuration (raised at start, becomes Synapse's ConfigError)
├── StoreError         the database refused or returned something impossible
│   ├── SchemaError    the schema is newer than this code, or a migration failed
│   └── TicketNotOpen  a ticket was closed meanwhile (aborts the measure taken with its close)
├── ServiceAccountMissing  the service account is not registered (yet)
├── AliasRestoreError  a group's code alias could not be created again
├── DecryptionError    a sealed value does not open with the module key (crypto.py)
├── RequestError       a request a service cannot carry out as asked; answered with its status
│   ├── InvalidInput   400: a value the service cannot use
│   ├── NotPermitted   403: the caller may not do this here
│   ├── NotFound       404: no such ticket, measure, appeal, …
│   ├── Conflict       409: decided or changed meanwhile, or not in the state the request needs
│   ├── TooMany        429: a per-person or per-address limit is reached; says when to retry
│   └── NotReady       503: a part the request needs is not available now; retry later
└── Refusal            a decision refused an action; carries the reason code and detail

RequestError and Refusal become what a client sees in one place (refusals.py), for the HTTP
API and the callbacks alike: services never build HTTP errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from policies import Reason


class QunzuError(Exception):
    """Base of every error the module raises on purpose."""


class QunzuConfigError(QunzuError):
    """The module configuration is invalid; the message is one line."""


class StoreError(QunzuError):
    """A storage operation failed."""


class SchemaError(StoreError):
    """The database schema cannot be brought to the version this code needs."""


class TicketNotOpen(StoreError):
    """The ticket is closed (or unknown): its close, and what was to commit with it, did not happen."""


class ServiceAccountMissing(QunzuError):
    """The service account is not registered yet: nothing can be done as it."""


class AliasRestoreError(QunzuError):
    """A group's code alias could not be created again (no token, the service account not in the room …)."""


class RequestError(QunzuError):
    """A request a service cannot carry out as asked.

    Args:
        message: For the person who asked, in their language where the service knows it.
        errcode: The Matrix errcode, where it is not the kind's own.
        fields: Extra fields of the error JSON (`retry_after_ms`, `cn.qunzu.detail`).
    """

    status: ClassVar[int] = 400
    default_errcode: ClassVar[str] = "M_INVALID_PARAM"

    def __init__(self, message: str, *, errcode: str | None = None, fields: Mapping[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errcode = errcode or self.default_errcode
        self.fields: Mapping[str, object] = dict(fields or {})


class InvalidInput(RequestError):
    """A value the service cannot use (400)."""


class NotPermitted(RequestError):
    """The caller may not do this here (403)."""

    status = 403
    default_errcode = "M_FORBIDDEN"


class NotFound(RequestError):
    """No such thing (404)."""

    status = 404
    default_errcode = "M_NOT_FOUND"


class Conflict(RequestError):
    """Decided or changed meanwhile, or not in the state the request needs (409)."""

    status = 409
    default_errcode = "M_UNKNOWN"


class TooMany(RequestError):
    """A per-person or per-address limit is reached (429); `fields` say when to retry, the cap and the count."""

    status = 429
    default_errcode = "M_LIMIT_EXCEEDED"


class NotReady(RequestError):
    """A part the request needs is not available now; the person may retry (503)."""

    status = 503
    default_errcode = "M_UNKNOWN"


class Refusal(QunzuError):
    """An action was refused by a decision of the policy engine."""

    def __init__(self, reason: Reason, detail: Mapping[str, object] | None = None) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.detail: Mapping[str, object] = dict(detail or {})
