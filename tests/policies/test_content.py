"""Content rules (Art. 10): normalisation, matching, allow-list, decisions."""

from __future__ import annotations

import random
import re
import string
import unicodedata

import pytest

from policies import Reason, default_policy, load_policy_from_mapping
from policies.content import (
    _ASCII_LOOKALIKES,
    _CJK,
    ContentHit,
    Matcher,
    TermList,
    _char_table,
    _skeleton,
    content_decision,
    normalise,
    parse_hash_list,
    parse_terms,
    strip_html,
)
from policies.errors import PolicyLoadError

TERMS = TermList("cults", "block", ("法轮功", "sex", "free money", "*coin", "六合彩"))
MATCHER = Matcher([TERMS, TermList("spam", "flag", ("加微信",))], allow=["魔法轮盘", "sex ed"])


@pytest.mark.parametrize(
    ("variant", "text"),
    [
        ("plain", "他们在练法轮功"),
        ("full-width latin", "ＳＥＸ"),
        ("full-width with CJK", "法轮功　ｓｅｘ"),
        ("traditional", "法輪功"),
        ("traditional, other term", "六合彩"),
        ("zero-width space", "法\u200b轮\u200b功"),
        ("zero-width joiner and non-joiner", "法\u200d轮\u200c功"),
        ("word joiner and BOM", "法\u2060轮\ufeff功"),
        ("soft hyphen", "s\u00adex"),
        ("combining marks", "s\u0336e\u0336x\u0336"),
        ("variation selector", "法\ufe0f轮功"),
        ("dot separator", "法.轮.功"),
        ("space separator", "法 轮 功"),
        ("underscore separator", "法_轮_功"),
        ("mixed separators", "法-*-轮/ /功"),
        ("ideographic punctuation", "法，轮。功"),
        ("emoji separator", "法🙂轮🙂功"),
        ("HTML tags in formatted_body", strip_html("法<b>轮</b>功")),
        ("mixed case", "SeX"),
        ("spaced letters", "s e x"),
        ("dotted letters", "S.E.X"),
        ("cyrillic homoglyphs", "ѕех"),
        ("greek homoglyphs", "fr\u03b5\u03b5 m\u03bfn\u03b5y"),
        ("digit look-alikes", "s3x"),
        ("symbol look-alikes", "fr33 m0n3y"),
        ("math bold", "\U0001d42c\U0001d41e\U0001d431"),
        ("circled letters", "ⓢⓔⓧ"),
        ("accents", "séx"),
        ("multiword term, other separators", "FREE---money!!"),
        ("open-ended term inside a word", "buy bitcoin now"),
        ("kangxi radical / compatibility ideograph", "法轮\u529f"),
        ("term inside chinese text", "快来看sex视频"),
        ("traditional with separators and width", "法．輪 \u200b功"),
    ],
)
def test_evasion_variant_is_caught(variant: str, text: str) -> None:
    assert MATCHER.scan(text) == ContentHit("cults", "block"), variant


@pytest.mark.parametrize(
    ("case", "text"),
    [
        ("empty", ""),
        ("only separators", " ... ，。 "),
        ("part of a CJK term", "法轮很好看"),
        ("other half of a CJK term", "轮功"),
        ("allow-listed phrase containing a term prefix", "魔法轮盘"),
        ("latin term inside a longer word", "Sussex and Essex"),
        ("latin term as a prefix", "sexton"),
        ("allow-listed latin phrase", "sex ed is taught at school"),
        ("multiword term split differently", "freemoney"),
        ("closed term with a prefix", "coins"),
        ("letters of a term spread in words", "s ex"),
        ("innocent chinese", "今天天气很好，我们去公园散步吧。"),
        ("innocent english", "The exam is next week; please review chapter six."),
        ("numbers", "2024年10月1日 13:45"),
        ("a user id and a url", "@alice:example.org https://example.org/path?q=1"),
    ],
)
def test_innocent_text_is_not_caught(case: str, text: str) -> None:
    assert MATCHER.scan(text) is None, case


def test_the_strongest_action_wins_over_the_first_hit() -> None:
    matcher = Matcher(
        [TermList("spam", "flag", ("加微信",)), TermList("rumor", "hold", ("假消息",)), TERMS],
    )
    assert matcher.scan("加微信 看假消息 法轮功") == ContentHit("cults", "block")
    assert matcher.scan("加微信 看假消息") == ContentHit("rumor", "hold")
    assert matcher.scan("加 微 信") == ContentHit("spam", "flag")


def test_scan_all_checks_each_text_alone() -> None:
    # The end of one field and the start of the next do not make a term.
    assert MATCHER.scan_all(["法轮", "功"]) is None
    assert MATCHER.scan_all(["hello", "法轮功"]) == ContentHit("cults", "block")


def test_one_term_in_two_categories_reports_the_stronger() -> None:
    matcher = Matcher([TermList("a", "flag", ("词语",)), TermList("b", "hold", ("詞語",))])
    assert matcher.scan("词语") == ContentHit("b", "hold")


def test_empty_lists_match_nothing() -> None:
    assert Matcher([]).scan("anything") is None
    assert Matcher([TermList("x", "block", ("  ", "***", "。"))]).scan("anything 。") is None


def test_ascii_fast_path_equals_the_unicode_path() -> None:
    # The byte-table shortcut for ASCII must give exactly the general pipeline's result;
    # an appended non-ASCII separator forces the general path.
    rng = random.Random(6)
    alphabet = string.printable + "\x00\x07\x1b\x7f"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert _skeleton(text) == _skeleton(text + "\u3000").rstrip(), repr(text)


def _reference_skeleton(text: str) -> str:
    """The skeleton the straightforward way, one step after the other (module docstring).

    ``_skeleton`` skips and merges these steps for speed; it must give exactly this.
    Only the character table is shared: building it is not what is being checked.
    """
    text = unicodedata.normalize("NFKD", text).casefold()
    text = text.replace("@", "a").replace("$", "s")
    text = text.translate(_char_table()[0])
    text = re.sub(r"[\W_]+", " ", text)
    text = re.sub(rf"(?<=[{_CJK}]) (?=[{_CJK}])", "", text)
    text = text.strip().translate(str.maketrans("".join(_ASCII_LOOKALIKES), "".join(_ASCII_LOOKALIKES.values())))
    # Spaced letters close up on the UTF-8 bytes, where the automaton runs.
    spaced = r" (?<=\b[a-z0-9] )[a-z0-9](?: [a-z0-9]\b)+"
    return re.sub(spaced, lambda match: match.group().replace(" ", ""), text.encode("utf-8").decode("latin-1"))


# Characters that exercise every step: each group is picked as often as the others.
_RANDOM_ALPHABETS = (
    string.ascii_letters + string.digits,
    string.punctuation + " _@$",
    " \t\n\r\x00\x07\x1b\x7f",
    "法轮功六合彩加微信魔盘今天的会议改到下午三点请大家",  # simplified CJK (terms and text)
    "法輪頭髮臺灣語詞會議點請",  # traditional: the char table
    "，。！？：；、「」《》…—“”・゠\u3000",  # ideographic and full-width punctuation
    "ＡＢｓｅｘ０１２３",  # full-width letters and digits
    "ѕехаоАВЕΑΒΕεοΣσςΩ",  # Cyrillic and Greek look-alikes, capitals: case folding
    "éÉßẞİıŁłøﬁ①ⓢ℡㎏",  # accents, special case folding, compatibility forms
    "\u0300\u0336\u20dd\u00ad\u200b\u200c\u200d\u2060\ufeff\ufe0f",  # combining, invisible
    "⺀⺁⼈⽔\uf900\uf9dc々〇〡ぁアㄅ",  # radicals (some are symbols), compatibility ideographs, kana
    "🙂👍🏽\U0001d42c\U00020000\U0002a6d6\U000e0041\U000e0100",  # beyond the BMP
    "한국어ÀÿĀ\u0600\u0e01\ud800",  # other scripts, a lone surrogate
)


def _random_text(rng: random.Random) -> str:
    chars = []
    for _ in range(rng.randint(0, 40)):
        if rng.random() < 0.05:
            chars.append(chr(rng.randrange(0x110000)))  # anything at all
        else:
            chars.append(rng.choice(rng.choice(_RANDOM_ALPHABETS)))
        if rng.random() < 0.3:
            chars.append(" ")  # spaced letters, CJK gaps, runs of separators
    return "".join(chars)


def test_skeleton_equals_the_reference_pipeline_on_random_text() -> None:
    # The fast paths (byte tables, skipped passes, separators in several passes) must
    # not change a single skeleton; the matcher sees nothing but the skeleton.
    rng = random.Random(10)
    for _ in range(20_000):
        text = _random_text(rng)
        assert _skeleton(text) == _reference_skeleton(text), repr(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ＦＵＬＬ　ｗｉｄｔｈ", "fuii width"),
        ("臺灣 頭髮", "台湾头发"),
        ("法 . 轮", "法轮"),
        ("ab  cd,ef", "ab cd ef"),
        ("a b c", "abc"),
        ("s e x y", "sexy"),
        ("hello 世界", "heiio 世界"),
    ],
)
def test_normalise_examples(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_parse_terms_skips_comments_and_blank_lines() -> None:
    text = "# header\n\n 法轮功 \n\\#hashtag\n  # indented comment\nfree money\n"
    assert parse_terms(text) == ["法轮功", "#hashtag", "free money"]


def test_parse_hash_list_accepts_digests_and_names_a_bad_line() -> None:
    digest = "ab" * 32
    assert parse_hash_list(f"# c\n{digest.upper()}  # trailing\n\n", "x.txt") == {digest}
    with pytest.raises(ValueError, match=r"x\.txt: line 2 "):
        parse_hash_list(f"{digest}\nnot-a-digest\n", "x.txt")


def test_strip_html_drops_tags_and_reply_fallback() -> None:
    html = "<mx-reply><blockquote>quoted 法轮功</blockquote></mx-reply><p>new &amp; <b>text</b></p>"
    text = strip_html(html)
    assert "法轮功" not in text
    assert " ".join(text.split()) == "new & text"


def test_block_and_hold_refuse_naming_the_category_flag_allows() -> None:
    policy = default_policy()
    block = content_decision(ContentHit("cults", "block"), policy, "zh-CN")
    assert block.reason is Reason.PROHIBITED_CONTENT
    assert block.detail["category"] == "cults"
    assert block.detail["label"] == policy.content.categories["cults"].labels["zh-CN"]
    assert "held" not in block.detail
    hold = content_decision(ContentHit("rumor", "hold"), policy, "en", ticket="K7Q2MZ4A")
    assert hold.reason is Reason.PROHIBITED_CONTENT
    assert hold.detail["held"] is True
    assert hold.detail["ticket"] == "K7Q2MZ4A"
    assert content_decision(ContentHit("spam", "flag"), policy, "zh-CN").allowed
    assert content_decision(None, policy, "zh-CN").allowed


def test_the_default_policy_covers_the_categories_of_the_ecology_rules() -> None:
    categories = default_policy().content.categories
    # 网络信息内容生态治理规定: Art. 6 (11 kinds, pornography split from child sexual content
    # and gambling, violence split out of item 9), Art. 7 (9 kinds), fraud and spam.
    assert len(categories) == 25
    assert {"terrorism", "child_sexual_content", "fraud", "gambling"} <= set(categories)
    assert all(rule.action == "flag" for name, rule in categories.items() if name in ("vulgar", "spam", "clickbait"))


@pytest.mark.parametrize(
    ("override", "path"),
    [
        (
            {"content": {"categories": {"cults": {"report_category": "nope"}}}},
            "content.categories.cults.report_category",
        ),
        ({"content": {"encryption": {"allowed_categories": ["nope"]}}}, "content.encryption.allowed_categories.0"),
        ({"content": {"media_hashes": {"category": "nope"}}}, "content.media_hashes.category"),
        ({"content": {"categories": {"cults": {"action": "delete"}}}}, "content.categories.cults.action"),
    ],
)
def test_bad_content_policy_names_the_key(override: dict[str, object], path: str) -> None:
    with pytest.raises(PolicyLoadError, match=path.replace(".", r"\.")):
        load_policy_from_mapping(override)
