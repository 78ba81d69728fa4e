"""The content guard's pure parts: list files, event texts, stripping encryption."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest

from policies import default_policy, load_policy_from_mapping
from policies.content import ContentHit
from synapse_module.content import (
    BUNDLED_TERMS_DIR,
    ContentListError,
    create_request_texts,
    current_signature,
    event_texts,
    list_paths,
    load_lists,
    strip_encryption,
)


def _policy(tmp_path: Path, **files: str) -> Any:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return load_policy_from_mapping(
        {
            "content": {
                "terms_dir": str(tmp_path),
                "categories": {
                    name: {"enabled": False}
                    for name in default_policy().content.categories
                    if name not in ("cults", "spam", "other_illegal")
                }
                | {
                    "cults": {"lists": ["cults.txt"]},
                    "spam": {"lists": ["spam.txt"]},
                    "other_illegal": {"lists": []},
                },
                "allow_lists": ["allow.txt"],
                "media_hashes": {"lists": ["media.txt"]},
            }
        }
    )


def test_bundled_lists_exist_and_load() -> None:
    rules = default_policy().content
    for files in list_paths(rules, None).values():
        for path in files:
            assert path.is_file(), path
            assert path.parent == BUNDLED_TERMS_DIR
    lists = load_lists(rules, None)
    assert lists.matcher.scan("法 輪 功") == ContentHit("cults", "block")


def test_lists_load_from_the_operator_directory(tmp_path: Path) -> None:
    files = {"cults.txt": "# c\n法轮功\n", "spam.txt": "加微信\n", "allow.txt": "", "media.txt": ""}
    policy = _policy(tmp_path, **files)
    lists = load_lists(policy.content, None)
    assert lists.matcher.scan("法.轮.功") == ContentHit("cults", "block")
    assert lists.matcher.scan("加 微 信") == ContentHit("spam", "flag")
    assert set(lists.digests) == {"cults", "spam", "other_illegal", "allow", "media"}


def test_a_relative_terms_dir_is_below_the_policy_file(tmp_path: Path) -> None:
    (tmp_path / "terms").mkdir()
    policy = load_policy_from_mapping({"content": {"terms_dir": "terms"}})
    paths = list_paths(policy.content, str(tmp_path / "policy.yaml"))
    assert paths["allow"] == (tmp_path / "terms" / "allow.txt",)


def test_a_missing_or_bad_list_names_the_file_not_its_content(tmp_path: Path) -> None:
    policy = _policy(tmp_path, **{"cults.txt": "法轮功\n", "spam.txt": "", "allow.txt": ""})
    with pytest.raises(ContentListError, match=r"media\.txt: file not found"):
        load_lists(policy.content, None)
    (tmp_path / "media.txt").write_text("secret-term-like-line\n", encoding="utf-8")
    with pytest.raises(ContentListError, match=r"media\.txt: line 1 is not a SHA-256") as caught:
        load_lists(policy.content, None)
    assert "secret-term" not in str(caught.value)
    (tmp_path / "media.txt").write_bytes(b"\xff\xfe")
    with pytest.raises(ContentListError, match="not UTF-8"):
        load_lists(policy.content, None)


def test_the_signature_changes_when_a_file_changes(tmp_path: Path) -> None:
    policy = _policy(tmp_path, **{"cults.txt": "法轮功\n", "spam.txt": "", "allow.txt": "", "media.txt": ""})
    lists = load_lists(policy.content, None)
    assert current_signature(lists) == lists.signature
    path = tmp_path / "cults.txt"
    stat = path.stat()
    path.write_text("法轮大法\n", encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert current_signature(lists) != lists.signature
    path.unlink()
    assert current_signature(lists) != lists.signature


@pytest.mark.parametrize(
    ("event_type", "content", "expected"),
    [
        ("m.room.message", {"msgtype": "m.text", "body": "hi"}, ["hi"]),
        (
            "m.room.message",
            {"msgtype": "m.text", "body": "b", "format": "org.matrix.custom.html", "formatted_body": "<i>f</i>"},
            ["b", "f"],
        ),
        (
            "m.room.message",
            {"msgtype": "m.text", "body": "* new", "m.new_content": {"msgtype": "m.text", "body": "new"}},
            ["* new", "new"],
        ),
        ("m.room.message", {"msgtype": "m.file", "body": "caption", "filename": "name.pdf"}, ["caption", "name.pdf"]),
        ("m.room.name", {"name": "room"}, ["room"]),
        ("m.room.topic", {"topic": "t", "m.topic": [{"body": "t2", "mimetype": "text/plain"}]}, ["t", "t2"]),
        ("m.room.member", {"membership": "join", "displayname": "dn"}, ["dn"]),
        ("m.reaction", {"m.relates_to": {"rel_type": "m.annotation", "key": "k"}}, ["k"]),
        ("org.example.custom", {"body": "custom"}, ["custom"]),
        ("m.room.message", {"body": 5, "formatted_body": None}, []),
        ("m.room.power_levels", {"users": {}}, []),
    ],
)
def test_event_texts(event_type: str, content: dict[str, Any], expected: list[str]) -> None:
    assert event_texts(event_type, content) == expected


def _create_request(**extra: Any) -> dict[str, Any]:
    return {
        "preset": "private_chat",
        "initial_state": [
            {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}},
            {"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "shared"}},
        ],
        **extra,
    }


def test_strip_encryption_removes_it_from_groups_and_dms_by_default() -> None:
    policy = default_policy()
    for request in (_create_request(), _create_request(is_direct=True)):
        assert strip_encryption(request, policy) is True
        assert [entry["type"] for entry in request["initial_state"]] == ["m.room.history_visibility"]


def test_strip_encryption_respects_the_operator_switches() -> None:
    policy = load_policy_from_mapping(
        {"content": {"encryption": {"allowed_categories": ["family_friends"], "allow_direct_messages": True}}}
    )
    for request in (
        _create_request(is_direct=True),
        _create_request(creation_content={"cn.qunzu.category": "family_friends"}),
    ):
        before = copy.deepcopy(request)
        assert strip_encryption(request, policy) is False
        assert request == before
    request = _create_request(creation_content={"cn.qunzu.category": "work"})
    assert strip_encryption(request, policy) is True


def test_strip_encryption_leaves_odd_requests_alone() -> None:
    policy = default_policy()
    assert strip_encryption({}, policy) is False
    assert strip_encryption({"initial_state": "nope"}, policy) is False
    assert strip_encryption({"initial_state": [None, {"type": "m.room.name"}]}, policy) is False


def test_create_request_texts_cover_name_topic_and_initial_state() -> None:
    request = {
        "name": "名字",
        "topic": "话题",
        "initial_state": [
            {"type": "m.room.topic", "state_key": "", "content": {"topic": "初始话题"}},
            {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "x"}},
            "junk",
        ],
    }
    assert create_request_texts(request) == ["名字", "话题", "初始话题"]
    assert create_request_texts({}) == []
