"""Configuration: valid files load; bad ones give one line naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
import pytest

from bot.config import load_config
from bot.errors import ConfigError

BASE = {
    "homeserver": "http://127.0.0.1:8008/",
    "user_id": "@qunzu:localhost",
    "password": "hunter2-secret",
    "state_db": "state.sqlite",
}


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    import yaml

    path = tmp_path / "bot.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_minimal_config_gets_defaults(tmp_path):
    cfg = load_config(_write(tmp_path, BASE))
    assert cfg.homeserver == "http://127.0.0.1:8008"
    assert cfg.language == "zh-CN"
    assert cfg.command_prefix == "!"
    assert cfg.api_url == "http://127.0.0.1:8008/_synapse/client/qunzu/v1"
    assert cfg.state_db == Path("state.sqlite")
    assert cfg.moderation_room is None
    assert "hunter2" not in repr(cfg)
    with pytest.raises(pydantic.ValidationError):
        cfg.language = "en"


def test_full_config(tmp_path):
    data = {
        **BASE,
        "password": None,
        "access_token": "syt_abc",
        "device_id": "QUNZU",
        "moderation_room": "#moderation:localhost",
        "language": "en",
        "qunzu_api": "http://127.0.0.1:9000/api/",
        "command_prefix": "?",
    }
    del data["password"]
    cfg = load_config(_write(tmp_path, data))
    assert cfg.api_url == "http://127.0.0.1:9000/api"
    assert cfg.access_token is not None and cfg.access_token.get_secret_value() == "syt_abc"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"homeserver": None}, "homeserver: is required"),
        ({"homeserver": "matrix.example.org"}, "homeserver: must be an http(s) URL"),
        ({"user_id": "qunzu"}, "user_id: must be a Matrix user id"),
        ({"user_id": 5}, "user_id: Input should be a valid string"),
        ({"password": None}, "password/access_token: exactly one of password or access_token"),
        ({"access_token": "tok"}, "password/access_token: exactly one of password or access_token"),
        ({"password": ""}, "password: must not be empty"),
        ({"language": "fr"}, "language: Input should be 'zh-CN' or 'en'"),
        ({"moderation_room": "moderation"}, "moderation_room: must be a room id"),
        ({"command_prefix": "! "}, "command_prefix: must be 1 to 3 characters"),
        ({"qunzu_api": "ftp://x"}, "qunzu_api: must be an http(s) URL"),
        ({"state_db": None}, "state_db: is required"),
        ({"colour": "blue"}, "colour: is not a known key"),
    ],
)
def test_bad_config_names_the_key_in_one_line(tmp_path, change, expected):
    data = dict(BASE)
    for key, value in change.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"{path}: {expected}")
    assert "hunter2" not in text
    assert info.value.__cause__ is None  # pydantic's text (with input values) is not chained


def test_several_errors_are_counted(tmp_path):
    data = {**BASE, "language": "fr", "colour": "blue"}
    with pytest.raises(ConfigError, match=r"\(and 1 more\)$"):
        load_config(_write(tmp_path, data))


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.yaml: cannot read: No such file"):
        load_config(tmp_path / "nope.yaml")


def test_not_yaml(tmp_path):
    path = tmp_path / "bot.yaml"
    path.write_text("homeserver: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"not valid YAML \(line \d+\)"):
        load_config(path)


def test_not_a_mapping(tmp_path):
    path = tmp_path / "bot.yaml"
    path.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(path)
