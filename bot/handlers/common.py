"""Argument helpers shared by the issue-7 handlers (pure; no nio)."""

from __future__ import annotations

import re
from typing import Final

from bot.commands import Context
from bot.errors import UsageError
from bot.messages import china_time
from bot.services import Services
from policies import InvalidDuration, parse_duration
from policies.api import GroupMember, GroupPage
from policies.display import ACTIVITY_TIER, GROUP_STATUS, label, scale_tier_label

_USER_ID: Final = re.compile(r"^@[^:\s]+:[^\s]+$")
_PILL: Final = re.compile(r"https://matrix\.to/#/(@[^\"'<>\s]+)")
_CODE: Final = re.compile(r"^\d{9}$")


def services(ctx: Context) -> Services:
    """The running bot's services (always set outside unit tests)."""
    if ctx.services is None:
        raise RuntimeError("the bot's services are not wired")
    return ctx.services


def user_arg(ctx: Context, value: str) -> str:
    """A user id from ``@name:server``, ``@name`` (this server) or a pill's display name.

    Raises:
        UsageError: Not a user.
    """
    value = value.strip()
    if _USER_ID.match(value):
        return value
    if value.startswith("@") and ":" not in value and len(value) > 1:
        server = ctx.services.client.user_id.split(":", 1)[1] if ctx.services else ""
        if server:
            return f"{value}:{server}"
    # A pill: the body shows the display name, the formatted body links the user id.
    for found in _PILL.findall(ctx.message.formatted_body or ""):
        user = str(found).replace("%3A", ":").replace("%40", "@")
        if _USER_ID.match(user):
            return user
    raise UsageError()


def duration_arg(value: str) -> int | None:
    """Seconds of ``30m``/``12h``/``7d``, None for ``perm``.

    Raises:
        UsageError: Not a duration.
    """
    try:
        return parse_duration(value)
    except InvalidDuration:
        raise UsageError() from None


def is_duration(value: str) -> bool:
    try:
        parse_duration(value)
    except InvalidDuration:
        return False
    return True


def is_group_code(value: str) -> bool:
    return bool(_CODE.match(value))


def rest_after(raw: str, count: int) -> str:
    """The free text after the first ``count`` whitespace-separated words of ``raw``."""
    parts = raw.split(None, count)
    return parts[count].strip() if len(parts) > count else ""


def until(ctx: Context, end_ms: int | None) -> str:
    """An end time people read, or "permanent"."""
    return ctx.t("permanent") if end_ms is None or end_ms < 0 else china_time(end_ms, ctx.language)


def info_text(ctx: Context, page: GroupPage) -> str:
    """A group's info page (Art. 8) as one chat message (`!info`, staff `!lookup <code>`)."""

    def names(items: list[GroupMember]) -> str:
        return "、".join(item.user_id for item in items) or "—"

    # The module labels the tiers and the status in its language; the tables cover an older module.
    language = ctx.language
    return ctx.t(
        "info",
        code=page.code,
        name=page.name or "—",
        category=page.category_label or page.category,
        scale=page.scale_tier_label or scale_tier_label(page.scale_tier or "", language),
        activity=page.activity_tier_label or label(ACTIVITY_TIER, page.activity_tier, language),
        members=page.member_count,
        status=page.status_label or label(GROUP_STATUS, page.status, language),
        creators=names(page.creators),
        admins=names(page.admins),
    )
