"""Texts of the evidence store, holds and the public report page (both languages, keyed by id)."""

from __future__ import annotations

from typing import Final

_TEXTS: Final[dict[str, dict[str, str]]] = {
    "zh-CN": {
        "unknown": "没有这条留存记录（编号有误，或已超过保存期限被删除）。",
        "unreadable": "这条留存记录无法解密（密钥文件与写入时不同）。",
        "hold_rejected": (
            "你发送的一条消息因可能涉及“{category}”被暂缓发送，经平台人工审核，决定不予发布"
            "（编号 {hold}）。说明：{reason}。如有异议，请在这里发送 !appeal 申诉。"
        ),
        "no_reason": "未附说明",
        "not_a_hold": "没有这条待审内容（编号有误，或它是被直接拒绝的内容，无需审核）。",
        "bad_reason": "请填写举报内容（最多 {limit} 字）。",
        "bad_contact": "联系方式最多 {limit} 字。",
        "bad_target": "请填写群组编码（9 位数字）或房间 ID（以 ! 开头）。",
        "unknown_group": "找不到这个群组：请核对群组编码或房间 ID。",
        "bad_category": "举报类别无效，请从以下类别中选择：{categories}。",
        "rate_limited": "同一网络地址一小时内最多提交 {limit} 次举报，请稍后再试。",
        "bad_token": "工单号或查询码不正确。",
        "title": "违法和不良信息举报",
        "intro": (
            "无需注册账号即可举报本平台群组中的违法和不良信息。请填写群组编码（群资料页可见）或房间 ID、"
            "举报类别和具体情况。平台会按规定时限处理；提交后你会得到工单号和查询链接。"
        ),
        "field_code": "群组编码或房间 ID",
        "field_category": "举报类别",
        "field_reason": "具体情况（哪条消息、什么时间、为什么违法或不良）",
        "field_contact": "联系方式（选填，仅平台工作人员可见）",
        "submit": "提交举报",
        "filed": "举报已受理，工单号 {ticket}（类别：{category}），平台将在 {deadline} 前处理。",
        "follow": "请保存下面的查询链接，凭它可以查看处理进度（只显示状态，不显示其他举报人的信息）：",
        "status_title": "举报处理进度",
        "status_line": "工单 {ticket}（{category}）：{status}。",
        "deadline_line": "处理时限：{deadline}。",
        "status.open": "已受理，等待处理",
        "status.in_review": "正在核查",
        "status.resolved": "已处理完毕",
        "status.dismissed": "经核查未发现违规，不予处理",
        "also_12377": "你也可以向中央网信办违法和不良信息举报中心举报：www.12377.cn，电话 12377。",
    },
    "en": {
        "unknown": "There is no such sealed record (a wrong id, or it was deleted at the end of its retention).",
        "unreadable": "This sealed record does not decrypt (the key file differs from the one it was written with).",
        "hold_rejected": (
            "A message you sent was held because it may concern \u201c{category}\u201d. Staff reviewed it and "
            "decided not to publish it (hold {hold}). Note: {reason}. If you disagree, send !appeal here."
        ),
        "no_reason": "none given",
        "not_a_hold": (
            "There is no such held message (a wrong id, or content that was refused outright and needs no review)."
        ),
        "bad_reason": "Please describe what you report (at most {limit} characters).",
        "bad_contact": "The contact may be at most {limit} characters.",
        "bad_target": "Give the group code (nine digits) or the room ID (starting with !).",
        "unknown_group": "No such group: check the group code or room ID.",
        "bad_category": "Unknown report category; choose one of: {categories}.",
        "rate_limited": "One network address may file at most {limit} reports an hour; please try again later.",
        "bad_token": "The ticket number or follow-up code is not right.",
        "title": "Report illegal or harmful content",
        "intro": (
            "You can report illegal or harmful content in this platform's groups without an account. Give the "
            "group code (shown on the group's page) or the room ID, a category and what happened. The platform "
            "handles it within the time the rules set; you get a ticket number and a link to follow it."
        ),
        "field_code": "Group code or room ID",
        "field_category": "Category",
        "field_reason": "What happened (which message, when, why it is illegal or harmful)",
        "field_contact": "Contact (optional, seen by staff only)",
        "submit": "Send report",
        "filed": "Report received: ticket {ticket} (category: {category}). It is handled by {deadline}.",
        "follow": "Keep the link below to follow it (it shows the status only, never other reporters' data):",
        "status_title": "Report status",
        "status_line": "Ticket {ticket} ({category}): {status}.",
        "deadline_line": "Due by {deadline}.",
        "status.open": "received, waiting to be handled",
        "status.in_review": "being reviewed",
        "status.resolved": "handled",
        "status.dismissed": "reviewed, no breach found, no action taken",
        "also_12377": "You can also report to the CAC's reporting centre: www.12377.cn, phone 12377.",
    },
}


def evidence_text(key: str, language: str, **values: object) -> str:
    """The text `key` in `language` (zh-CN when unknown), placeholders filled."""
    texts = _TEXTS.get(language, _TEXTS["zh-CN"])
    return texts[key].format(**values)
