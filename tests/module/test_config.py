"""The module block is validated at start with one clear line per problem."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from synapse.module_api.errors import ConfigError

from synapse_module.config import parse_module_config
from synapse_module.errors import QunzuConfigError
from synapse_module.module import QunzuModule


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "qunzu.key"
    path.write_text(base64.b64encode(b"\x01" * 32).decode())
    return path


def config(key_file: Path, **changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "service_account": "@qunzu:example.org",
        "secrets": {"key_file": str(key_file)},
        "realname": {"provider": "manual"},
    }
    raw.update(changes)
    return raw


def test_valid_config_is_parsed_with_defaults(key_file: Path) -> None:
    parsed = parse_module_config(config(key_file, staff=["@alice:example.org"]))
    assert parsed.service_account == "@qunzu:example.org"
    assert parsed.staff == frozenset({"@alice:example.org"})
    assert parsed.language == "zh-CN"
    assert parsed.key == b"\x01" * 32
    assert parsed.policy.retention.days >= 184
    assert parsed.client_url is None  # the module calls its own server at public_baseurl
    assert parse_module_config(config(key_file, client_url="http://127.0.0.1:8008")).client_url == (
        "http://127.0.0.1:8008"
    )
    assert parsed.greet_new_accounts is True
    assert parse_module_config(config(key_file, greet_new_accounts=False)).greet_new_accounts is False


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"service_account": "qunzu"}, "service_account: must be a full Matrix user id"),
        ({"realname": {"provider": "nope"}}, "realname.provider: must be one of"),
        ({"realname": {}}, "realname.provider: is required"),
        ({"language": "fr"}, "language: must be one of"),
        ({"staff": ["alice"]}, "staff: every entry must be a full Matrix user id"),
        ({"extra": 1}, "extra: is not a known key"),
        ({"policy_file": "/nonexistent/policy.yaml"}, "policy:"),
        ({"client_url": "127.0.0.1:8008"}, "client_url: must be an http(s) URL"),
        ({"greet_new_accounts": "no"}, "greet_new_accounts: must be true or false, got 'no'"),
    ],
)
def test_each_problem_is_one_line_naming_the_key(key_file: Path, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(QunzuConfigError) as excinfo:
        parse_module_config(config(key_file, **changes))
    text = str(excinfo.value)
    assert message in text
    assert "\n" not in text


def test_missing_secrets_block_is_named(key_file: Path) -> None:
    raw = config(key_file)
    del raw["secrets"]
    with pytest.raises(QunzuConfigError, match=r"^secrets: is required$"):
        parse_module_config(raw)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not base64 at all!", "is not base64"),
        (base64.b64encode(b"short").decode(), "must hold 32 bytes of base64, found 5"),
    ],
)
def test_bad_key_file_is_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.key"
    path.write_text(content)
    with pytest.raises(QunzuConfigError, match=message):
        parse_module_config(config(path))


def test_missing_key_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(QunzuConfigError, match=r"does not exist \(create it with"):
        parse_module_config(config(tmp_path / "absent.key"))


def test_non_mapping_config_is_refused() -> None:
    with pytest.raises(QunzuConfigError, match="must be a mapping"):
        parse_module_config(["not", "a", "mapping"])


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"realname": {"provider": "telepathy"}}, "qunzu: realname.provider: must be one of"),
        ({"service_account": "qunzu"}, "qunzu: service_account: must be a full Matrix user id"),
        ({"colour": "red"}, "qunzu: colour: is not a known key"),
    ],
    ids=["unknown-provider", "bad-service-account", "unknown-key"],
)
def test_synapse_gets_one_config_error_line_naming_the_key(
    key_file: Path, change: dict[str, Any], expected: str
) -> None:
    """What Synapse prints before it stops (Synapse reading one: tests/module/test_config_at_synapse_start.py)."""
    with pytest.raises(ConfigError) as excinfo:
        QunzuModule.parse_config(config(key_file, **change))
    message = str(excinfo.value.msg)
    assert message.startswith(expected)
    assert "\n" not in message
    assert excinfo.value.__suppress_context__  # `from None`: no chained traceback in the log
