"""The two kinds of model at the HTTP boundary, and how a malformed body becomes one refusal.

A `Request` is what a client sends: strict (no coercion: ``"5"`` is not an integer,
``1`` is not ``true``), frozen, and closed (an unknown key is refused, so a typo such as
``"reasn"`` never passes as "no reason"). A `Record` is what the module answers: open
(keys it does not declare are ignored), so an older bot keeps reading a newer module.

Numbers inside a request are read by the one bounded parser (`policies.numbers`) before
pydantic sees them, so a hostile number is the refusal ``invalid_number`` with its bounds,
exactly as in a query string, and never a type error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from ..errors import InvalidRequest


class Request(BaseModel):
    """A request body: strict, frozen, no unknown keys."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    def body(self) -> dict[str, Any]:
        """The JSON object to send: the fields that are set, absent ones left out."""
        return self.model_dump(mode="json", exclude_none=True)


class Record(BaseModel):
    """An answer of the module: frozen; keys it does not declare are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


RequestT = TypeVar("RequestT", bound=Request)
RecordT = TypeVar("RecordT", bound=Record)

# pydantic's error types, folded into the few problems a client is told about.
_PROBLEMS: Final[Mapping[str, str]] = {
    "extra_forbidden": "unknown_field",
    "missing": "missing",
    "string_too_long": "too_long",
    "too_long": "too_long",
    "string_too_short": "too_short",
    "too_short": "too_short",
    "literal_error": "not_allowed",
    "enum": "not_allowed",
}


def parse_request(model: type[RequestT], body: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> RequestT:
    """Read a decoded JSON object as `model`.

    Args:
        model: the request's model.
        body: the JSON object.
        context: what bounds depend on (``{"policy": Policy}`` for credit changes).

    Raises:
        InvalidNumber: a number field is malformed or out of range (raised by the field's
            validator, not wrapped).
        InvalidRequest: any other field is missing, unknown, of the wrong type or too long
            (the first such field, with a stable problem code).
    """
    try:
        return model.model_validate(body, context=dict(context or {}))
    except ValidationError as exc:
        raise request_error(exc.errors()[0], body) from None


def request_error(error: ErrorDetails, body: Mapping[str, Any] | None = None) -> InvalidRequest:
    """The refusal for one pydantic error: the field as a dotted path through `body`.

    Pydantic puts the branch of a union it tried (``int``, ``str``) into an error's path;
    a person sent no such key, so only the parts that lead through the body are named.
    """
    field = ".".join(_path_in(body, error["loc"])) or "body"
    problem = _PROBLEMS.get(error["type"], "wrong_type")
    return InvalidRequest(field, problem)


def _path_in(body: Any, loc: Sequence[int | str]) -> list[str]:
    if body is None:
        return [str(part) for part in loc]
    path: list[str] = []
    value = body
    for index, part in enumerate(loc):
        in_object = isinstance(value, Mapping) and part in value
        in_array = isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value)
        if in_object or in_array:
            value = value[part]
        elif isinstance(value, Mapping) and index == len(loc) - 1:
            path.append(str(part))  # a missing key
            break
        else:
            continue  # a union branch pydantic tried, not a key of the body
        path.append(str(part))
    return path


__all__ = ["Record", "RecordT", "Request", "RequestT", "parse_request", "request_error"]
