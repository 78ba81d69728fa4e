"""``!me`` / ``!我的`` (direct chat only): the caller's own status from ``GET /me``, in words.

The module decides what ``/me`` contains (DESIGN §3.4) and masks identity data
itself. What a person reads is written here: labels from ``policies.display`` for
every enum, times as ``YYYY-MM-DD HH:mm（北京时间）``, never a field name, an
internal flag or epoch milliseconds (DESIGN §6.3).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.commands import Scope, command
from bot.dispatcher import Context
from bot.messages import china_time, t
from policies.constants import Language
from policies.display import MEASURE, VERIFICATION_STATUS, label

_INDENT = "  "


def _time(value: object, language: Language) -> str | None:
    return china_time(value, language) if isinstance(value, int) and not isinstance(value, bool) else None


def _verification(data: Mapping[str, Any], language: Language) -> list[str]:
    status = str(data.get("status") or "unverified")
    shown = label(VERIFICATION_STATUS, status, language)
    level = data.get("level")
    if status == "verified" and isinstance(level, int) and level > 0:
        shown = t("me.level", language, status=shown, level=level)
    lines = [t("me.verification", language, status=shown)]
    masked = [t(f"me.{key}", language, value=data[key]) for key in ("name", "id_number", "phone") if data.get(key)]
    if masked:
        lines.append(_INDENT + t("me.separator", language).join(masked))
    submitted = _time(data.get("submitted_at"), language)
    if submitted:
        lines.append(_INDENT + t("me.submitted", language, time=submitted))
    decided = _time(data.get("decided_at"), language)
    if decided and status != "pending":
        lines.append(_INDENT + t("me.decided", language, time=decided))
    if status in ("unverified", "rejected"):
        lines.append(_INDENT + t("me.verify_hint", language))
    return lines


def _convention(data: Mapping[str, Any], language: Language) -> str:
    version = data.get("current_version") or "—"
    key = "me.convention_accepted" if data.get("accepted") else "me.convention_missing"
    return t(key, language, version=version)


def _credit(data: Mapping[str, Any], language: Language) -> str:
    score = data.get("score")
    if score is None:
        return t("me.credit_none", language)
    text = t("me.credit", language, score=score, level=data.get("level") or "—")
    if isinstance(data.get("rooms_owned_cap"), int) and isinstance(data.get("rooms_joined_cap"), int):
        text += t("me.caps", language, owned=data["rooms_owned_cap"], joined=data["rooms_joined_cap"])
    return text


def _sanction(item: Mapping[str, Any], language: Language) -> str:
    measure = label(MEASURE, item.get("measure"), language)
    found = item.get("subject")
    subject: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    if subject.get("type") == "room_member" and item.get("room_id"):
        measure = t("me.in_room", language, measure=measure, room=item["room_id"])
    end = _time(item.get("end"), language)
    until = t("me.until", language, time=end) if end and not item.get("permanent") else t("me.no_end", language)
    reason = item.get("reason") or t("no_reason", language)
    return t("me.sanction", language, measure=measure, until=until, reason=reason, id=item.get("id") or "—")


def render_status(data: Mapping[str, Any], language: Language) -> list[str]:
    """The lines of ``!me`` for a ``GET /me`` answer (missing parts are left out).

    Args:
        data: The module's answer.
        language: Language of the text.
    """
    lines: list[str] = []
    if data.get("user_id"):
        lines.append(t("me.account", language, user=data["user_id"]))
    verification = data.get("verification")
    if isinstance(verification, Mapping):
        lines.extend(_verification(verification, language))
    convention = data.get("convention")
    if isinstance(convention, Mapping):
        lines.append(_convention(convention, language))
    credit = data.get("credit")
    if isinstance(credit, Mapping):
        lines.append(_credit(credit, language))
    sanctions = data.get("sanctions")
    if isinstance(sanctions, list):
        active = [item for item in sanctions if isinstance(item, Mapping)]
        lines.append(t("me.sanctions", language) + ("" if active else t("none", language)))
        lines.extend(_INDENT + "- " + _sanction(item, language) for item in active)
        if active:
            lines.append(_INDENT + t("me.appeal_hint", language))
    if data.get("blacklisted"):
        lines.append(t("me.blacklisted", language))
    if data.get("staff"):
        lines.append(t("me.staff", language))
    return lines


@command(
    "me",
    aliases=("我的",),
    scope=Scope.DM,
    usage={"zh-CN": "!我的", "en": "!me"},
    summary={
        "zh-CN": "查看你的实名、信用、群数量和处置情况（私聊）",
        "en": "your verification, credit, room counts and measures (direct chat)",
    },
)
async def me_command(ctx: Context) -> None:
    """Show the caller's status as the module reports it."""
    data = await ctx.api.me(as_user=ctx.sender)
    lines = render_status(data, ctx.language)
    if not lines:
        await ctx.reply(ctx.t("me_empty"))
        return
    await ctx.reply("\n".join([ctx.t("me_header"), *lines]))
