"""What the service account tells people about measures (Art. 11), in both languages.

Every notice says what was done, why, until when, and how to appeal. Times are
shown in China Standard Time. The reason is the one staff wrote for the subject;
it never contains identity data (staff are told so in docs/sanctions.md).
"""

from __future__ import annotations

from policies.display import MEASURE, format_time, label

_TEXTS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "user": "【平台处理通知】根据《互联网群组信息服务管理规定》第十一条，因“{reason}”，平台对你的账号采取了以下措施：{measure}。{until}{credit}处理编号：{id}。如有异议，请在此私信发送 !appeal {id} <理由> 申诉，工作人员会复核。",
        "room": "【平台处理通知】根据《互联网群组信息服务管理规定》第十一条，因“{reason}”，平台对本群采取了以下措施：{measure}。{until}处理编号：{id}。群主如有异议，请私信机器人发送 !appeal {id} <理由> 申诉。",
        "room_owner": "【平台处理通知】你创建的群组 {room} 因“{reason}”被采取以下措施：{measure}。{until}{credit}处理编号：{id}。如有异议，请在此私信发送 !appeal {id} <理由> 申诉。",
        "until": "结束时间：{time}。",
        "deadline": "请在 {time} 前完成整改。",
        "permanent": "该措施长期有效。",
        "credit": "你的信用分由 {before} 变为 {after}（{level} 级）。",
        "lifted": "【平台处理通知】处理 {id}（{measure}）已解除。{reason}",
        "lifted_reason": "说明：{reason}",
        "appeal_received": "已收到你对处理 {id} 的申诉（申诉编号 {appeal}），工作人员会尽快复核并告知结果。",
        "appeal_nothing": "你目前没有可以申诉的处置或被拦截的消息。",
        "appeal_unknown": "没有编号为 {id} 的、针对你的处置或被拦截的消息。请核对编号，或发送 !appeal <理由> 申诉你最近的一项。",
        "appeal_open": "你对 {id} 的申诉正在复核中，请等待结果，不必重复提交。",
        "appeal_upheld": "【申诉结果】你对处理 {id} 的申诉成立，该处理已撤销，扣减的信用分已恢复。说明：{reason}",
        "appeal_rejected": "【申诉结果】你对处理 {id} 的申诉未被采纳，处理维持不变。说明：{reason}",
        "credit_adjusted": "【信用分变动】你的信用分由 {before} 变为 {after}（{level} 级）。原因：{reason}。如有异议，请私信机器人发送 !appeal 申诉。",
    },
    "en": {
        "user": 'Platform notice: under Art. 11 of the Regulations on group information services, because of "{reason}", the platform has taken this measure against your account: {measure}. {until}{credit}Reference: {id}. If you disagree, reply here with !appeal {id} <your reasons>; a person will review it.',
        "room": 'Platform notice: under Art. 11 of the Regulations on group information services, because of "{reason}", the platform has taken this measure against this group: {measure}. {until}Reference: {id}. If the owner disagrees, send !appeal {id} <reasons> to the bot in a direct message.',
        "room_owner": 'Platform notice: the group {room} you created is subject to this measure because of "{reason}": {measure}. {until}{credit}Reference: {id}. If you disagree, reply here with !appeal {id} <your reasons>.',
        "until": "It ends at {time}. ",
        "deadline": "Please rectify by {time}. ",
        "permanent": "It has no end date. ",
        "credit": "Your credit score went from {before} to {after} (level {level}). ",
        "lifted": "Platform notice: measure {id} ({measure}) has been lifted. {reason}",
        "lifted_reason": "Note: {reason}",
        "appeal_received": "Your appeal against measure {id} was received (appeal {appeal}); a person will review it and tell you the result.",
        "appeal_nothing": "There is no measure against you and no refused message of yours to appeal.",
        "appeal_unknown": "No measure against you and no refused message of yours has the reference {id}. Check it, or send !appeal <reasons> to appeal your latest one.",
        "appeal_open": "Your appeal of {id} is being reviewed already; please wait for the result.",
        "appeal_upheld": "Appeal result: your appeal against measure {id} was upheld; the measure is withdrawn and your credit restored. Note: {reason}",
        "appeal_rejected": "Appeal result: your appeal against measure {id} was not upheld; the measure stands. Note: {reason}",
        "credit_adjusted": "Credit change: your credit score went from {before} to {after} (level {level}). Reason: {reason}. If you disagree, send !appeal to the bot.",
    },
}


def _table(language: str) -> dict[str, str]:
    return _TEXTS.get(language, _TEXTS["zh-CN"])


def measure_label(measure: str, language: str) -> str:
    return label(MEASURE, measure, language)


def notice_text(key: str, language: str, **values: object) -> str:
    """The text `key` with `values` filled in."""
    return _table(language)[key].format(**values)


def until_text(measure: str, end_ts: int | None, start_ts: int, language: str) -> str:
    """When the measure ends ('' for an instant one such as a credit reduction)."""
    if end_ts is None:
        return notice_text("permanent", language)
    if end_ts <= start_ts:
        return ""
    key = "deadline" if measure == "warning" else "until"
    return notice_text(key, language, time=format_time(end_ts, language))
