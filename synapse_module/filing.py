"""The filing document (备案材料, Art. 7): the management rules in force and current statistics.

Rendered from the active policy (never from hand-written text, so the filed
document cannot drift from what the server enforces) and from the module's
tables. One document model, two renderings: Markdown for review and version
control, and an A4 HTML page that prints like a document a person would file.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from policies import Policy
from policies.api import FilingStatistics, GroupCount, MeasureCount, ReportCount
from policies.federation import filing_sentence
from policies.messages import china_datetime
from policies.tiers import level_of

from .export import iso
from .sanction_texts import measure_label
from .store.records import RecordsStore

if TYPE_CHECKING:
    from synapse.module_api import ModuleApi

    from .clock import Clock
    from .emergency import Emergency
    from .facts import FactsSource
    from .groups import Groups

SUBJECT_LABELS: Final = {"room": "群组", "admin": "群主、管理员", "member": "群成员"}
RISK_LABELS: Final = {"normal": "一般", "elevated": "较高", "high": "高"}
SEVERITY_LABELS: Final = {"severe": "紧急（危害严重）", "illegal": "违法", "other": "其他"}
ACTION_LABELS: Final = {"post": "发布信息", "create": "创建群组", "invite": "邀请成员"}
CONTENT_ACTION_LABELS: Final = {"block": "拦截", "hold": "拦截并人工审核", "flag": "放行并人工审核"}


def duration_text(seconds: int | None) -> str:
    """A duration in Chinese (`None`: permanent, 0: immediate)."""
    if seconds is None:
        return "永久"
    if seconds == 0:
        return "即时"
    for unit, name in ((86400, "天"), (3600, "小时"), (60, "分钟")):
        if seconds % unit == 0:
            return f"{seconds // unit} {name}"
    return f"{seconds} 秒"


def month_of(ts_ms: int) -> str:
    # Clamped like every stored time shown to people: a bad row never breaks the document.
    return china_datetime(ts_ms).strftime("%Y-%m")


# -- statistics ------------------------------------------------------------------------------


@dataclass
class Statistics:
    """Numbers shown in the document; each names where it came from."""

    groups_by_category_tier: Counter[tuple[str, str]] = field(default_factory=Counter)
    groups_closed: int = 0
    users_by_level: Counter[str] = field(default_factory=Counter)
    measures_by_month: Counter[tuple[str, str]] = field(default_factory=Counter)
    reports_by_month: Counter[tuple[str, str]] = field(default_factory=Counter)
    active_freezes: int = 0

    def record(self) -> FilingStatistics:
        return FilingStatistics(
            groups=[
                GroupCount(category=c, tier=t, count=n) for (c, t), n in sorted(self.groups_by_category_tier.items())
            ],
            groups_closed=self.groups_closed,
            users_by_level=dict(sorted(self.users_by_level.items())),
            measures_by_month=[
                MeasureCount(month=m, measure=k, count=n) for (m, k), n in sorted(self.measures_by_month.items())
            ],
            reports_by_month=[
                ReportCount(month=m, source=k, count=n) for (m, k), n in sorted(self.reports_by_month.items())
            ],
            active_freezes=self.active_freezes,
        )


class Filing:
    """The filing document (备案) from the policy and the module's own records."""

    def __init__(
        self, api: ModuleApi, clock: Clock, policy: Policy, *, groups: Groups, facts: FactsSource, emergency: Emergency
    ) -> None:
        self._api = api
        self._clock = clock
        self._policy = policy
        self._groups = groups
        self._facts = facts
        self._emergency = emergency

    async def document(self, fmt: str) -> tuple[str, FilingStatistics]:
        """The rendered document (`markdown` or `html`) and the statistics behind it."""
        stats = await self.statistics()
        blocks = document(self._policy, stats, self._api.server_name, self._clock.now_ms())
        rendered = render_html(blocks) if fmt == "html" else render_markdown(blocks)
        return rendered, stats.record()

    async def statistics(self) -> Statistics:
        """Count groups, users, measures and reports from the module's tables (absent tables count 0)."""
        records = RecordsStore(self._api)
        policy = self._policy
        stats = Statistics()
        await self._groups.link_pending()  # rooms created a moment ago are groups too
        groups = await records.column_values(
            "qunzu_groups",
            ["category", "scale_tier", "retired_ts"],
            "WHERE room_id IS NOT NULL AND verification_dm = 0 AND private_chat = 0",
        )
        for row in groups.rows:
            if row["retired_ts"] is None:
                stats.groups_by_category_tier[(str(row["category"]), str(row["scale_tier"]))] += 1
            else:
                stats.groups_closed += 1
        verified = await records.column_values(
            "qunzu_identities", ["user_id"], "WHERE status = 'verified' AND deactivated_ts IS NULL"
        )
        # The level the gate itself uses (credit ledger with recovery, or the initial score).
        for row in verified.rows:
            user = await self._facts.user(str(row["user_id"]))
            score = user.credit_score if user.credit_score is not None else policy.credit.initial
            stats.users_by_level[level_of(score, policy)] += 1
        blacklist = await records.column_values("qunzu_blacklist", ["created_ts"])
        for row in blacklist.rows:
            stats.measures_by_month[(month_of(int(row["created_ts"])), "blacklist_entry")] += 1
        sanctions = await records.column_values("qunzu_sanctions", ["start_ts", "measure"])
        for row in sanctions.rows:
            stats.measures_by_month[(month_of(int(row["start_ts"])), str(row["measure"]))] += 1
        tickets = await records.column_values("qunzu_tickets", ["created_ts", "source"])
        for row in tickets.rows:
            stats.reports_by_month[(month_of(int(row["created_ts"])), str(row["source"]))] += 1
        stats.active_freezes = len(await self._emergency.active())
        return stats


# -- the document model --------------------------------------------------------------------------

Block = tuple[str, Any]  # ("h1"|"h2"|"p"|"ul"|"table"|"pre"|"sign", payload)

SOURCE_LABELS: Final = {
    "user_report": "用户举报",
    "matrix_report": "客户端举报",
    "content_flag": "内容规则标记",
    "content_hold": "内容规则拦截待审",
}


def _yes(value: bool) -> str:
    return "是" if value else "否"


def document(policy: Policy, stats: Statistics, server_name: str, now_ms: int) -> list[Block]:
    """The filing document as blocks, in the order of the Regulations."""
    tiers = {tier.name: tier.labels["zh-CN"] for tier in policy.scale_tiers.tiers}
    categories = policy.categories.known
    doc: list[Block] = [
        ("h1", "互联网群组信息服务管理规则备案材料"),
        (
            "table",
            (
                ("项目", "内容"),
                [
                    ("服务名称", f"{server_name} 群组信息服务"),
                    ("依据", "《互联网群组信息服务管理规定》（国家互联网信息办公室，2017 年 10 月 8 日起施行）"),
                    ("平台公约版本", policy.convention.version),
                    ("材料生成时间", iso(now_ms)),
                ],
            ),
        ),
        ("p", "本材料由平台系统根据当前生效的管理策略自动生成，所列规则即平台实际执行的规则。"),
        ("h2", "一、平台公约与服务协议（第五条）"),
        ("pre", policy.convention.text["zh-CN"].strip()),
        ("h2", "二、真实身份信息认证（第六条）"),
        (
            "ul",
            [
                "需要实名认证的操作：" + "、".join(ACTION_LABELS.get(a, a) for a in policy.realname.required_for),
                f"认证等级要求：{policy.realname.required_level} 级",
                f"同一身份最多认证账号数：{policy.realname.max_accounts_per_identity} 个",
                f"每个账号每日认证尝试次数：{policy.realname.attempts_per_day} 次",
                f"免实名加入的群规模上限：{tiers.get(policy.realname.join_without_verification_up_to_tier, '')}群",
                "后台实名、前台自愿：昵称由用户自行设置；身份信息加密存储，仅经授权并说明理由后方可查看，查看行为记入审计日志。",
                # Art. 6: the sentence the module's federation rules enforce (policies/federation.py).
                "跨服务器互通（联邦）：" + filing_sentence(policy),
            ],
        ),
        ("h2", "三、分级分类管理（第七条、第八条）"),
        ("p", "（一）群组类别"),
        (
            "table",
            (
                ("类别代码", "类别名称", "风险等级", "是否启用"),
                [(name, c.labels["zh-CN"], RISK_LABELS[c.risk], _yes(c.enabled)) for name, c in categories.items()],
            ),
        ),
        ("p", "（二）按风险等级对建群者的分级审核"),
        (
            "table",
            (
                ("风险等级", "群主最低信用等级", "最低认证等级", "加入均需审核"),
                [
                    (
                        RISK_LABELS[risk],
                        rule.min_creator_level or "可建群的任一等级",
                        str(rule.min_verification_level),
                        _yes(rule.join_approval_always),
                    )
                    for risk, rule in policy.categories.risk_rules.items()
                ],
            ),
        ),
        ("p", "（三）群组规模分级"),
        (
            "table",
            (
                ("规模等级", "名称", "成员数上限"),
                [(t.name, t.labels["zh-CN"], str(t.max_members)) for t in policy.scale_tiers.tiers],
            ),
        ),
        (
            "ul",
            [
                f"单个群组成员数上限：{policy.scale_tiers.ceiling} 人",
                f"成员达 {policy.scale_tiers.info_page_from_members} 人起公示群组信息页（名称、人数、类别）",
                f"{tiers.get(policy.scale_tiers.approval_from_tier, '')}群及以上加入需经审核",
                f"{tiers.get(policy.scale_tiers.staff_decision_tier, '')}群须经平台人工决定",
                "每个群组分配唯一的九位群组识别码（含校验位），不重复使用。",
            ],
        ),
        ("p", f"（四）活跃度分级（统计最近 {policy.activity_tiers.window_days} 天消息数）"),
        (
            "table",
            (
                ("活跃等级", "消息数"),
                [
                    (t.name, f"少于 {t.below}" if t.below is not None else "不设上限")
                    for t in policy.activity_tiers.tiers
                ],
            ),
        ),
        ("h2", "四、用户信用等级管理（第七条、第八条）"),
        (
            "p",
            f"信用分范围 {policy.credit.min}–{policy.credit.max} 分，完成实名认证时为 {policy.credit.initial} 分；"
            f"连续 {policy.credit.recovery.every_days} 天无违规恢复 {policy.credit.recovery.points} 分。",
        ),
        (
            "table",
            (
                ("信用等级", "最低分", "可建群数", "群规模上限", "可加入群数", "可建群", "可邀请", "可发言"),
                [
                    (
                        level,
                        str(rules.min_score),
                        str(rules.rooms_owned),
                        tiers.get(rules.max_room_tier, "—") if rules.max_room_tier else "—",
                        str(rules.rooms_joined),
                        _yes(rules.may_create),
                        _yes(rules.may_invite),
                        _yes(rules.may_post),
                    )
                    for level, rules in policy.credit.levels.items()
                ],
            ),
        ),
        ("h2", "五、违法违规处置措施（第十一条）"),
        (
            "p",
            f"同一对象在 {policy.sanctions.repeat_window_days} 天内再次违规的，按下表逐级升级；"
            "涉及"
            + "、".join(
                policy.reports.categories[name].labels.get("zh-CN", name) for name in policy.sanctions.severe_categories
            )
            + "等严重情形的，直接采取最后一级措施。"
            "每项措施均通知当事人处置理由、期限和申诉方式，申诉由人工复核。",
        ),
    ]
    for kind, steps in policy.sanctions.ladders.items():
        doc.append(("p", f"对{SUBJECT_LABELS.get(kind, kind)}："))
        doc.append(
            (
                "table",
                (
                    ("步骤", "措施", "期限", "信用分变化", "纳入黑名单"),
                    [
                        (
                            str(i),
                            measure_label(s.measure, "zh-CN"),
                            duration_text(s.duration),
                            str(s.credit_delta),
                            _yes(s.blacklist),
                        )
                        for i, s in enumerate(steps, 1)
                    ],
                ),
            )
        )
    doc += [
        ("p", "黑名单：以实名身份为准，覆盖该身份认证的全部账号，禁止其重新认证新账号。"),
        ("h2", "六、违法违规信息处置（第十条）"),
        (
            "table",
            (
                ("内容类别", "处置方式"),
                [
                    (c.labels["zh-CN"], CONTENT_ACTION_LABELS.get(c.action, c.action))
                    for c in policy.content.categories.values()
                    if c.enabled
                ],
            ),
        ),
        ("h2", "七、投诉举报（第十二条）"),
        ("p", "举报入口：群内发送 !举报、客户端举报按钮、平台接口；举报人立即获得工单号，处理结束后获知结果。"),
        (
            "table",
            (
                ("举报类别", "紧急程度", "处理时限"),
                [
                    (
                        c.labels["zh-CN"],
                        SEVERITY_LABELS[c.severity],
                        duration_text(policy.reports.deadlines[c.severity]),
                    )
                    for c in policy.reports.categories.values()
                ],
            ),
        ),
        ("h2", "八、信息记录与留存（第十三条）"),
        (
            "ul",
            [
                f"网络日志与审计日志留存期限：{policy.retention.days} 天（不少于六个月），期满后分批删除。",
                "网络日志记录发布的全部信息（内容加密存储）、成员变动、建群、资料修改及登录（IP 地址、设备、客户端）。",
                "用户撤回信息、群组解散或账号注销后，相关记录仍按期限留存。",
                "审计日志以密钥链式校验，任何篡改、删除均可被发现；期满清理前写入签名检查点，校验链不断。",
                "可按时间段和对象导出记录，附清单与 SHA-256 校验值，供主管部门依法调取。",
            ],
        ),
        ("h2", "九、应急处置（第五条）"),
        (
            "p",
            "发生突发事件时，平台可即时对全平台、某一类别群组或指定群组暂停发言、加入和邀请，并在受影响群组内发布通知；"
            f"处置及解除均记入审计日志。当前生效的应急处置：{stats.active_freezes} 项。",
        ),
        ("h2", "十、统计数据"),
        ("p", f"统计时间：{iso(now_ms)}"),
        ("p", "（一）群组数量（按类别和规模）"),
        (
            "table",
            (
                ("类别", "规模", "群组数"),
                [
                    (categories[c].labels["zh-CN"] if c in categories else c, tiers.get(t, t), str(n))
                    for (c, t), n in sorted(stats.groups_by_category_tier.items())
                ]
                + [
                    ("合计（运行中）", "", str(sum(stats.groups_by_category_tier.values()))),
                    ("已关闭", "", str(stats.groups_closed)),
                ],
            ),
        ),
        ("p", "（二）实名用户数量（按信用等级）"),
        (
            "table",
            (
                ("信用等级", "用户数"),
                [(level, str(stats.users_by_level.get(level, 0))) for level in policy.credit.levels]
                + [("合计", str(sum(stats.users_by_level.values())))],
            ),
        ),
        ("p", "（三）处置措施（按月）"),
        (
            "table",
            (
                ("月份", "措施", "次数"),
                [(m, measure_label(k, "zh-CN"), str(n)) for (m, k), n in sorted(stats.measures_by_month.items())]
                or [("—", "无", "0")],
            ),
        ),
        ("p", "（四）举报与内容审核工单（按月）"),
        (
            "table",
            (
                ("月份", "来源", "件数"),
                [(m, SOURCE_LABELS.get(k, k), str(n)) for (m, k), n in sorted(stats.reports_by_month.items())]
                or [("—", "无", "0")],
            ),
        ),
        ("sign", None),
    ]
    return doc


# -- renderings ---------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(blocks: Iterable[Block]) -> str:
    out: list[str] = []
    for kind, payload in blocks:
        if kind == "h1":
            out.append(f"# {payload}\n")
        elif kind == "h2":
            out.append(f"## {payload}\n")
        elif kind == "p":
            out.append(f"{payload}\n")
        elif kind == "pre":
            out.append("\n".join(f"> {line}" if line else ">" for line in str(payload).splitlines()) + "\n")
        elif kind == "ul":
            out.append("\n".join(f"- {item}" for item in payload) + "\n")
        elif kind == "table":
            header, rows = payload
            lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in rows]
            out.append("\n".join(lines) + "\n")
        elif kind == "sign":
            out.append(
                "填报单位（盖章）：________________　　负责人（签字）：____________　　日期：______年____月____日\n"
            )
    return "\n".join(out)


_CSS: Final = """
@page { size: A4; margin: 25mm 20mm; }
body { font-family: "SimSun", "Songti SC", "Noto Serif CJK SC", serif; font-size: 12pt; line-height: 1.7;
       color: #000; max-width: 170mm; margin: 2em auto; }
h1 { font-family: "SimHei", "Heiti SC", "Noto Sans CJK SC", sans-serif; font-size: 20pt; text-align: center;
     margin: 0 0 1em; letter-spacing: 0.1em; }
h2 { font-family: "SimHei", "Heiti SC", "Noto Sans CJK SC", sans-serif; font-size: 14pt; margin: 1.4em 0 0.5em;
     page-break-after: avoid; }
table { border-collapse: collapse; width: 100%; margin: 0.4em 0 0.8em; page-break-inside: avoid; }
th, td { border: 1px solid #000; padding: 3px 6px; text-align: left; vertical-align: top; font-size: 10.5pt; }
th { background: #eee; }
blockquote { border-left: 3px solid #999; margin: 0.5em 0; padding: 0.2em 1em; white-space: pre-wrap; }
.sign { margin-top: 3em; line-height: 3; }
"""


def render_html(blocks: Sequence[Block]) -> str:
    esc = html.escape
    title = next((str(payload) for kind, payload in blocks if kind == "h1"), "备案材料")
    out = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>",
    ]
    for kind, payload in blocks:
        if kind in ("h1", "h2", "p"):
            out.append(f"<{kind}>{esc(str(payload))}</{kind}>")
        elif kind == "pre":
            out.append(f"<blockquote>{esc(str(payload))}</blockquote>")
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{esc(item)}</li>" for item in payload) + "</ul>")
        elif kind == "table":
            header, rows = payload
            head = "".join(f"<th>{esc(cell)}</th>" for cell in header)
            body = "".join("<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>" for row in rows)
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif kind == "sign":
            out.append(
                '<div class="sign">填报单位（盖章）：________________<br>'
                "负责人（签字）：________________<br>日期：______年____月____日</div>"
            )
    out.append("</body></html>")
    return "\n".join(out)
