"""Every refusal that tells a person to appeal names what to appeal (policies/appeals.py)."""

from __future__ import annotations

import pytest

from policies import Reason, default_policy, render
from policies.appeals import MEASURES_BEHIND, is_reference


def test_every_refusal_that_says_appeal_has_a_place_for_the_reference_and_a_way_to_find_it() -> None:
    policy = default_policy()
    saying_appeal = [reason for reason in Reason if "申诉" in policy.messages["zh-CN"][reason]]
    assert len(saying_appeal) == 6, saying_appeal
    for reason in saying_appeal:
        for language in ("zh-CN", "en"):
            assert "{ref}" in policy.messages[language][reason], (reason, language)
        # The module looks the measure up, or the content guard mints the reference with the refusal.
        assert reason in MEASURES_BEHIND or reason is Reason.PROHIBITED_CONTENT, reason
    text = render(Reason.PROHIBITED_CONTENT, "zh-CN", {"label": "邪教", "ref": "cb_00aa11"}, policy)
    assert text.endswith("如认为判断有误，请私信机器人发送 !appeal cb_00aa11 <理由> 申诉。")
    text = render(Reason.ADMIN_SUSPENDED, "en", {"ref": "sn_1a"}, policy)
    assert text.endswith("If you disagree, send !appeal sn_1a <reasons> to the bot in a direct message.")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("sn_5f3a", True),
        ("rm_0afeea1a638e1ded", True),
        ("bl_9c41d07e2b5a6f13", True),  # a blacklisting measure
        ("cb_00aa11", True),
        ("sn_", False),
        ("我没有违规", False),
        ("ap_1234", False),  # an appeal, not a decision
        ("sn_" + "a" * 80, False),
    ],
)
def test_references_are_told_from_free_text(value: str, expected: bool) -> None:
    assert is_reference(value) is expected
