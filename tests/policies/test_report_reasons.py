"""Report-button reasons land in the category they mean (Art. 12): a table of real phrasings."""

from __future__ import annotations

import pytest

from policies import default_policy
from policies.report_reasons import canonical_category, classify_reason
from policies.sanctions import is_severe

POLICY = default_policy()

PHRASINGS: list[tuple[str, str]] = [
    # terrorism and extremism
    ("宣扬恐怖主义", "terrorism"),
    ("这个群在传播暴恐视频", "terrorism"),
    ("有人发宗教极端思想的内容", "terrorism"),
    ("Promoting terrorism", "terrorism"),
    ("recruiting for ISIS", "terrorism"),
    ("extremist propaganda", "terrorism"),
    # child sexual content: never plain pornography
    ("儿童色情", "child_sexual_content"),
    ("他在群里发未成年人的裸照", "child_sexual_content"),
    ("传播儿童 色情图片", "child_sexual_content"),
    ("恋童癖内容", "child_sexual_content"),
    ("Child sexual abuse material", "child_sexual_content"),
    ("CSAM", "child_sexual_content"),
    ("sexual content involving a minor", "child_sexual_content"),
    ("underage nudes", "child_sexual_content"),
    # politics and national security
    ("煽动颠覆国家政权", "politics"),
    ("危害国家安全", "politics"),
    ("宣扬邪教", "politics"),
    ("separatist propaganda", "politics"),
    # prostitution, not pornography or other
    ("卖淫嫖娼", "prostitution"),
    ("賣淫", "prostitution"),
    ("群里有人招嫖，提供上门服务", "prostitution"),
    ("offering escort services", "prostitution"),
    ("prostitution ad", "prostitution"),
    # pornography
    ("色情", "pornography"),
    ("发黄图", "pornography"),
    ("淫秽视频", "pornography"),
    ("Pornographic content", "pornography"),
    ("sharing nudes", "pornography"),
    ("NSFW spam in the room", "pornography"),
    # drugs, weapons
    ("卖冰毒", "drugs"),
    ("有人在群里卖大麻", "drugs"),
    ("He is selling drugs", "drugs"),
    ("私下卖枪支弹药", "weapons"),
    ("selling firearms", "weapons"),
    # gambling, fraud
    ("网赌拉人", "gambling"),
    ("博彩广告", "gambling"),
    ("online casino links", "gambling"),
    ("诈骗", "fraud"),
    ("骗子，让我先交保证金", "fraud"),
    ("刷单返利骗钱", "fraud"),
    ("This is a scam", "fraud"),
    ("ＳＣＡＭ", "fraud"),
    ("phishing link", "fraud"),
    # rumours, violence, privacy
    ("造谣", "rumor"),
    ("散布虚假信息", "rumor"),
    ("spreading fake news", "rumor"),
    ("他威胁要杀人", "violence"),
    ("血腥暴力视频", "violence"),
    ("threatening me", "violence"),
    ("把我的身份证号和家庭住址发到群里了", "privacy"),
    ("人肉搜索", "privacy"),
    ("doxxing", "privacy"),
    # infringement, spam, vulgar
    ("盗版电影资源", "infringement"),
    ("copyright infringement", "infringement"),
    ("诽谤他人", "infringement"),
    ("垃圾广告", "spam"),
    ("一直刷屏", "spam"),
    ("Spam", "spam"),
    ("s p a m", "spam"),
    ("advertising", "spam"),
    ("辱骂他人", "vulgar"),
    ("harassment", "vulgar"),
    # nothing said, or nothing this list knows
    ("", "other"),
    ("   ", "other"),
    ("我不喜欢这个人", "other"),
    ("I just don't like it", "other"),
    ("between you and me", "other"),  # `bet` is a whole word
    ("a difficult conversation", "other"),  # `cult` starts a word
    ("method acting", "other"),  # `meth` is a whole word
]


@pytest.mark.parametrize(("reason", "category"), PHRASINGS)
def test_a_report_reason_lands_in_the_category_it_means(reason: str, category: str) -> None:
    assert classify_reason(reason, POLICY) == category


def test_the_table_covers_every_category_in_both_languages() -> None:
    assert len(PHRASINGS) >= 40
    assert {category for _, category in PHRASINGS} == set(POLICY.reports.categories)
    assert any(reason.isascii() for reason, _ in PHRASINGS)
    assert sum(1 for reason, _ in PHRASINGS if not reason.isascii()) >= 20


def test_a_reason_naming_a_category_by_key_or_label_gets_it() -> None:
    assert classify_reason("涉枪涉爆", POLICY) == "weapons"
    assert classify_reason("child_sexual_content", POLICY) == "child_sexual_content"


@pytest.mark.parametrize("category", ["child_sexual_content", "terrorism"])
def test_child_sexual_content_and_terrorism_are_severe_in_tickets_and_on_the_ladder(category: str) -> None:
    assert POLICY.reports.categories[category].severity == "severe"
    assert POLICY.reports.deadlines["severe"] == 3600
    assert is_severe(category, POLICY)


def test_one_vocabulary_content_rules_and_the_ladder_name_report_categories() -> None:
    assert set(POLICY.sanctions.severe_categories) <= set(POLICY.reports.categories)
    assert POLICY.content.categories["child_sexual_content"].report_category == "child_sexual_content"
    assert canonical_category("cults", POLICY) == "politics"
    assert canonical_category("child_sexual_content", POLICY) == "child_sexual_content"
    assert canonical_category("nonsense", POLICY) is None
    # Categories of tickets stored before the vocabulary grew are all still known.
    for old in ("politics", "terrorism", "fraud", "pornography", "vulgar", "gambling", "infringement", "rumor"):
        assert old in POLICY.reports.categories
