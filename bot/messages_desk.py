"""Texts of reports, room admins' tools, the moderation desk and room notices.

Merged into :data:`bot.messages.CATALOGUE`; same rules: both languages side by
side, named placeholders. The bot never writes identity data into any of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from policies.constants import Language

DESK_CATALOGUE: Final[dict[str, dict[Language, str]]] = {
    # --- members -----------------------------------------------------------------
    "report_categories": {"zh-CN": "可选类别：{categories}", "en": "Categories: {categories}"},
    "report_dm_usage": {
        "zh-CN": "举报方法：在群里回复要举报的消息，发送 !举报 <类别> [理由]；不回复任何消息则举报整个群。"
        "这条命令不会出现在群里，其他成员看不到是谁举报的（你的客户端可能显示“发送失败”，这是正常的）；"
        "受理通知（含工单号）和处理结果会发到这里。",
        "en": "How to report: in the room, reply to the message you report with !report <category> [reason]; "
        "without a reply the whole room is reported. The command never appears in the room, so nobody there "
        "sees who reported (your client may show it as failed; that is expected). The acknowledgement with "
        "the ticket number and the outcome come here.",
    },
    "info": {
        "zh-CN": "群组编码：{code}\n名称：{name}\n类别：{category}\n规模：{scale}｜活跃度：{activity}\n"
        "人数：{members}\n状态：{status}\n群主：{creators}\n管理员：{admins}",
        "en": "Group code: {code}\nName: {name}\nCategory: {category}\nScale: {scale} | Activity: {activity}\n"
        "Members: {members}\nStatus: {status}\nCreator: {creators}\nAdmins: {admins}",
    },
    "info_page_url": {"zh-CN": "公开信息页：{url}", "en": "Public info page: {url}"},
    "not_governed": {
        "zh-CN": "这个聊天不是受管理的群组（没有群组编码）。",
        "en": "This chat is not a governed group (it has no group code).",
    },
    "rules": {
        "zh-CN": "本群群规：{room_rules}\n\n平台公约（版本 {version}）：\n{convention}",
        "en": "Room rules: {room_rules}\n\nPlatform convention (version {version}):\n{convention}",
    },
    "rules_none": {"zh-CN": "群主尚未设置（见群简介）。", "en": "none set by the owner (see the room topic)."},
    "appeal_usage_hint": {
        "zh-CN": "不写编号则申诉你最近的一项处置或被拦截的消息；编号见处置通知或拒绝提示（以 sn_、rm_ 或 cb_ 开头）。"
        "例如：!申诉 我没有发广告，请复核",
        "en": "Without a reference your latest measure or refused message is appealed; the reference is in the "
        "notice or the refusal (it starts with sn_, rm_ or cb_). Example: !appeal I did not advertise, please review",
    },
    # --- room admins -----------------------------------------------------------------
    "admin_warned": {
        "zh-CN": "⚠️ {target}，你收到了本群管理员的警告：{reason}。请遵守群规和平台公约。",
        "en": "⚠️ {target}, a room admin warns you: {reason}. Please keep to the room rules and the convention.",
    },
    "admin_muted": {
        "zh-CN": "{target} 已在本群被禁言，至 {until}。",
        "en": "{target} is muted in this room until {until}.",
    },
    "admin_muted_perm": {
        "zh-CN": "{target} 已在本群被禁言，直到管理员解除。",
        "en": "{target} is muted in this room until an admin lifts it.",
    },
    "admin_unmuted": {"zh-CN": "{target} 在本群的禁言已解除。", "en": "{target} may post in this room again."},
    "admin_not_muted": {"zh-CN": "{target} 在本群没有被禁言。", "en": "{target} is not muted in this room."},
    "admin_kicked": {"zh-CN": "已将 {target} 移出本群。", "en": "{target} was removed from the room."},
    "admin_banned": {"zh-CN": "已将 {target} 移出本群并禁止再加入。", "en": "{target} was banned from the room."},
    "admin_approved": {
        "zh-CN": "已同意 {target} 的入群申请并发出邀请。",
        "en": "{target}'s request to join was approved; an invite was sent.",
    },
    "category_done": {
        "zh-CN": "本群类别已改为：{category}。",
        "en": "The room's category is now: {category}.",
    },
    "category_not_creator": {
        "zh-CN": "只有群主可以更改群类别。",
        "en": "Only the room's creator may change its category.",
    },
    "no_reason": {"zh-CN": "未说明", "en": "not given"},
    "permanent": {"zh-CN": "永久", "en": "permanent"},
    # --- notices in rooms ------------------------------------------------------------
    "welcome": {
        "zh-CN": "欢迎 {user} 加入！群组编码：{code}｜类别：{category}\n群规：{rules}\n"
        "发送 !群规 查看平台公约，!帮助 查看可用命令，!举报 举报违规内容。",
        "en": "Welcome, {user}! Group code: {code} | Category: {category}\nRules: {rules}\n"
        "Send !rules for the platform convention, !help for commands, !report to report abuse.",
    },
    # For a newcomer who may not post yet: nothing they are told to send here would pass (Art. 6).
    "welcome_unverified": {
        "zh-CN": "欢迎 {user} 加入！群组编码：{code}｜类别：{category}\n群规：{rules}\n"
        "在本群发言（包括发送命令）前需要先完成实名认证（后台实名、前台自愿）：请私信我（{bot}）发送 !实名 "
        "获取你的认证链接；!帮助、!群规 也可以在私信中发送。",
        "en": "Welcome, {user}! Group code: {code} | Category: {category}\nRules: {rules}\n"
        "Posting here (commands too) needs a verified real name first: send !verify to me ({bot}) in a direct "
        "message for your link; !help and !rules work there too.",
    },
    "role_admin": {"zh-CN": "身份变更：{user} 现在是管理员。", "en": "Role change: {user} is now an admin."},
    "role_member": {"zh-CN": "身份变更：{user} 现在是成员。", "en": "Role change: {user} is now a member."},
    # --- the moderation desk -----------------------------------------------------------
    "desk_ticket": {
        "zh-CN": "🆕 新工单 {ticket}｜{category}（{severity}）｜来源：{source}\n"
        "群：{room}\n被举报人：{accused}\n证据：事件 {event}｜内容摘要 {digest}\n{permalink}\n"
        "举报人数：{reporters}｜处理时限：{deadline}\n建议处置：{proposal}\n"
        "处理：!handle {ticket} dismiss|warn|suspend <时长>|close [理由]",
        "en": "🆕 New ticket {ticket} | {category} ({severity}) | source: {source}\n"
        "Room: {room}\nAccused: {accused}\nEvidence: event {event} | content digest {digest}\n{permalink}\n"
        "Reporters: {reporters} | Deadline: {deadline}\nProposed: {proposal}\n"
        "Handle: !handle {ticket} dismiss|warn|suspend <duration>|close [reason]",
    },
    "desk_proposal": {
        "zh-CN": "{measure}（{duration}），第 {prior} 次前科后的下一步",
        "en": "{measure} ({duration}), next step after {prior} prior measure(s)",
    },
    "desk_reminder": {
        "zh-CN": "⏰ 提醒：工单 {ticket}（{category}）将于 {deadline}到期，尚未处理。",
        "en": "⏰ Reminder: ticket {ticket} ({category}) is due at {deadline} and still open.",
    },
    "desk_breach": {
        "zh-CN": "🚨 超时：工单 {ticket}（{category}）已超过处理时限 {deadline}，请立即处理。",
        "en": "🚨 Overdue: ticket {ticket} ({category}) passed its deadline {deadline}; handle it now.",
    },
    "desk_digest": {
        "zh-CN": "📊 每日汇总（过去 24 小时）：新工单 {opened}，已处理 {resolved}，驳回 {dismissed}，"
        "超时后处理 {closed_late}。当前：待处理 {open}，处理中 {in_review}，已超时 {overdue}。",
        "en": "📊 Daily digest (last 24 h): {opened} new tickets, {resolved} resolved, {dismissed} dismissed, "
        "{closed_late} closed late. Now: {open} open, {in_review} in review, {overdue} overdue.",
    },
    "desk_realname": {
        "zh-CN": "🪪 待人工审核的实名申请：{user}。批准：POST /admin/realname/{user}/approve",
        "en": "🪪 Real-name submission waiting for review: {user}. Approve: POST /admin/realname/{user}/approve",
    },
    "desk_sanction": {
        "zh-CN": "⚖️ 处置 {id}：{measure} → {subject}，至 {until}。原因：{reason}",
        "en": "⚖️ Measure {id}: {measure} → {subject}, until {until}. Reason: {reason}",
    },
    "desk_appeal": {
        "zh-CN": "📝 新申诉 {id}，针对处置 {sanction}：{text}",
        "en": "📝 New appeal {id} against measure {sanction}: {text}",
    },
    "reports_header": {"zh-CN": "待处理工单（{count}）：", "en": "Open tickets ({count}):"},
    "reports_line": {
        "zh-CN": "{overdue}{ticket}｜{category}｜{status}｜时限 {deadline}｜举报 {reporters} 人",
        "en": "{overdue}{ticket} | {category} | {status} | due {deadline} | {reporters} reporter(s)",
    },
    "reports_none": {"zh-CN": "没有待处理的工单。", "en": "No open tickets."},
    "overdue_mark": {"zh-CN": "🚨超时 ", "en": "🚨OVERDUE "},
    "handled": {
        "zh-CN": "工单 {ticket} 已关闭：{outcome}。举报人会收到处理结果（不含处理人信息）。",
        "en": "Ticket {ticket} closed: {outcome}. Reporters are told the outcome (without staff names).",
    },
    "handled_measure": {"zh-CN": "{measure}（处置编号 {id}）", "en": "{measure} (measure {id})"},
    "dismissed": {"zh-CN": "不予处理", "en": "dismissed"},
    "sanction_done": {
        "zh-CN": "已执行处置 {id}：{measure} → {subject}，至 {until}。",
        "en": "Measure {id} taken: {measure} → {subject}, until {until}.",
    },
    "lift_done": {"zh-CN": "处置 {id} 已解除。", "en": "Measure {id} lifted."},
    "blacklist_added": {"zh-CN": "已加入黑名单，条目 {id}。", "en": "Blacklisted: entry {id}."},
    "blacklist_removed": {"zh-CN": "黑名单条目 {id} 已解除。", "en": "Blacklist entry {id} removed."},
    "credit_done": {
        "zh-CN": "{user} 的信用分：{before} → {after}（等级 {level}）。",
        "en": "{user}'s credit: {before} → {after} (level {level}).",
    },
    "lookup_user": {
        "zh-CN": "{user}\n实名：{verification}\n信用：{score}（{level}）\n黑名单：{blacklisted}\n生效处置：{sanctions}",
        "en": "{user}\nVerification: {verification}\nCredit: {score} ({level})\nBlacklisted: {blacklisted}\n"
        "Active measures: {sanctions}",
    },
    "emergency_done": {
        "zh-CN": "应急冻结 {id} 已生效（范围 {scope}）。解除：!emergency lift {id}",
        "en": "Emergency freeze {id} is in force (scope {scope}). Lift: !emergency lift {id}",
    },
    "emergency_lifted": {"zh-CN": "应急冻结 {id} 已解除。", "en": "Emergency freeze {id} lifted."},
    "appeal_done": {"zh-CN": "{message}", "en": "{message}"},
    # --- held content (Art. 10) ----------------------------------------------------
    "holds_none": {"zh-CN": "没有等待审核的内容。", "en": "Nothing held is waiting for review."},
    "holds_header": {"zh-CN": "待审内容（{count}）：", "en": "Held content ({count}):"},
    "holds_line": {
        "zh-CN": "{id}｜{category}{kind}｜{sender}｜{room}｜{time}｜工单 {ticket}",
        "en": "{id} | {category}{kind} | {sender} | {room} | {time} | ticket {ticket}",
    },
    # A held room setting (a state event such as the room's name or topic), not a message.
    "holds_setting": {"zh-CN": "（群设置 {type}）", "en": " (room setting {type})"},
    "holds_more": {
        "zh-CN": "还有更多待审内容：处理完这些后再发送 !待审。",
        "en": "More are waiting: send !holds again after these.",
    },
    "hold_released": {
        "zh-CN": "已放行 {id}：已以 {sender} 的名义发到 {room}。",
        "en": "Released {id}: sent to {room} as {sender}.",
    },
    "hold_rejected": {
        "zh-CN": "已驳回 {id}：消息不会发出，已私信告知 {sender}。",
        "en": "Rejected {id}: the message will never be sent; {sender} was told in a direct chat.",
    },
    "hold_rejected_untold": {
        "zh-CN": "已驳回 {id}：消息不会发出；暂时未能私信告知 {sender}。",
        "en": "Rejected {id}: the message will never be sent; {sender} could not be told for now.",
    },
}
