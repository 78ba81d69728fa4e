"""Command parsing and the registry."""

from __future__ import annotations

import pytest

from bot.commands import Command, CommandSpec, Registry, Scope, direct_chat_meaning, parse_command, split_args
from bot.handlers import builtin_registry


async def _noop(ctx) -> None:
    return None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("!help", Command("help", [], "")),
        ("!HELP", Command("help", [], "")),
        ("  !Help  ", Command("help", [], "")),
        ("!帮助", Command("帮助", [], "")),
        ("！帮助", Command("帮助", [], "")),
        ("！help me", Command("help", ["me"], "me")),
        (
            "!report fraud 这个人骗钱 快处理",
            Command("report", ["fraud", "这个人骗钱", "快处理"], "fraud 这个人骗钱 快处理"),
        ),
        ('!report fraud "fake shop" now', Command("report", ["fraud", "fake shop", "now"], 'fraud "fake shop" now')),
        ("!举报 诈骗 “假冒 客服” 骗钱", Command("举报", ["诈骗", "假冒 客服", "骗钱"], "诈骗 “假冒 客服” 骗钱")),
        ("!举报\u3000诈骗\u3000理由", Command("举报", ["诈骗", "理由"], "诈骗\u3000理由")),
        ("!announce line one\nline two", Command("announce", ["line", "one", "line", "two"], "line one\nline two")),
        ("!warn @bob:x don't spam", Command("warn", ["@bob:x", "don't", "spam"], "@bob:x don't spam")),
        ('!warn "unclosed quote', Command("warn", ['"unclosed', "quote"], '"unclosed quote')),
        ("!mute @u 7d 「刷屏 广告」", Command("mute", ["@u", "7d", "刷屏 广告"], "@u 7d 「刷屏 广告」")),
        ('!x ""', Command("x", [""], '""')),
    ],
)
def test_parse_commands(text, expected):
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    "text",
    ["help", "hello !help", "!", "！", "! help", "!!help", "", "   ", "> quoted !help", "我 !帮助"],
)
def test_not_a_command(text):
    assert parse_command(text) is None


def test_configured_prefix_and_full_width_both_work():
    assert parse_command("?help", prefix="?") == Command("help", [], "")
    assert parse_command("！help", prefix="?") == Command("help", [], "")
    assert parse_command("!help", prefix="?") is None


def test_split_args_keeps_chinese_and_quotes():
    assert split_args("「群 规」 ‘单引号’ 『书名』 \"a b\" 'c d'") == ["群 规", "单引号", "书名", "a b", "c d"]
    assert split_args("   ") == []


def test_registry_lookup_by_english_or_chinese_name_case_insensitive():
    reg = Registry()
    spec = reg.add(CommandSpec("report", _noop, aliases=("举报", "Jubao")))
    assert reg.lookup("report") is spec
    assert reg.lookup("REPORT") is spec
    assert reg.lookup("举报") is spec
    assert reg.lookup("jubao") is spec
    assert reg.lookup("reports") is None


def test_registry_decorator_registers_handler():
    reg = Registry()

    @reg.command("ping", aliases=("乒",), scope=Scope.DM, summary={"en": "pong"})
    async def ping(ctx) -> None:
        return None

    spec = reg.lookup("乒")
    assert spec is not None
    assert spec.handler is ping
    assert spec.scope == Scope.DM
    assert spec.summary_in("zh-CN") == ""  # no zh-CN and no default: empty, never a crash
    assert spec.summary_in("en") == "pong"


def test_registry_refuses_a_name_used_by_another_command():
    reg = Registry()
    reg.add(CommandSpec("report", _noop, aliases=("举报",)))
    with pytest.raises(ValueError, match="举报"):
        reg.add(CommandSpec("complain", _noop, aliases=("举报",)))


def test_registry_replacing_a_command_drops_its_old_aliases():
    reg = Registry()
    reg.add(CommandSpec("report", _noop, aliases=("举报",)))
    reg.add(CommandSpec("report", _noop, aliases=("投诉",)))
    assert reg.lookup("举报") is None
    assert reg.lookup("投诉") is not None
    assert len(reg) == 1


def test_copy_is_independent():
    reg = builtin_registry()
    reg.add(CommandSpec("boom", _noop))
    assert builtin_registry().lookup("boom") is None
    assert reg.lookup("boom") is not None


def test_builtins_have_chinese_names_usage_and_summaries():
    reg = builtin_registry()
    for name in ("help", "帮助", "me", "我的"):
        assert reg.lookup(name) is not None
    for spec in reg:
        assert any(not a.isascii() for a in spec.aliases), spec.name
        for lang in ("zh-CN", "en"):
            assert spec.summary_in(lang)
            assert spec.usage_in(lang).startswith("!")


def test_display_name_and_usage_follow_language_and_prefix():
    spec = CommandSpec("help", _noop, aliases=("帮助",), usage={"en": "!help", "zh-CN": "!帮助"})
    assert spec.name_in("zh-CN") == "帮助"
    assert spec.name_in("en") == "help"
    assert spec.usage_in("zh-CN", prefix="?") == "?帮助"
    assert CommandSpec("x", _noop).usage_in("en") == "!x"


@pytest.mark.parametrize(
    ("text", "meaning"),
    [
        ("!同意", "accept"),  # bare in the bot chat: accept the convention (DESIGN.md §6.4)
        ("！同意", "accept"),
        ("!同意 @u:x", None),  # names a person: approving a knock, as in a room
        ("!approve", None),
        ("!同意公约", None),  # its own command already
    ],
)
def test_a_bare_agree_in_the_bot_chat_means_accepting_the_convention(text: str, meaning: str | None) -> None:
    command = parse_command(text)
    assert command is not None
    assert direct_chat_meaning(command) == meaning
    if meaning is not None:
        assert builtin_registry().lookup(meaning) is not None


def test_lifecycle_commands_have_chinese_names_and_usage_in_both_languages() -> None:
    registry = builtin_registry()
    for name, alias in (("dissolve", "解散"), ("transfer", "转让"), ("accept", "同意公约")):
        spec = registry.lookup(alias)
        assert spec is not None and spec.name == name
        assert spec.usage_in("zh-CN").startswith(f"!{alias}") and spec.usage_in("en").startswith(f"!{name}")
        assert spec.summary_in("zh-CN") and spec.summary_in("en")
