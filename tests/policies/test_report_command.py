"""The one reading of `!report` that the bot and the module share (policies/commands.py)."""

from __future__ import annotations

import pytest

from policies.commands import ReportCommand, parse_report

CATEGORIES = {
    "fraud": {"zh-CN": "诈骗", "en": "Fraud"},
    "other": {"zh-CN": "其他", "en": "Other"},
}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("!report fraud 骗钱", ReportCommand("fraud", "骗钱", None, "fraud")),
        ("!举报 诈骗 先转账五千元", ReportCommand("fraud", "先转账五千元", None, "诈骗")),
        ("！举报 诈骗", ReportCommand("fraud", "", None, "诈骗")),  # the full-width prefix of Chinese input
        ("!REPORT Fraud", ReportCommand("fraud", "", None, "Fraud")),
        ("!举报诈骗 骗钱", ReportCommand("fraud", "骗钱", None, "诈骗")),  # typed without a space
        ("> <@bad:hs> 先转账\n\n!report other 广告", ReportCommand("other", "广告", None, "other")),
        ("  !report   other  “很长 的理由”", ReportCommand("other", "“很长 的理由”", None, "other")),
        # Mistyped report commands are report commands too: they would expose the reporter as well.
        ("!report", ReportCommand(None, "", "missing_category")),
        ("!举报", ReportCommand(None, "", "missing_category")),
        ("!report spam 刷屏", ReportCommand(None, "刷屏", "unknown_category", "spam")),
    ],
)
def test_report_commands_are_read_in_every_localised_form(body: str, expected: ReportCommand) -> None:
    assert parse_report(body, CATEGORIES) == expected


@pytest.mark.parametrize(
    "body",
    [
        "我要举报他",
        "report fraud",
        "! report fraud",
        "!help",
        "!!report fraud",
        "",
        "!repor fraud",
        "举报 诈骗",
        "!reports overdue",  # the staff's ticket list
        "!reportage",
    ],
)
def test_other_messages_are_not_report_commands(body: str) -> None:
    assert parse_report(body, CATEGORIES) is None


def test_another_bot_prefix_is_read_and_the_full_width_one_always() -> None:
    assert parse_report("?report fraud", CATEGORIES, prefix="?") == ReportCommand("fraud", "", None, "fraud")
    assert parse_report("！举报 诈骗", CATEGORIES, prefix="?") == ReportCommand("fraud", "", None, "诈骗")
