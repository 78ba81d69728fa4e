"""`/groups/{code}`: the group information page (群信息页面, Art. 8), category and tier changes.

The page names the group, its member count and category, its tiers, and the
role labels of creator (群主), admins (管理员) and members (成员), derived from the
room's creators (room version 12 and later) and power levels.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synapse.module_api import SynapseRequest, respond_with_html
from synapse.module_api.errors import Codes, SynapseError

from policies.codes import is_valid_code
from policies.decisions import effective_tier
from policies.labels import ACTIVITY_TIER, GROUP_STATUS, format_time, label, scale_tier_label
from policies.roles import room_admins, room_creators
from policies.tiers import needs_info_page

from ..store.groups import GroupRecord
from .resource import Access, Caller, Route, json_body, query_str, required_reason

if TYPE_CHECKING:
    from ..module import QunzuModule

ROLE_LABELS = {
    "zh-CN": {"creator": "群主", "admin": "管理员", "member": "成员"},
    "en": {"creator": "creator", "admin": "admin", "member": "member"},
}


def routes(module: QunzuModule) -> list[Route]:
    async def lookup(code: str) -> GroupRecord:
        record = await module.groups.by_code(code) if is_valid_code(code) else None
        if record is None or record.room_id is None:
            raise SynapseError(404, "No group has this code", Codes.NOT_FOUND)
        return record

    async def info(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any] | None:
        language = query_str(request, "lang") or module.config.language
        language = language if language in ROLE_LABELS else module.config.language
        page = await group_info(module, await lookup(params["code"]), language)
        accept = (request.getHeader("Accept") or "").lower()
        if "text/html" in accept:
            respond_with_html(request, 200, render_html(page, language))
            return None
        return 200, page

    async def set_category(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        assert caller.user_id is not None
        record = await lookup(params["code"])
        category = json_body(request).get("category")
        if not isinstance(category, str):
            raise SynapseError(400, "'category' must be a string", Codes.BAD_JSON)
        # Art. 9: the creator manages the group; staff and the bot (on a creator's command) may too.
        if caller.user_id != record.creator and not caller.is_staff:
            raise SynapseError(403, "Only the group's creator may change its category", Codes.FORBIDDEN)
        updated = await module.groups.set_category(caller.user_id, record, category)
        return 200, await group_info(module, updated, module.config.language)

    async def grant_tier(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        assert caller.user_id is not None
        record = await lookup(params["code"])
        body = json_body(request)
        tier = body.get("tier")
        if not isinstance(tier, str):
            raise SynapseError(400, "'tier' must be a string", Codes.BAD_JSON)
        reason = required_reason(body, module.config.language)
        updated = await module.groups.grant_tier(caller.user_id, record, tier, reason)
        return 200, await group_info(module, updated, module.config.language)

    return [
        Route("GET", "/groups/{code}", Access.USER, info),
        Route("POST", "/groups/{code}/category", Access.USER, set_category),
        Route("POST", "/admin/groups/{code}/tier", Access.STAFF, grant_tier),
    ]


async def group_info(module: QunzuModule, record: GroupRecord, language: str) -> dict[str, Any]:
    """Everything the info page shows, from the registry and the room's current state."""
    assert record.room_id is not None
    room_id = record.room_id
    state = await module.api.get_room_state(
        room_id, [("m.room.name", ""), ("m.room.topic", ""), ("m.room.power_levels", ""), ("m.room.create", "")]
    )
    facts = await module.facts.room(room_id, count_members=True)
    labels = ROLE_LABELS[language]
    service = module.config.service_account

    def content(event_type: str) -> Mapping[str, Any]:
        event = state.get((event_type, ""))
        return event.content if event is not None else {}

    create = state.get(("m.room.create", ""))
    levels = state.get(("m.room.power_levels", ""))
    if create is not None:
        found = room_creators(create.sender, create.content)
        creators = [create.sender, *sorted(found - {create.sender})] if create.sender in found else sorted(found)
        admins = room_admins(create.sender, create.content, levels.content if levels is not None else None)
    else:
        creators, admins = [record.creator], []
    # The platform's account is no 群主 or admin, also where a trusted private chat's preset made it
    # a creator (room version 12 makes every invitee one).
    creators = [user for user in creators if user != service]
    admins = [user for user in admins if user != service]
    measures = await module.sanctions.room_state(room_id)
    if facts.closed:
        status = "closed"
    elif facts.posting_suspended_until_ms is not None:
        status = "suspended"
    elif measures.warning_until_ms is not None:
        status = "warned"  # 警示整改: a warning whose rectification deadline has not passed
    else:
        status = "active"
    return {
        "code": record.code,
        "name": content("m.room.name").get("name"),
        "topic": content("m.room.topic").get("topic"),
        "category": record.category,
        "category_label": _category_label(module, record.category, language),
        "scale_tier": (scale := effective_tier(facts, module.config.policy)),
        "scale_tier_label": scale_tier_label(scale, language, module.config.policy),
        "activity_tier": record.activity_tier,
        "activity_tier_label": label(ACTIVITY_TIER, record.activity_tier, language),
        "member_count": facts.member_count,
        "info_page_required": needs_info_page(facts.member_count, module.config.policy),
        "creator": record.creator,
        "creators": [{"user_id": user, "role": "creator", "label": labels["creator"]} for user in creators],
        "admins": [{"user_id": user, "role": "admin", "label": labels["admin"]} for user in admins],
        "member_label": labels["member"],
        "created_at": record.created_ts,
        "status": status,
        "status_label": label(GROUP_STATUS, status, language),
        "alias": f"#{record.code}:{module.api.server_name}",
        "room_id": room_id,
    }


def _category_label(module: QunzuModule, category: str, language: str) -> str:
    known = module.config.policy.categories.known.get(category)
    if known is None:
        return category
    return next((label for lang, label in known.labels.items() if lang == language), category)


def render_html(page: Mapping[str, Any], language: str) -> str:
    """A small page readable on a phone; every value escaped."""
    zh = language == "zh-CN"
    rows = [
        ("群组编码" if zh else "Group code", page["code"]),
        ("名称" if zh else "Name", page["name"] or "—"),
        ("类别" if zh else "Category", page["category_label"]),
        ("人数" if zh else "Members", str(page["member_count"])),
        ("规模" if zh else "Scale tier", page["scale_tier"]),
        ("活跃度" if zh else "Activity", page["activity_tier"]),
        ("状态" if zh else "Status", page["status"]),
        ("建立时间" if zh else "Created", format_time(int(page["created_at"]), language)),
    ]
    people = [(p["label"], p["user_id"]) for p in [*page["creators"], *page["admins"]]]
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    roles = "".join(f"<li><b>{html.escape(label)}</b> {html.escape(user)}</li>" for label, user in people)
    topic = f"<p>{html.escape(page['topic'])}</p>" if page.get("topic") else ""
    title = html.escape(page["name"] or page["code"])
    return (
        f'<!DOCTYPE html><html lang="{language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:auto;"
        "padding:1rem}th{text-align:left;padding-right:1rem;color:#555}td,th{padding:.3rem 0}</style></head>"
        f"<body><h1>{title}</h1>{topic}<table>{body}</table><h2>{'群内身份' if zh else 'Roles'}</h2>"
        f"<ul>{roles}</ul></body></html>"
    )
