"""Texts the module shows that are not policy refusals (those live in the policy's `messages`).

One table per language, keyed by a stable id; `text(key, language, **values)`.
"""

from __future__ import annotations

_TEXTS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "unavailable": "群组管理服务暂时无法检查此操作，请稍后再试。",
        "attempts_exceeded": "今天的实名认证尝试次数已用完（每天 {limit} 次），请明天再试。",
        "format_errors_exceeded": "格式有误的认证提交太多（每小时最多 {limit} 次），请稍后再试。没有保存任何信息。",
        "provider_unavailable": "实名核验服务暂时不可用，您的信息未被保存，请稍后再试。",
        "convention_outdated": "平台公约已更新为版本 {current}，请阅读并接受最新版本。",
        "already_verified": "该账号已完成实名认证，无需再次认证。",
        "verification_pending": "您的实名信息正在人工审核中，请等待结果。",
        "rebind_refused": "该账号已绑定其他实名身份，如需更改请联系平台工作人员。",
        "reason_required": "请填写操作理由（reason），该操作会被记入审计日志。",
        "no_identity": "该用户没有可查看的实名信息。",
        "not_pending": "该用户没有待审核的实名申请。",
        "not_local": "只能处理本服务器的用户。",
        "unknown_entry": "没有这条黑名单记录，或它已被解除。",
        "form_title": "实名认证",
        "form_intro": "根据《互联网群组信息服务管理规定》第六条，发言、建群和邀请前需要完成实名认证（后台实名、前台自愿）：您的真实姓名不会展示给其他用户，证件信息加密保存。",
        "form_account": "此链接用于认证账号 {user_id}。如果这不是您的账号，请不要填写。",
        "form_query_refused": "身份信息只能通过认证页面的表单提交，不能放在网址中。没有保存任何信息，请重新打开认证链接填写。",
        "form_name": "姓名",
        "form_id_number": "居民身份证号码",
        "form_phone": "手机号码（可选）",
        "form_convention": "我已阅读并同意平台公约（版本 {version}）",
        "form_submit": "提交认证",
        "form_link_invalid": "此链接无效、已使用或已过期。请在聊天中向机器人发送 !verify 获取新的链接。",
        "form_no_token": "请在聊天中向机器人（{bot}）发送 !verify 或 !实名，获取您的一次性认证链接。",
        "form_verified": "认证成功，您现在可以发言了。",
        "form_pending": "已提交，等待人工审核。审核结果将通过机器人通知您。",
        "membership_text_removed": "该成员变动附带的文字（理由或群昵称）违反平台内容规则，已被移除。",
        "bot_chat_here": "你刚才尝试再开一个与我的私聊。每人只有一个，就是这里：请在这里发送 !verify（实名认证）、!me（我的状态）、!appeal（申诉）或 !rules（公约）。",
        "tombstone_explanation": "群组只能通过客户端的“升级房间”功能迁移到新房间，群号随之迁移。",
        "downgrade_explanation": "第 12 版及以后的房间不能升级到更早的版本：Synapse 迁移时会让群主失去全部权限，新房间将无人管理。请选择第 12 版或更新的版本。",
        "invite_needs_confirmation": "{inviter} 邀请了 {invitee}。本群入群需要审核：群主或管理员发送 !同意 {invitee} 确认后，对方才能加入。",
        "announcement": "📢 群公告\n{text}",
        "announcement_approved": "你在群 {code} 提交的公告已通过平台审核，已发布并置顶：\n{text}",
        "announcement_rejected": "你在群 {code} 提交的公告未通过平台审核，没有发布。理由：{reason}\n{text}",
        "announcement_failed": "你在群 {code} 提交的公告已通过审核，但未能发布到群里（机器人不在群中或没有权限）。请重新发送 !公告。\n{text}",
    },
    "en": {
        "unavailable": "Qunzu could not check this action just now. Please try again shortly.",
        "attempts_exceeded": "You have used today's real-name verification attempts ({limit} a day). Please try again tomorrow.",
        "format_errors_exceeded": "Too many submissions with format errors ({limit} an hour). Please try again later; nothing was stored.",
        "provider_unavailable": "The identity verification service is unavailable. Nothing was stored; please try again later.",
        "convention_outdated": "The platform convention is now version {current}; please read and accept the current version.",
        "already_verified": "This account has already completed real-name verification.",
        "verification_pending": "Your real-name submission is waiting for review.",
        "rebind_refused": "This account is bound to another identity; contact the platform staff to change it.",
        "reason_required": "Please give a reason: this action is written to the audit log.",
        "no_identity": "This user has no identity on record.",
        "not_pending": "This user has no submission waiting for review.",
        "not_local": "Only users of this server can be handled here.",
        "unknown_entry": "No such blacklist entry, or it was lifted already.",
        "form_title": "Real-name verification",
        "form_intro": "Under Article 6 of the Regulations, posting, creating groups and inviting require a verified real identity. Your real name is never shown to other users; identity data is stored encrypted.",
        "form_account": "This link verifies the account {user_id}. If it is not yours, do not fill in this form.",
        "form_query_refused": "Identity details are accepted only from the verification form, never in a web address. Nothing was stored; open your verification link again and fill in the form.",
        "form_name": "Name",
        "form_id_number": "Resident ID card number",
        "form_phone": "Mobile number (optional)",
        "form_convention": "I have read and accept the platform convention (version {version})",
        "form_submit": "Verify",
        "form_link_invalid": "This link is invalid, used or expired. Send !verify to the bot in chat for a new one.",
        "form_no_token": "Send !verify to the bot ({bot}) in chat to get your one-time verification link.",
        "form_verified": "Verified. You can post now.",
        "form_pending": "Submitted. A person will review it; the bot will tell you the result.",
        "membership_text_removed": "The text on this membership change (reason or room name) broke the content rules and was removed.",
        "bot_chat_here": "You just tried to open another chat with me. Everyone has one, and it is this one: send !verify, !me, !appeal or !rules here.",
        "tombstone_explanation": "A group moves to a new room only through your client's room upgrade, which takes the group code along.",
        "downgrade_explanation": "A room of version 12 or later cannot be upgraded to an earlier version: Synapse would leave its creator without any power and the new room ungoverned. Choose version 12 or later.",
        "invite_needs_confirmation": "{inviter} invited {invitee}. Joining this room needs approval: {invitee} can join once the owner or an admin confirms with !approve {invitee}.",
        "announcement": "📢 Announcement\n{text}",
        "announcement_approved": "Your announcement in group {code} passed the platform's review and is posted and pinned:\n{text}",
        "announcement_rejected": "Your announcement in group {code} did not pass the platform's review and was not posted. Reason: {reason}\n{text}",
        "announcement_failed": "Your announcement in group {code} passed the review but could not be posted (the bot is not in the room or lacks the power). Please send !announce again.\n{text}",
    },
}


def text(key: str, language: str, **values: object) -> str:
    """The text for `key` in `language` (zh-CN when the language is unknown)."""
    table = _TEXTS.get(language, _TEXTS["zh-CN"])
    return table[key].format(**values) if values else table[key]
