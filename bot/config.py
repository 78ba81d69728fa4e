"""Bot configuration (``bot.yaml``): parsed once at start into a frozen model.

Example::

    homeserver: https://matrix.example.org
    user_id: "@qunzu:example.org"
    password: "…"                 # or access_token: "…" (exactly one)
    device_id: QUNZUBOT           # optional
    moderation_room: "#moderation:example.org"   # optional
    state_db: /var/lib/qunzu-bot/state.sqlite
    language: zh-CN               # zh-CN (default) | en
    qunzu_api: https://matrix.example.org/_synapse/client/qunzu/v1   # optional
    command_prefix: "!"
    desk_poll_interval: 5         # seconds between looks at the module's queue (moderation desk)
    reminder_before: 1800         # seconds before a ticket's deadline to remind staff
    digest_time: "09:00"          # daily digest in the moderation room, China Standard Time
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Self

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.errors import ConfigError
from policies.api.paths import API_PREFIX
from policies.constants import DEFAULT_LANGUAGE, Language

_USER_ID = re.compile(r"^@[^:\s]+:[^\s]+$")
# Room ids of room version 12 have no server part (!<hash>); aliases always do.
_ROOM_REF = re.compile(r"^(![^:\s]+(:[^\s]+)?|#[^:\s]+:[^\s]+)$")
_URL = re.compile(r"^https?://[^/\s]+(/\S*)?$")


def _check_url(value: str) -> str:
    if not _URL.match(value):
        raise ValueError("must be an http(s) URL such as https://matrix.example.org")
    return value.rstrip("/")


class BotConfig(BaseModel):
    """Validated bot configuration; see the module docstring for an example."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    homeserver: str
    user_id: str
    password: SecretStr | None = None
    access_token: SecretStr | None = None
    device_id: str | None = None
    moderation_room: str | None = None
    # strict=False: YAML gives a string; a Path object is what the code wants.
    state_db: Annotated[Path, Field(strict=False)]
    language: Language = DEFAULT_LANGUAGE
    qunzu_api: str | None = None
    command_prefix: str = "!"
    # The moderation desk (bot/desk.py). strict=False: YAML may give 5 or 5.0. Tickets the bot files
    # itself (!report) reach the desk at once (Desk.nudge); this interval bounds how late staff see
    # everything else, above all the report buttons of Matrix clients, which the module imports at
    # every tick of its job loop (5 s). Polling faster than that would not show them sooner; a look
    # reads only fresh tickets, so 5 s costs four small requests per 5 s.
    desk_poll_interval: Annotated[float, Field(strict=False, gt=0, le=3600)] = 5.0
    reminder_before: Annotated[int, Field(ge=0, le=7 * 24 * 3600)] = 1800
    digest_time: str = "09:00"

    @field_validator("digest_time")
    @classmethod
    def _digest_time(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError("must be HH:MM (China Standard Time), such as 09:00")
        return value

    @field_validator("homeserver", "qunzu_api")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value)

    @field_validator("user_id")
    @classmethod
    def _user_id(cls, value: str) -> str:
        if not _USER_ID.match(value):
            raise ValueError("must be a Matrix user id such as @qunzu:example.org")
        return value

    @field_validator("moderation_room")
    @classmethod
    def _room(cls, value: str | None) -> str | None:
        if value is not None and not _ROOM_REF.match(value):
            raise ValueError("must be a room id (!…:server) or alias (#…:server)")
        return value

    @field_validator("command_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not value or len(value) > 3 or any(c.isspace() for c in value):
            raise ValueError("must be 1 to 3 characters without spaces")
        return value

    @field_validator("password", "access_token")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            raise ValueError("must not be empty")
        return value

    @model_validator(mode="after")
    def _one_credential(self) -> Self:
        # Exactly one way to log in, so it is never ambiguous which one is used.
        if (self.password is None) == (self.access_token is None):
            raise ValueError("exactly one of password or access_token is required")
        return self

    @property
    def api_url(self) -> str:
        """Base URL of the module's HTTP API (``qunzu_api`` or the default below homeserver)."""
        return self.qunzu_api or self.homeserver.rstrip("/") + API_PREFIX


def _key_of(error: Any) -> str:
    loc = ".".join(str(part) for part in error["loc"])
    return loc or "password/access_token"


def _describe(error: Any) -> str:
    kind = error["type"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known key"
    msg = str(error["msg"])
    # pydantic prefixes messages of our own validators with "Value error, ".
    return msg.removeprefix("Value error, ")


def load_config(path: str | Path) -> BotConfig:
    """Read and validate ``path``.

    Args:
        path: The YAML file.

    Returns:
        The frozen configuration.

    Raises:
        ConfigError: One line naming the file, the key and the problem. Secret
            values are never part of the message.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            raw = yaml.safe_load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be a mapping of keys to values")
    try:
        return BotConfig.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        # from None: pydantic's text repeats input values, which may be secrets.
        raise ConfigError(f"{path}: {_key_of(first)}: {_describe(first)}{more}") from None
