"""The command registry, and the context a handler runs with. No I/O, no nio.

The shape of a command (prefix, name, arguments) is read by ``policies.commands``,
which the module uses too (it takes ``!report`` out of rooms); it is re-exported here.

Handlers register with the :func:`command` decorator into :data:`REGISTRY`;
the bot works on a copy (``REGISTRY.copy()``) so tests may add handlers
without leaking into other tests.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final

from bot.events import IncomingMessage
from bot.messages import t
from bot.qunzu_api import QunzuApi
from bot.services import Services
from policies.commands import FULL_WIDTH_PREFIX, Command, normalise_name, parse_command, split_args
from policies.constants import DEFAULT_LANGUAGE, Language


class Scope(enum.Flag):
    """What a caller must be for a command; a command lists every flag it needs.

    ``ANYONE`` is held by every caller. ``DM`` is held in a direct chat with
    the bot, ``MODERATION_ROOM`` in the configured moderation room.
    ``ROOM_ADMIN`` and ``STAFF`` are granted by ``Dispatcher.who_may``.
    """

    ANYONE = enum.auto()
    DM = enum.auto()
    ROOM_ADMIN = enum.auto()
    STAFF = enum.auto()
    MODERATION_ROOM = enum.auto()


Handler = Callable[["Context"], Awaitable[None]]


@dataclass(frozen=True)
class CommandSpec:
    """A registered command.

    Attributes:
        name: English name, the canonical id (``help``).
        aliases: Other names, typically Chinese (``帮助``).
        handler: ``async def handler(ctx: Context) -> None``.
        scope: Flags the caller must hold (see :class:`Scope`).
        usage: One usage line per language, e.g. ``!report <category> [reason]``.
        summary: One-line description per language, shown by ``!help``.
    """

    name: str
    handler: Handler
    aliases: tuple[str, ...] = ()
    scope: Scope = Scope.ANYONE
    usage: Mapping[Language, str] = field(default_factory=dict)
    summary: Mapping[Language, str] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        """The canonical name followed by the aliases."""
        return (self.name, *self.aliases)

    def name_in(self, language: Language) -> str:
        """The name to show in ``language``: the first Chinese alias for zh-CN, else ``name``."""
        if language == "zh-CN":
            for alias in self.aliases:
                if not alias.isascii():
                    return alias
        return self.name

    def usage_in(self, language: Language, prefix: str = "!") -> str:
        """Usage line in ``language`` (falls back to the default, then ``!name``).

        Usage texts are written with ``!``; a different configured prefix replaces it.
        """
        usage = self.usage.get(language) or self.usage.get(DEFAULT_LANGUAGE)
        if not usage:
            return prefix + self.name
        return prefix + usage[1:] if usage.startswith("!") else usage

    def summary_in(self, language: Language) -> str:
        """Summary in ``language`` (falls back to the default language, then empty)."""
        return self.summary.get(language) or self.summary.get(DEFAULT_LANGUAGE) or ""


class Registry:
    """Commands by every one of their names (case-insensitive for ASCII)."""

    def __init__(self) -> None:
        self._specs: dict[str, CommandSpec] = {}
        self._by_name: dict[str, CommandSpec] = {}

    def add(self, spec: CommandSpec) -> CommandSpec:
        """Register ``spec``; a later spec with the same canonical name replaces the earlier.

        Raises:
            ValueError: One of its names already belongs to another command.
        """
        old = self._specs.get(spec.name)
        keys = [normalise_name(n) for n in spec.names]
        for key in keys:
            owner = self._by_name.get(key)
            if owner is not None and owner.name != spec.name:
                raise ValueError(f"command name {key!r} already used by {owner.name!r}")
        if old is not None:
            for key in (normalise_name(n) for n in old.names):
                self._by_name.pop(key, None)
        self._specs[spec.name] = spec
        for key in keys:
            self._by_name[key] = spec
        return spec

    def command(
        self,
        name: str,
        *,
        aliases: tuple[str, ...] = (),
        scope: Scope = Scope.ANYONE,
        usage: Mapping[Language, str] | None = None,
        summary: Mapping[Language, str] | None = None,
    ) -> Callable[[Handler], Handler]:
        """Decorator registering ``async def handler(ctx)`` as command ``name``.

        Args:
            name: English name.
            aliases: Other names (Chinese).
            scope: Flags the caller must hold.
            usage: Usage line per language.
            summary: One-line summary per language.
        """

        def register(handler: Handler) -> Handler:
            self.add(
                CommandSpec(
                    name=name,
                    handler=handler,
                    aliases=aliases,
                    scope=scope,
                    usage=dict(usage or {}),
                    summary=dict(summary or {}),
                )
            )
            return handler

        return register

    def lookup(self, name: str) -> CommandSpec | None:
        """The command called ``name`` (any of its names), or None."""
        return self._by_name.get(normalise_name(name))

    def __iter__(self) -> Iterator[CommandSpec]:
        """Commands in registration order."""
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def copy(self) -> Registry:
        """An independent registry with the same commands."""
        other = Registry()
        for spec in self:
            other.add(spec)
        return other


# Names that mean another command when typed bare in the bot chat: `!同意` approves a
# person in a room, and accepts the convention in the bot chat (DESIGN.md §6.4).
_BARE_IN_DIRECT_CHAT: Final[Mapping[str, str]] = {"同意": "accept"}


def direct_chat_meaning(command: Command) -> str | None:
    """The command a bare name means in the bot chat, if it means another one there."""
    return None if command.args else _BARE_IN_DIRECT_CHAT.get(command.name)


@dataclass(frozen=True)
class Context:
    """Everything a handler gets; no nio types.

    Attributes:
        room_id: Where the command was sent.
        sender: Who sent it.
        event_id: The command event.
        language: Language to answer in (the room's).
        is_direct: True in a direct chat with the bot.
        command: The parsed command (``args``, ``raw_args``).
        spec: The registered command being run.
        message: The whole incoming message (reply target, formatted body …).
        api: Client of the module's HTTP API.
        registry: All commands (``!help`` lists them).
        prefix: The configured command prefix.
    """

    room_id: str
    sender: str
    event_id: str
    language: Language
    is_direct: bool
    command: Command
    spec: CommandSpec
    message: IncomingMessage
    api: QunzuApi
    registry: Registry
    prefix: str
    _reply: Callable[[str], Awaitable[None]]
    _may_use: Callable[[Context, CommandSpec], Awaitable[bool]]
    #: Room roles, staff, the room client and the moderation room; None in unit tests.
    services: Services | None = None

    async def reply(self, text: str) -> None:
        """Answer in the room as a reply to the command (queued if the send fails)."""
        await self._reply(text)

    def t(self, key: str, /, **values: object) -> str:
        """Catalogue text ``key`` in the room's language."""
        return t(key, self.language, **values)

    async def may_use(self, spec: CommandSpec) -> bool:
        """Whether the caller may use ``spec`` here (used by ``!help``)."""
        return await self._may_use(self, spec)


#: The built-in commands; filled by importing :mod:`bot.handlers`.
REGISTRY: Final = Registry()
command = REGISTRY.command


__all__ = [
    "FULL_WIDTH_PREFIX",
    "REGISTRY",
    "Command",
    "CommandSpec",
    "Context",
    "Handler",
    "Registry",
    "Scope",
    "command",
    "normalise_name",
    "parse_command",
    "split_args",
]
