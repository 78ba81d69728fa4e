"""Texts of reports and room moderation the module shows (both languages, keyed by id).

Notices to reporters never name staff (Art. 12; 网络信息内容生态治理规定 Art. 16:
the complainant is told the outcome, not who decided it).
"""

from __future__ import annotations

from policies.display import format_time

_TEXTS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "ack": (
            "你的举报已受理，工单号 {ticket}（类别：{category}）。平台将在 {deadline}前处理，"
            "处理结果会在这里告诉你。你的身份不会告诉被举报人。"
        ),
        "ack_joined": (
            "你的举报已受理：已有人举报了同一内容，你的举报已并入工单 {ticket}（类别：{category}），"
            "平台将在 {deadline}前处理，结果会在这里告诉你。"
        ),
        "outcome": "你举报的工单 {ticket}（{category}）已处理完毕：{outcome}感谢你的举报。",
        "outcome.dismissed": "经核查，未发现违反规定的情况，不予处理。",
        "outcome.resolved": "已依据平台规则处理。",
        "outcome.warning": "已对相关账号或群组给予警示。",
        "outcome.mute": "已对相关账号采取禁言措施。",
        "outcome.posting_suspension": "已暂停相关群组的信息发布。",
        "outcome.closure": "已关闭相关群组。",
        "outcome.blacklist": "已将相关账号纳入黑名单。",
        "outcome.other_measure": "已对相关账号或群组采取处置措施。",
        "bad_category": "举报类别无效，请从以下类别中选择：{categories}。",
        "missing_category": "没有写举报类别。",
        "unknown_category": "没有“{typed}”这个举报类别。",
        "usage": "用法：回复要举报的消息，发送 !举报 <类别> [理由]；不回复任何消息则举报本群。可选类别：{categories}。",
        "not_filed_notice": (
            "你在群里发送的举报命令未能提交：{explanation}\n{usage}\n这条命令没有发到群里，其他成员看不到。"
        ),
        "ack_again": (
            "你已经举报过这项内容，工单 {ticket} 仍在处理中，处理结果会在这里告诉你。这次的举报命令没有发到群里。"
        ),
        "rate_limited": "你在一小时内的举报次数已达上限（{limit} 次），请稍后再试。",
        "unknown_event": "在这个群里找不到被举报的消息。",
        "not_member": "只能举报你所在的群或其中的消息。",
        "reason_too_long": "举报理由最多 {limit} 个字。",
        "ticket_closed": "这个工单已处理完毕或不存在。",
        "not_room_admin": "只有本群的群主和管理员可以这样做。",
        "target_protected": "不能对群主、级别不低于你的管理员或平台账号这样做。",
        "not_knocking": "该用户没有申请加入本群。",
        "duration_required": "请给出禁言时长，例如 30m、12h、7d 或 perm。",
        "room_staff": (
            "你管理的群「{room}」有一条新的{what}：工单 {ticket}，类别：{category}，平台将在 {deadline} 前处理。"
            "{event}作为群主或管理员，请核查群内相关内容并履行管理责任（《互联网群组信息服务管理规定》第九条）。"
            "举报人的身份不会告诉你。"
        ),
        "room_staff.report": "举报",
        "room_staff.content_flag": "内容标记（消息已发出，待平台复核）",
        "room_staff.content_hold": "待审核的消息（尚未发出）",
        "room_staff.event": "涉及的消息：{permalink}。",
    },
    "en": {
        "ack": (
            "Your report was received: ticket {ticket} (category: {category}). The platform handles it by "
            "{deadline} and tells you the outcome here. The person you reported is not told who you are."
        ),
        "ack_joined": (
            "Your report was received: the same content was reported before, so your report joined ticket "
            "{ticket} (category: {category}). It is handled by {deadline}; the outcome is told here."
        ),
        "outcome": "Your report {ticket} ({category}) has been handled: {outcome} Thank you for reporting.",
        "outcome.dismissed": "No breach of the rules was found, so no action was taken.",
        "outcome.resolved": "It was handled under the platform's rules.",
        "outcome.warning": "The account or room concerned was warned.",
        "outcome.mute": "The account concerned was muted.",
        "outcome.posting_suspension": "Posting in the room concerned was suspended.",
        "outcome.closure": "The room concerned was closed.",
        "outcome.blacklist": "The account concerned was blacklisted.",
        "outcome.other_measure": "A measure was taken against the account or room concerned.",
        "bad_category": "Unknown report category; choose one of: {categories}.",
        "missing_category": "The report names no category.",
        "unknown_category": 'There is no report category "{typed}".',
        "usage": "Usage: reply to the message you report with !report <category> [reason]; without a reply "
        "the whole room is reported. Categories: {categories}.",
        "not_filed_notice": "Your report command in a room was not filed: {explanation}\n{usage}\n"
        "The command was not posted to the room; nobody there saw it.",
        "ack_again": "You reported this already: ticket {ticket} is still being handled, and the outcome is told "
        "here. This report command was not posted to the room.",
        "rate_limited": "You have made the most reports allowed in an hour ({limit}); please try again later.",
        "unknown_event": "The reported message is not in this room.",
        "not_member": "You can only report rooms you are in, and their messages.",
        "reason_too_long": "A report reason has at most {limit} characters.",
        "ticket_closed": "This ticket is closed already or does not exist.",
        "not_room_admin": "Only the room's creator and admins may do this.",
        "target_protected": (
            "You cannot do this to the room's creator, an admin at or above your level, or the platform's account."
        ),
        "not_knocking": "This user has not asked to join the room.",
        "duration_required": "Give a mute duration such as 30m, 12h, 7d or perm.",
        "room_staff": (
            'A new {what} about your room "{room}": ticket {ticket}, category: {category}. The platform '
            "handles it by {deadline}. {event}As its owner or admin, please check the room and manage it "
            "(Art. 9 of the group chat Regulations). Who reported is not told to you."
        ),
        "room_staff.report": "report",
        "room_staff.content_flag": "content flag (the message was delivered; the platform reviews it)",
        "room_staff.content_hold": "message held for review (not delivered)",
        "room_staff.event": "The message: {permalink}. ",
    },
}


def report_text(key: str, language: str, **values: object) -> str:
    """The text `key` in `language` (zh-CN when the language is unknown)."""
    table = _TEXTS.get(language) or _TEXTS["zh-CN"]
    template = table.get(key) or _TEXTS["zh-CN"][key]
    return template.format(**values) if values else template


def deadline_text(ms: int, language: str) -> str:
    """A deadline as people read it (China Standard Time)."""
    return format_time(ms, language)
