"""The table of renderable texts per event type (Art. 10): what the content rules scan."""

from __future__ import annotations

from typing import Any

import pytest

from policies.event_texts import NO_TEXT_TYPES, alias_texts, create_request_texts, event_texts, profile_field_texts

HTML = "org.matrix.custom.html"

# Polls as Element Web sends them (unstable) and as the spec defines them (stable).
UNSTABLE_POLL = {
    "org.matrix.msc3381.poll.start": {
        "question": {"org.matrix.msc1767.text": "问题", "body": "问题", "msgtype": "m.text"},
        "kind": "org.matrix.msc3381.poll.disclosed",
        "max_selections": 1,
        "answers": [
            {"id": "a1", "org.matrix.msc1767.text": "答案一"},
            {"id": "a2", "org.matrix.msc1767.text": "答案二"},
        ],
    },
    "org.matrix.msc1767.text": "问题\n1. 答案一\n2. 答案二",
}
STABLE_POLL = {
    "m.poll": {
        "kind": "m.disclosed",
        "max_selections": 1,
        "question": {"m.text": [{"body": "问题"}, {"mimetype": "text/html", "body": "<b>问</b>题"}]},
        "answers": [{"m.id": "a1", "m.text": [{"body": "答案一"}]}],
    },
    "m.text": [{"body": "问题\n1. 答案一"}],
}


@pytest.mark.parametrize(
    ("event_type", "content", "expected"),
    [
        # messages: every msgtype has a body; HTML without tags; captions and file names; edits
        ("m.room.message", {"msgtype": "m.text", "body": "hi"}, ["hi"]),
        ("m.room.message", {"msgtype": "m.emote", "body": "waves"}, ["waves"]),
        (
            "m.room.message",
            {"msgtype": "m.notice", "body": "n", "format": HTML, "formatted_body": "<i>f</i>"},
            ["n", "f"],
        ),
        ("m.room.message", {"msgtype": "m.file", "body": "caption", "filename": "name.pdf"}, ["caption", "name.pdf"]),
        ("m.room.message", {"msgtype": "m.image", "body": "a.png", "url": "mxc://x/y", "info": {"w": 1}}, ["a.png"]),
        (
            "m.room.message",
            {"msgtype": "m.text", "body": "* new", "m.new_content": {"msgtype": "m.text", "body": "new"}},
            ["* new", "new"],
        ),
        (
            "m.room.message",
            {
                "msgtype": "m.location",
                "body": "loc",
                "geo_uri": "geo:1,2",
                "org.matrix.msc3488.location": {"uri": "geo:1,2", "description": "地点"},
                "org.matrix.msc1767.text": "loc text",
            },
            ["loc", "loc text", "地点"],
        ),
        ("m.room.message", {"body": 5, "formatted_body": None}, []),
        ("m.sticker", {"body": "贴纸", "url": "mxc://x/y", "info": {}}, ["贴纸"]),
        # polls: question and answers in every form, the fallback text; responses carry ids only
        ("org.matrix.msc3381.poll.start", UNSTABLE_POLL, ["问题\n1. 答案一\n2. 答案二", "问题", "答案一", "答案二"]),
        ("m.poll.start", STABLE_POLL, ["问题\n1. 答案一", "问题", "答案一"]),
        ("m.poll.response", {"m.selections": ["a1"], "m.relates_to": {"event_id": "$p"}}, []),
        ("org.matrix.msc3381.poll.response", {"org.matrix.msc3381.poll.response": {"answers": ["a1"]}}, []),
        ("org.matrix.msc3381.poll.end", {"org.matrix.msc1767.text": "结束"}, ["结束"]),
        ("m.reaction", {"m.relates_to": {"rel_type": "m.annotation", "key": "k"}}, ["k"]),
        # state
        ("m.room.name", {"name": "room"}, ["room"]),
        ("m.room.topic", {"topic": "t", "m.topic": [{"body": "t2", "mimetype": "text/plain"}]}, ["t", "t2"]),
        (
            "m.room.topic",
            {"topic": "t", "m.topic": {"m.text": [{"body": "t3"}, {"mimetype": "text/html", "body": "<b>t4</b>"}]}},
            ["t", "t3", "t4"],
        ),
        ("m.room.member", {"membership": "join", "displayname": "dn", "avatar_url": "mxc://a/b"}, ["dn"]),
        ("m.room.member", {"membership": "ban", "reason": "why"}, ["why"]),
        (
            "m.room.member",
            {"membership": "join", "third_party_invite": {"display_name": "a***@b", "signed": {"token": "t"}}},
            ["a***@b"],
        ),
        ("m.room.redaction", {"redacts": "$e", "reason": "because"}, ["because"]),
        (
            "im.vector.modular.widgets",
            {"type": "m.custom", "url": "https://w", "name": "挂件", "data": {"title": "标题"}, "id": "w1"},
            ["挂件", "标题"],
        ),
        ("m.widget", {"name": "n", "data": {"title": "t"}}, ["n", "t"]),
        ("m.room.canonical_alias", {"alias": "#a:s", "alt_aliases": ["#b:s", 3]}, ["#a:s", "#b:s"]),
        ("m.room.third_party_invite", {"display_name": "d", "key_validity_url": "https://k", "public_key": "p"}, ["d"]),
        ("m.room.tombstone", {"body": "moved", "replacement_room": "!r:s"}, ["moved"]),
        (
            "im.ponies.room_emotes",
            {"pack": {"display_name": "表情"}, "images": {"笑脸": {"url": "mxc://s/m", "body": "描述"}, "x": 1}},
            ["表情", "笑脸", "描述", "x"],
        ),
        ("m.room.power_levels", {"users": {"@a:s": 100}}, []),
        ("m.room.encrypted", {"ciphertext": "c" * 100, "algorithm": "m.megolm.v1.aes-sha2"}, []),
    ],
)
def test_event_texts_per_known_type(event_type: str, content: dict[str, Any], expected: list[str]) -> None:
    assert event_texts(event_type, content) == expected


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"body": "custom"}, ["custom"]),
        ({"title": "x", "nested": {"text": "y", "deeper": ["z", 1, None]}}, ["x", "y", "z"]),
        # references and key material are not prose
        (
            {
                "url": "https://example.org/a",
                "avatar_url": "mxc://s/m",
                "event_id": "$abcdef",
                "room_id": "!r:s",
                "target": "@user:s",
                "sha256": "0" * 64,
                "public_key": "base64+/=key",
                "mimetype": "text/plain",
                "blob": "A" * 43,
                "title": "t",
            },
            ["t"],
        ),
        # a sentence under an id-like key is still a sentence; aliases are names
        ({"id": "法轮功", "room": "#别名:s"}, ["法轮功", "#别名:s"]),
        ({"formatted_body": "<b>法</b>轮"}, ["法轮"]),
        ({"m.text": [{"mimetype": "text/html", "body": "<i>h</i>"}, {"body": "p"}]}, ["h", "p"]),
    ],
)
def test_unknown_event_types_are_walked_for_every_text(content: dict[str, Any], expected: list[str]) -> None:
    assert event_texts("org.example.custom", content) == expected


def test_the_walk_of_an_unknown_type_reads_every_depth_in_order() -> None:
    # Deeper than Python's recursion limit: no text hides below a depth the walk gave up at.
    content: dict[str, Any] = {"text": "top"}
    inner = content
    for depth in range(2000):
        inner["next"] = {"text": f"level {depth}"}
        inner = inner["next"]
    inner["last"] = [[["法轮功"]]]
    texts = event_texts("org.example.custom", content)
    assert texts[:3] == ["top", "level 0", "level 1"]
    assert texts[-2:] == ["level 1999", "法轮功"]
    assert profile_field_texts("org.example.deep", inner) == ["org.example.deep", "level 1999", "法轮功"]


def test_types_without_text_give_nothing_even_with_strings() -> None:
    for event_type in NO_TEXT_TYPES:
        assert event_texts(event_type, {"a": "法轮功", "reason": "x"}) == [], event_type


def test_alias_texts_are_the_local_part() -> None:
    assert alias_texts("#法轮功:example.org") == ["法轮功"]
    assert alias_texts("读书会") == ["读书会"]
    assert alias_texts("#:s") == []


def test_create_request_texts_cover_every_field_and_initial_state_form() -> None:
    request = {
        "name": "名字",
        "topic": "话题",
        "room_alias_name": "别名",
        "uk.timedout.msc4491.invite_reason": "邀请理由",
        "initial_state": [
            {"type": "m.room.topic", "state_key": "", "content": {"topic": "初始话题"}},
            {"type": "m.room.topic", "content": {"m.topic": {"m.text": [{"body": "对象话题"}]}}},
            {"type": "im.vector.modular.widgets", "state_key": "w", "content": {"name": "挂件"}},
            {"type": "org.example.custom", "state_key": "", "content": {"label": "自定义"}},
            {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "x"}},
            {"type": 5, "content": {"topic": "no type"}},
            "junk",
        ],
    }
    assert create_request_texts(request) == [
        "名字",
        "话题",
        "别名",
        "邀请理由",
        "初始话题",
        "对象话题",
        "挂件",
        "自定义",
    ]
    assert create_request_texts({}) == []
    assert create_request_texts({"initial_state": "nope", "room_alias_name": 3}) == []


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("m.tz", "Asia/Shanghai", ["m.tz", "Asia/Shanghai"]),
        ("org.example.motto", {"zh": "读书", "en": ["read", "books"]}, ["org.example.motto", "读书", "read", "books"]),
        # What no client shows as prose stays out, as in an unknown event: media and ids.
        ("org.example.badge", {"image_url": "mxc://a/b", "owner": "@u:s"}, ["org.example.badge"]),
        ("org.example.flag", True, ["org.example.flag"]),
        ("org.example.same", "org.example.same", ["org.example.same"]),
    ],
)
def test_a_profile_fields_texts_are_its_name_and_every_string_of_its_value(
    name: str, value: object, expected: list[str]
) -> None:
    assert profile_field_texts(name, value) == expected
