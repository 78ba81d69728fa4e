"""The module's configuration block in homeserver.yaml, parsed once at start.

Everything an operator can get wrong is checked here, so Synapse refuses to
start with one line naming the key and the problem instead of failing later
on a user's request.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from policies import Policy, PolicyError, load_policy

from .errors import QunzuConfigError

_USER_ID = re.compile(r"^@[a-z0-9._=\-/+]+:[A-Za-z0-9.\-]+(:\d+)?$")
KEY_BYTES = 32


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class SecretsConfig(_Strict):
    key_file: str


class HttpProviderConfig(_Strict):
    url: str
    secret_file: str
    timeout_s: float = Field(default=10.0, gt=0, le=120)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
        return value


class RealnameConfig(_Strict):
    # No default on purpose: an operator must choose; `checksum` verifies nothing.
    provider: Literal["checksum", "http", "manual"]
    http: HttpProviderConfig | None = None
    # How long the one-time link to the verification form stays valid.
    link_ttl_s: int = Field(default=900, ge=60, le=86400)

    @model_validator(mode="after")
    def _http_needs_block(self) -> RealnameConfig:
        if self.provider == "http" and self.http is None:
            raise ValueError("provider 'http' needs an http block with url and secret_file")
        return self


class ModuleConfigModel(_Strict):
    service_account: str
    policy_file: str | None = None
    secrets: SecretsConfig
    realname: RealnameConfig
    staff: tuple[str, ...] = Field(default=())
    language: Literal["zh-CN", "en"] = "zh-CN"
    # Where this Synapse's client API answers the module itself (default: public_baseurl).
    client_url: str | None = None
    # A new account gets its bot chat and greeting at registration; off for a bulk import.
    greet_new_accounts: bool = True

    @field_validator("client_url")
    @classmethod
    def _client_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http(s) URL like http://127.0.0.1:8008, got {value!r}")
        return value

    @field_validator("service_account")
    @classmethod
    def _user_id(cls, value: str) -> str:
        if not _USER_ID.match(value):
            raise ValueError(f"must be a full Matrix user id like @qunzu:example.org, got {value!r}")
        return value

    @field_validator("staff", mode="before")
    @classmethod
    def _staff_list(cls, value: Any) -> Any:
        if isinstance(value, list):
            value = tuple(value)
        if isinstance(value, tuple):
            for item in value:
                if not isinstance(item, str) or not _USER_ID.match(item):
                    raise ValueError(f"every entry must be a full Matrix user id, got {item!r}")
        return value


@dataclass(frozen=True)
class HttpProvider:
    url: str
    secret: bytes
    timeout_s: float


@dataclass(frozen=True)
class QunzuConfig:
    """The parsed, validated module configuration plus what it points at."""

    service_account: str
    staff: frozenset[str]
    language: str
    realname_provider: str
    key: bytes
    policy: Policy
    policy_file: str | None
    http_provider: HttpProvider | None = None
    link_ttl_s: int = 900
    client_url: str | None = None
    greet_new_accounts: bool = True


def parse_module_config(raw: Any) -> QunzuConfig:
    """Validate the module block and load the key file and the policy.

    Raises:
        QunzuConfigError: with a one-line message naming the key and the problem.
    """
    if not isinstance(raw, dict):
        raise QunzuConfigError("config: must be a mapping with service_account, secrets and realname")
    try:
        model = ModuleConfigModel.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "config"
        raise QunzuConfigError(f"{where}: {_describe(first)}") from None
    key = read_key_file(model.secrets.key_file)
    try:
        policy = load_policy(model.policy_file)
    except PolicyError as exc:
        raise QunzuConfigError(str(exc)) from None
    http_provider = None
    if model.realname.http is not None:
        http = model.realname.http
        http_provider = HttpProvider(http.url, _read_secret(http.secret_file), http.timeout_s)
    return QunzuConfig(
        http_provider=http_provider,
        link_ttl_s=model.realname.link_ttl_s,
        service_account=model.service_account,
        staff=frozenset(model.staff),
        language=model.language,
        realname_provider=model.realname.provider,
        key=key,
        policy=policy,
        policy_file=model.policy_file,
        client_url=model.client_url,
        greet_new_accounts=model.greet_new_accounts,
    )


def read_key_file(path: str) -> bytes:
    """Read the base64 key that encrypts identity data.

    Raises:
        QunzuConfigError: the file is missing, unreadable or not 32 bytes of base64.
    """
    where = "secrets.key_file"
    try:
        text = Path(path).read_text().strip()
    except FileNotFoundError:
        raise QunzuConfigError(
            f"{where}: {path} does not exist (create it with: "
            "python -c 'import base64,os;print(base64.b64encode(os.urandom(32)).decode())' > FILE)"
        ) from None
    except OSError as exc:
        raise QunzuConfigError(f"{where}: cannot read {path}: {exc.strerror}") from None
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise QunzuConfigError(f"{where}: {path} is not base64") from None
    if len(key) != KEY_BYTES:
        raise QunzuConfigError(f"{where}: {path} must hold {KEY_BYTES} bytes of base64, found {len(key)}")
    return key


def _read_secret(path: str) -> bytes:
    where = "realname.http.secret_file"
    try:
        secret = Path(path).read_text().strip().encode()
    except FileNotFoundError:
        raise QunzuConfigError(f"{where}: {path} does not exist") from None
    except OSError as exc:
        raise QunzuConfigError(f"{where}: cannot read {path}: {exc.strerror}") from None
    if len(secret) < 16:
        raise QunzuConfigError(f"{where}: {path} must hold a shared secret of at least 16 characters")
    return secret


def _describe(error: Any) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known key"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"must be one of {expected}, got {error.get('input')!r}"
    if kind == "bool_type":
        return f"must be true or false, got {error.get('input')!r}"
    message = str(error.get("msg", "is invalid"))
    return message.removeprefix("Value error, ")
