"""`/groups/{code}`: the group information page (群信息页面, Art. 8), category and tier changes.

The page names the group, its member count and category, its tiers, and the
role labels of creator (群主), admins (管理员) and members (成员), derived from the
room's creators (room version 12 and later) and power levels, and says how to join.

Who sees it (DESIGN.md §6.6): anyone, without a token, once the group has
`info_page_from_members` members; below that, and always for private chats (the
bot chats), only its joined members and staff (by their access token). Everyone
else gets the same 404 as for a code nobody holds, so the page never tells
whether a small group or a private chat exists. Browsers (`Accept: text/html`)
get both the page and the 404 as HTML in their language; API clients get JSON
and the reason `group_not_found`.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from synapse.module_api import SynapseRequest
from synapse.module_api.errors import Codes, SynapseError

from policies import Reason, render
from policies.api import CategoryRequest, GroupMember, GroupPage, TierRequest
from policies.api.paths import group_page_url
from policies.codes import is_valid_code
from policies.decisions import effective_tier
from policies.display import ACTIVITY_TIER, GROUP_STATUS, format_time, label, scale_tier_label
from policies.roles import room_admins, room_creators
from policies.tiers import needs_info_page

from ..errors import Refusal
from ..store.groups import GroupRecord
from ..texts import text
from .resource import (
    Access,
    Caller,
    Route,
    answer,
    page_document,
    page_language,
    query_str,
    read_body,
    required_reason,
    respond_page,
    wants_html,
)

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from policies import Policy

    from ..config import QunzuConfig
    from ..facts import FactsSource
    from ..groups import Groups
    from ..private_chats import PrivateChats
    from ..sanctions.state import SanctionState

ROLE_LABELS = {
    "zh-CN": {"creator": "群主", "admin": "管理员", "member": "成员"},
    "en": {"creator": "creator", "admin": "admin", "member": "member"},
}


def routes(
    *,
    api: ModuleApi,
    config: QunzuConfig,
    groups: Groups,
    facts: FactsSource,
    sanctions: SanctionState,
    private_chats: PrivateChats,
) -> list[Route]:
    async def info_of(record: GroupRecord, language: str) -> GroupPage:
        return await group_info(api, config, facts, sanctions, record, language)

    async def lookup(code: str) -> GroupRecord:
        record = await groups.by_code(code) if is_valid_code(code) else None
        if record is None or record.room_id is None:
            raise SynapseError(404, "No group has this code", Codes.NOT_FOUND)
        return record

    async def info(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any] | None:
        browser = wants_html(request)
        default = config.language
        language = page_language(request, default) if browser else _known(query_str(request, "lang"), default)
        code = params["code"]
        record = await groups.by_code(code) if is_valid_code(code) else None
        page = None
        if record is not None and record.room_id is not None:
            page = await info_of(record, language)
            if not await _may_see(api, record, page, caller):
                page = None
        if page is None:
            missing = Refusal(Reason.GROUP_NOT_FOUND, {"min_members": config.policy.scale_tiers.info_page_from_members})
            if not browser:
                raise missing
            respond_page(request, 404, render_not_found(config.policy, missing, language))
            return None
        if browser:
            respond_page(request, 200, render_html(page, language))
            return None
        return 200, answer(page)

    async def set_category(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        assert caller.user_id is not None
        record = await lookup(params["code"])
        category = read_body(request, CategoryRequest).category
        # Art. 9: the creator manages the group; staff and the bot (on a creator's command) may too.
        if caller.user_id != record.creator and not caller.is_staff:
            raise SynapseError(403, "Only the group's creator may change its category", Codes.FORBIDDEN)
        # A category is for groups: choosing one makes a private chat a group (counted, DESIGN.md §6.2).
        record = await private_chats.before_category(record)
        updated = await groups.set_category(caller.user_id, record, category)
        return 200, answer(await info_of(updated, config.language))

    async def grant_tier(request: SynapseRequest, caller: Caller, params: Mapping[str, str]) -> tuple[int, Any]:
        assert caller.user_id is not None
        record = await lookup(params["code"])
        body = read_body(request, TierRequest)
        reason = required_reason(body.model_dump(), config.language)
        updated = await groups.grant_tier(caller.user_id, record, body.tier, reason)
        return 200, answer(await info_of(updated, config.language))

    return [
        Route("GET", "/groups/{code}", Access.ANYONE, info),
        Route("POST", "/groups/{code}/category", Access.USER, set_category),
        Route("POST", "/admin/groups/{code}/tier", Access.STAFF, grant_tier),
    ]


async def group_info(
    api: ModuleApi,
    config: QunzuConfig,
    facts_source: FactsSource,
    sanctions: SanctionState,
    record: GroupRecord,
    language: str,
) -> GroupPage:
    """Everything the info page shows, from the registry and the room's current state."""
    assert record.room_id is not None
    room_id = record.room_id
    state = await api.get_room_state(
        room_id,
        [
            ("m.room.name", ""),
            ("m.room.topic", ""),
            ("m.room.power_levels", ""),
            ("m.room.create", ""),
            ("m.room.join_rules", ""),
        ],
    )
    facts = await facts_source.room(room_id, count_members=True)
    labels = ROLE_LABELS[language]
    service = config.service_account

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
    if creators[:1] != [record.creator]:
        # Handed over (转让群主): the registry's owner is the 群主; the original creator of the
        # room is no longer one, though from room version 12 it keeps its power by protocol.
        original = create.sender if create is not None else None
        creators = [record.creator, *(user for user in creators if user not in (record.creator, original))]
    admins = [user for user in admins if user != service]
    measures = await sanctions.room_state(room_id)
    if facts.closed:
        status = "closed"
    elif facts.posting_suspended_until_ms is not None:
        status = "suspended"
    elif measures.warning_until_ms is not None:
        status = "warned"  # 警示整改: a warning whose rectification deadline has not passed
    else:
        status = "active"
    policy = config.policy
    scale_tier = effective_tier(facts, policy)
    alias = f"#{record.code}:{api.server_name}"
    return GroupPage(
        code=record.code,
        name=_text(content("m.room.name").get("name")),
        topic=_text(content("m.room.topic").get("topic")),
        category=record.category,
        category_label=_category_label(config.policy, record.category, language),
        scale_tier=scale_tier,
        scale_tier_label=scale_tier_label(scale_tier, language, policy),
        activity_tier=record.activity_tier,
        activity_tier_label=label(ACTIVITY_TIER, record.activity_tier, language),
        member_count=facts.member_count,
        info_page_required=needs_info_page(facts.member_count, policy),
        # Art. 8: open to anyone without an account from this size on; private chats never.
        public=needs_info_page(facts.member_count, policy) and not record.verification_dm and not record.private_chat,
        url=group_page_url(api.public_baseurl, record.code),
        creator=record.creator,
        creators=[GroupMember(user_id=user, role="creator", label=labels["creator"]) for user in creators],
        admins=[GroupMember(user_id=user, role="admin", label=labels["admin"]) for user in admins],
        member_label=labels["member"],
        created_at=record.created_ts,
        created_at_text=format_time(record.created_ts, language),
        status=status,
        status_label=label(GROUP_STATUS, status, language),
        alias=alias,
        matrix_to="https://matrix.to/#/" + quote(alias, safe=":"),
        join_rule=_text(content("m.room.join_rules").get("join_rule")) or "invite",
        room_id=room_id,
    )


def _text(value: object) -> str | None:
    # Room state is whatever a client sent: a name or topic that is not text shows as none.
    return value if isinstance(value, str) and value.strip() else None


def _known(language: str | None, default: str) -> str:
    return language if language in ROLE_LABELS else default


async def _may_see(api: ModuleApi, record: GroupRecord, page: GroupPage, caller: Caller) -> bool:
    """Art. 8: the public sees groups from `info_page_from_members`; members and staff see their own."""
    if page.public or caller.is_staff:
        return True
    if caller.user_id is None or record.room_id is None:
        return False
    state = await api.get_room_state(record.room_id, [("m.room.member", caller.user_id)])
    event = state.get(("m.room.member", caller.user_id))
    return event is not None and event.content.get("membership") == "join"


def _category_label(policy: Policy, category: str, language: str) -> str:
    known = policy.categories.known.get(category)
    if known is None:
        return category
    return next((label for lang, label in known.labels.items() if lang == language), category)


def render_html(page: GroupPage, language: str) -> str:
    """The info page for a browser, readable on a phone; every value from the room is escaped."""
    t = _known(language, "zh-CN")
    rows = [
        ("group_code", page.code),
        ("group_category", page.category_label),
        ("group_members", str(page.member_count)),
        ("group_scale", page.scale_tier_label),
        ("group_activity", page.activity_tier_label),
        ("group_status", page.status_label),
        ("group_created", page.created_at_text),
    ]
    table = "".join(
        f'<tr id="{key}"><th>{html.escape(text(key, t))}</th><td>{html.escape(str(value))}</td></tr>'
        for key, value in rows
    )
    people = [*page.creators, *page.admins]
    roles = "".join(
        f"<li><b>{html.escape(person.label or '')}</b> {html.escape(person.user_id)}</li>" for person in people
    )
    title = page.name or text("group_unnamed", t, code=page.code)
    topic = f'<p id="topic">{html.escape(page.topic)}</p>' if page.topic else ""
    if page.status == "closed":
        how = text("group_join_closed", t)
    elif page.join_rule == "public":
        how = text("group_join_public", t)
    elif page.join_rule in ("knock", "knock_restricted"):
        how = text("group_join_knock", t)
    else:
        how = text("group_join_invite", t)
    join = (
        f'<h2>{html.escape(text("group_join_title", t))}</h2><section id="join">'
        f'<p>{html.escape(text("group_join_address", t))} <code id="alias">{html.escape(page.alias or "")}</code></p>'
        f'<p><a id="matrix-to" href="{html.escape(page.matrix_to or "")}" rel="noopener noreferrer">'
        f"{html.escape(text('group_join_link', t))}</a></p><p>{html.escape(how)}</p></section>"
    )
    report = f"../public/report?code={quote(str(page.code), safe='')}&lang={quote(t, safe='')}"
    report_label = text("group_report_link", t)
    body = (
        f'<h1 id="name">{html.escape(title)}</h1>{topic}<table>{table}</table>'
        f'<h2>{html.escape(text("group_roles", t))}</h2><ul id="roles">{roles}</ul>{join}'
        f'<p class="note">{html.escape(text("group_page_note", t))}</p>'
        # Art. 12: the complaint channel is one tap away, for people without an account too.
        f'<p><a id="report" href="{html.escape(report)}">{html.escape(report_label)}</a></p>'
    )
    return page_document(title, body, t)


def render_not_found(policy: Policy, missing: Refusal, language: str) -> str:
    """The 404 a browser shows: the reason's text in the person's language, nothing about the server."""
    t = _known(language, "zh-CN")
    message = render(missing.reason, t, missing.detail, policy)
    title = text("group_not_found_title", t)
    return page_document(title, f'<h1>{html.escape(title)}</h1><p id="reason">{html.escape(message)}</p>', t)
