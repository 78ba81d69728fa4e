"""``!me`` / ``!我的`` (direct chat only): the caller's own status from ``GET /me``, in words.

The module decides what ``/me`` contains (DESIGN §3.4) and masks identity data
itself. What a person reads is written here: labels from ``policies.display`` for
every enum, times as ``YYYY-MM-DD HH:mm（北京时间）``, never a field name, an
internal flag or epoch milliseconds (DESIGN §6.3).
"""

from __future__ import annotations

from bot.commands import Context, Scope, command
from bot.messages import china_time, t
from policies.api import ConventionStatus, CreditStatus, MeStatus, Sanction, Verification
from policies.constants import Language
from policies.display import MEASURE, VERIFICATION_STATUS, label

_INDENT = "  "


def _time(value: int | None, language: Language) -> str | None:
    return china_time(value, language) if value is not None else None


def _verification(data: Verification, language: Language) -> list[str]:
    status = data.status or "unverified"
    shown = label(VERIFICATION_STATUS, status, language)
    if status == "verified" and data.level is not None and data.level > 0:
        shown = t("me.level", language, status=shown, level=data.level)
    lines = [t("me.verification", language, status=shown)]
    masked = [
        t(f"me.{key}", language, value=value)
        for key, value in (("name", data.name), ("id_number", data.id_number), ("phone", data.phone))
        if value
    ]
    if masked:
        lines.append(_INDENT + t("me.separator", language).join(masked))
    submitted = _time(data.submitted_at, language)
    if submitted:
        lines.append(_INDENT + t("me.submitted", language, time=submitted))
    decided = _time(data.decided_at, language)
    if decided and status != "pending":
        lines.append(_INDENT + t("me.decided", language, time=decided))
    if status in ("unverified", "rejected"):
        lines.append(_INDENT + t("me.verify_hint", language))
    return lines


def _convention(data: ConventionStatus, language: Language) -> str:
    key = "me.convention_accepted" if data.accepted else "me.convention_missing"
    return t(key, language, version=data.current_version or "—")


def _credit(data: CreditStatus, language: Language) -> str:
    if data.score is None:
        return t("me.credit_none", language)
    text = t("me.credit", language, score=data.score, level=data.level or "—")
    if data.rooms_owned_cap is not None and data.rooms_joined_cap is not None:
        text += t("me.caps", language, owned=data.rooms_owned_cap, joined=data.rooms_joined_cap)
    return text


def _sanction(item: Sanction, language: Language) -> str:
    measure = label(MEASURE, item.measure, language)
    if item.subject.type == "room_member" and item.room_id:
        measure = t("me.in_room", language, measure=measure, room=item.room_id)
    end = _time(item.end, language)
    until = t("me.until", language, time=end) if end and not item.permanent else t("me.no_end", language)
    reason = item.reason or t("no_reason", language)
    return t("me.sanction", language, measure=measure, until=until, reason=reason, id=item.id or "—")


def render_status(data: MeStatus, language: Language) -> list[str]:
    """The lines of ``!me`` for a ``GET /me`` answer (missing parts are left out).

    Args:
        data: The module's answer.
        language: Language of the text.
    """
    lines: list[str] = []
    if data.user_id:
        lines.append(t("me.account", language, user=data.user_id))
    if data.verification is not None:
        lines.extend(_verification(data.verification, language))
    if data.convention is not None:
        lines.append(_convention(data.convention, language))
    if data.credit is not None:
        lines.append(_credit(data.credit, language))
    if data.sanctions is not None:
        active = data.sanctions
        lines.append(t("me.sanctions", language) + ("" if active else t("none", language)))
        lines.extend(_INDENT + "- " + _sanction(item, language) for item in active)
        if active:
            lines.append(_INDENT + t("me.appeal_hint", language))
    if data.blacklisted:
        lines.append(t("me.blacklisted", language))
    if data.staff:
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
