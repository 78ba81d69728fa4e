"""Exceptions of the Synapse module.

QunzuError
├── QunzuConfigError   bad module configuration (raised at start, becomes Synapse's ConfigError)
├── StoreError         the database refused or returned something impossible
│   ├── SchemaError    the schema is newer than this code, or a migration failed
│   └── TicketNotOpen  a ticket was closed meanwhile (aborts the measure taken with its close)
├── ServiceAccountMissing  the service account is not registered (yet)
├── AliasRestoreError  a group's code alias could not be created again
├── DecryptionError    a sealed value does not open with the module key (crypto.py)
└── Refusal            a decision refused an action; carries the reason code and detail,
                       turned into an HTTP error or a callback return value in one place
"""

from __future__ import annotations

from collections.abc import Mapping

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


class Refusal(QunzuError):
    """An action was refused by a decision of the policy engine."""

    def __init__(self, reason: Reason, detail: Mapping[str, object] | None = None) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.detail: Mapping[str, object] = dict(detail or {})
