"""Command handlers. Importing this package registers every built-in command
into :data:`bot.commands.REGISTRY`; add a module here and to the import list.

A handler is ``async def handler(ctx: Context) -> None`` decorated with
:func:`bot.commands.command`; it reads ``ctx.command.args``, answers with
``await ctx.reply(...)`` using texts from the catalogue, raises
``UsageError`` for bad arguments and lets ``QunzuApiError`` propagate.
"""

from __future__ import annotations

from bot.commands import REGISTRY, Registry
from bot.handlers import help, lifecycle, me, report, room_admin, room_tools, staff, verify

__all__ = ["builtin_registry", "help", "lifecycle", "me", "report", "room_admin", "room_tools", "staff", "verify"]


def builtin_registry() -> Registry:
    """A fresh copy of the built-in commands (callers may add their own)."""
    return REGISTRY.copy()
