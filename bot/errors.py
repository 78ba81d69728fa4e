"""Exceptions of the bot: one base, translated at the boundaries.

Tree (who raises what)::

    BotError                 base; never shown to users as text
    ├── ConfigError          config.load_config: bad or missing configuration (one line)
    ├── StateError           state.BotState: state database unusable (e.g. newer schema)
    ├── MatrixError          client.MatrixClient: a failed Client-Server API call
    ├── QunzuApiError        qunzu_api.QunzuApi: the module's HTTP API refused or was unreachable
    └── UsageError           handlers: bad command arguments; the dispatcher answers with usage
"""

from __future__ import annotations

from typing import Any


class BotError(Exception):
    """Base class of every error the bot raises on purpose."""


class ConfigError(BotError):
    """The bot configuration is unusable; the message is one line naming the key."""


class StateError(BotError):
    """The bot's own state database cannot be used."""


class MatrixError(BotError):
    """A Client-Server API call failed.

    Attributes:
        errcode: The Matrix ``errcode`` (``M_FORBIDDEN`` …) or None when the
            homeserver could not be reached or answered without one.
        retryable: True for failures that may go away by themselves (network,
            homeserver restarting, rate limits); callers may queue and retry.
    """

    def __init__(self, message: str, *, errcode: str | None = None, retryable: bool = False):
        super().__init__(message)
        self.errcode = errcode
        self.retryable = retryable


class QunzuApiError(BotError):
    """The module's HTTP API answered with an error or could not be reached.

    Attributes:
        status: HTTP status; 0 when no answer was received (network, timeout).
        errcode: Matrix-style ``errcode`` (``M_FORBIDDEN`` …), or a local code
            (``Q_NETWORK``, ``Q_BAD_RESPONSE``) when the server gave none.
        reason: The stable ``cn.qunzu.reason`` code (DESIGN §3.3) or None.
        message: Human text for the user: the server's ``error`` (already in
            the configured language) or our own friendly text.
        detail: ``cn.qunzu.detail`` facts (may be empty).
    """

    def __init__(
        self,
        *,
        status: int,
        errcode: str,
        message: str,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
    ):
        super().__init__(f"{status} {errcode} {reason or ''}".strip())
        self.status = status
        self.errcode = errcode
        self.reason = reason
        self.message = message
        self.detail: dict[str, Any] = detail or {}


class UsageError(BotError):
    """A command was called with bad arguments.

    Handlers raise it without a usage line to let the dispatcher use the
    command's registered usage in the room's language.

    Attributes:
        usage: The usage line to show, or None for the registered one.
    """

    def __init__(self, usage: str | None = None):
        super().__init__(usage or "usage")
        self.usage = usage
