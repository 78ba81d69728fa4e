"""Read the policy: the bundled default, the operator's file merged over it, validated.

The only I/O of the package is here: reading ``default.yaml`` (once, cached) and the
operator's policy file. Every failure becomes one ``PolicyLoadError`` line that names
the file or key path and the problem, so a bad policy stops the server at start with a
message the operator can act on.
"""

from __future__ import annotations

import datetime
import functools
import importlib.resources
import json
import os
from collections.abc import Mapping
from typing import Any, Final

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from .errors import PolicyLoadError
from .model import Policy

_PREFIX: Final = "policy"


def load_policy(path: str | os.PathLike[str] | None = None) -> Policy:
    """Load the policy: the bundled default with the operator's file merged over it.

    Mappings merge key by key; lists and single values in the file replace the default.
    An empty file changes nothing.

    Args:
        path: the operator's policy file, or ``None`` for the bundled default alone.

    Returns:
        The validated, frozen policy.

    Raises:
        PolicyLoadError: the file is missing, unreadable, not YAML, not a mapping, or
            the merged policy is invalid. The message is one line.
    """
    if path is None:
        return default_policy()
    where = os.fspath(path)
    try:
        with open(where, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise PolicyLoadError(f"{_PREFIX}: {where}: file not found") from None
    except IsADirectoryError:
        raise PolicyLoadError(f"{_PREFIX}: {where}: is a directory, not a file") from None
    except OSError as exc:
        raise PolicyLoadError(f"{_PREFIX}: {where}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise PolicyLoadError(f"{_PREFIX}: {where}: not UTF-8 text") from None
    return load_policy_from_mapping(_parse_yaml(text, where))


def load_policy_from_mapping(overrides: Mapping[str, Any]) -> Policy:
    """Validate ``overrides`` merged over the bundled default (as a policy file would be).

    Args:
        overrides: the keys to change, nested like the YAML file.

    Returns:
        The validated, frozen policy.

    Raises:
        PolicyLoadError: the merged policy is invalid (one line naming the key path).
    """
    merged = merge_policy_data(_bundled_data(), overrides)
    return _validate(merged)


@functools.cache
def default_policy() -> Policy:
    """The bundled default policy, parsed and validated once."""
    return _validate(_bundled_data())


def merge_policy_data(base: Mapping[Any, Any], overrides: Mapping[Any, Any], _path: str = "") -> dict[str, Any]:
    """Deep-merge ``overrides`` over ``base`` without changing either.

    Mappings merge recursively; any other value (lists included) replaces the base.

    Raises:
        PolicyLoadError: a key is not text (YAML turns ``yes:`` or ``1:`` into other types).
    """
    merged: dict[str, Any] = dict(base)
    for key, value in overrides.items():
        if not isinstance(key, str):
            where = f"{_path}.{key}" if _path else str(key)
            raise PolicyLoadError(f"{_PREFIX}: {where}: keys must be text; quote the key")
        path = f"{_path}.{key}" if _path else key
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = merge_policy_data(current, value, path)
        else:
            merged[key] = value
    return merged


@functools.cache
def _bundled_data() -> Mapping[str, Any]:
    text = importlib.resources.files("policies").joinpath("default.yaml").read_text("utf-8")
    return _parse_yaml(text, "default.yaml")


def _parse_yaml(text: str, where: str) -> Mapping[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = exc.problem or "syntax error"
        raise PolicyLoadError(f"{_PREFIX}: {where}: not valid YAML{at}: {problem}") from None
    except yaml.YAMLError:
        raise PolicyLoadError(f"{_PREFIX}: {where}: not valid YAML") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        kind = "a list" if isinstance(data, list) else f"a single value ({type(data).__name__})"
        raise PolicyLoadError(f"{_PREFIX}: {where}: the top level must be a mapping of policy keys, got {kind}")
    return data


def _validate(data: Mapping[str, Any]) -> Policy:
    # Validate as JSON so that strict mode still reads YAML lists as tuples and text as
    # enum members; YAML dates (an unquoted 2024-01-01) become their ISO text.
    try:
        document = json.dumps(data, default=_json_default, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise PolicyLoadError(f"{_PREFIX}: cannot be read as plain data: {exc}") from None
    try:
        return Policy.model_validate_json(document)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        line = _describe(errors[0])
        if len(errors) > 1:
            line += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        raise PolicyLoadError(line) from None


def _json_default(value: object) -> str:
    if isinstance(value, datetime.date | datetime.datetime | datetime.time):
        return value.isoformat()
    raise TypeError(f"unsupported value of type {type(value).__name__}")


def _describe(error: ErrorDetails) -> str:
    """``policy: <key.path>: <problem>`` for one pydantic error."""
    loc = [str(part) for part in error["loc"]]
    context = error.get("ctx") or {}
    subpath = context.get("subpath")
    if isinstance(subpath, str):
        loc.append(subpath)
    if loc and loc[-1] == "[key]":
        loc.pop()
    path = ".".join(loc) or "(top level)"
    kind = error["type"]
    message = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if kind == "extra_forbidden":
        message = "unknown key"
    elif kind == "missing":
        message = "missing key"
    elif kind not in ("policy", "value_error") and _is_scalar(error.get("input")):
        message = f"{message[:1].lower()}{message[1:]}, got {error.get('input')!r}"
    else:
        message = f"{message[:1].lower()}{message[1:]}"
    for json_word, yaml_word in (("an object", "a mapping"), ("a valid array", "a list")):
        message = message.replace(json_word, yaml_word)
    return f"{_PREFIX}: {path}: {message}".replace("\n", " ")


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)
