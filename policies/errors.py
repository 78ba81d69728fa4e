"""Exceptions of the policy package.

PolicyError
├── PolicyLoadError   the policy file is missing, unreadable, not YAML or invalid;
│                     the message is one line naming the key path and the problem
├── InvalidDuration   a duration such as ``7d`` or ``perm`` could not be read
├── InvalidNumber     a number from outside is malformed or out of its bounds (numbers.py);
│                     ``.field`` names it, ``.detail`` holds the bounds for the message
├── InvalidRequest    a request body does not fit its model (policies/api); ``.field`` and
│                     ``.problem`` say where and what, never the value
└── InvalidIdentity   a name, ID number or phone number failed validation;
                      ``.field`` names the field, ``.problem`` says what is wrong (a stable
                      code), the message never repeats the input
"""

from __future__ import annotations

from collections.abc import Mapping


class PolicyError(Exception):
    """Base of every error the policy package raises on purpose."""


class PolicyLoadError(PolicyError):
    """The policy could not be loaded; ``str(exc)`` is one line for the operator."""


class InvalidDuration(PolicyError):
    """A duration text is malformed, zero, negative or absurdly long."""


class InvalidNumber(PolicyError):
    """A number from outside is not an integer in the accepted forms, or out of range.

    Attributes:
        field: the parameter's name as the caller spelled it.
        detail: the bounds, for the refusal text (``min``/``max``, ``earliest_at``/``latest_at``
            or ``max_seconds``); never the value itself.
    """

    def __init__(self, field: str, message: str, detail: Mapping[str, object]) -> None:
        super().__init__(message)
        self.field = field
        self.detail: Mapping[str, object] = {"field": field, **detail}


class InvalidRequest(PolicyError):
    """A request body does not fit its model: a field missing, unknown, of the wrong type or too long.

    Attributes:
        field: the field as a dotted path (``sanction.measure``), or ``body``.
        problem: a stable code: ``unknown_field``, ``missing``, ``wrong_type``, ``too_long``,
            ``too_short`` or ``not_allowed``.
        detail: ``field`` and ``problem``, for the refusal; never the value.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field!r}: {problem}")
        self.field = field
        self.problem = problem
        self.detail: Mapping[str, object] = {"field": field, "problem": problem}


class InvalidIdentity(PolicyError):
    """An identity field is malformed.

    Attributes:
        field: which field failed: ``name``, ``id_number`` or ``phone``.
        problem: what is wrong with it, a stable code (``policies/identity.py``
            ``PROBLEM_TEXTS`` holds the text for people in every language).
        message: what is wrong, safe to show and to log (it never contains the input,
            which is personal information; PIPL and Art. 6 of the Regulations).
    """

    def __init__(self, field: str, problem: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.problem = problem
        self.message = message
