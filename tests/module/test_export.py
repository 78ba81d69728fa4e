"""Export bundles: digests catch any change; the MAC proves the origin; times parse both ways."""

from __future__ import annotations

import pytest

from policies import InvalidNumber, load_policy, load_policy_from_mapping
from synapse_module.export import iso, parse_time, seal, verify_bundle
from synapse_module.filing import Statistics, document, duration_text, render_html, render_markdown

KEY = b"k" * 32


def _bundle() -> tuple[dict[str, object], dict[str, bytes]]:
    bundle = seal({"server": "hs"}, {"netlog.jsonl": '{"a":1}\n{"a":2}\n', "audit.jsonl": ""}, KEY)
    return bundle.manifest, {name: text.encode() for name, text in bundle.files.items()}


def test_intact_bundle_verifies_with_and_without_the_key() -> None:
    manifest, files = _bundle()
    assert manifest["files"] == {
        "audit.jsonl": {"lines": 0, "sha256": manifest["files"]["audit.jsonl"]["sha256"]},  # type: ignore[index]
        "netlog.jsonl": {"lines": 2, "sha256": manifest["files"]["netlog.jsonl"]["sha256"]},  # type: ignore[index]
    }
    assert verify_bundle(manifest, files).ok
    report = verify_bundle(manifest, files, KEY)
    assert report.ok and report.mac_checked and report.lines == 2


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda f: f.update({"netlog.jsonl": b'{"a":1}\n{"a":3}\n'}), "netlog.jsonl: SHA-256"),
        (lambda f: f.update({"netlog.jsonl": b'{"a":1}\n'}), "netlog.jsonl: SHA-256"),
        (lambda f: f.pop("audit.jsonl"), "audit.jsonl: missing"),
        (lambda f: f.update({"extra.jsonl": b"{}\n"}), "extra.jsonl: not listed"),
    ],
    ids=["changed-line", "removed-line", "missing-file", "added-file"],
)
def test_any_change_to_the_files_fails(change, problem: str) -> None:
    manifest, files = _bundle()
    change(files)
    report = verify_bundle(manifest, files)
    assert not report.ok and report.problems[0].startswith(problem)


def test_a_recomputed_manifest_fails_the_mac() -> None:
    _manifest, files = _bundle()
    forged = seal({"server": "hs"}, {"netlog.jsonl": '{"a":9}\n', "audit.jsonl": ""}, b"x" * 32).manifest
    files["netlog.jsonl"] = b'{"a":9}\n'
    assert verify_bundle(forged, files).ok  # digests alone prove integrity, not origin
    assert not verify_bundle(forged, files, KEY).ok
    assert not verify_bundle({"format": "other"}, files).ok


def test_times_are_milliseconds_or_iso_in_china_time() -> None:
    assert parse_time("1700000000000", "since") == 1_700_000_000_000
    assert parse_time("2024-01-01T08:00:00", "since") == parse_time("2024-01-01T00:00:00Z", "since")
    assert parse_time(None, "since") is None
    assert iso(0) == "1970-01-01T08:00:00.000+08:00"
    for bad in ("yesterday", "1" * 24, "253402300800000", "0", "1e20", "0001-01-01T00:00:00", 2**63, 1e20, True):
        with pytest.raises(InvalidNumber):
            parse_time(bad, "since")


def test_stored_times_past_year_9999_are_written_without_raising() -> None:
    assert iso(2**63).startswith("9999-12-31T23:59:59")


def test_filing_renders_the_policy_numbers_in_both_formats() -> None:
    policy = load_policy(None)
    stats = Statistics()
    stats.groups_by_category_tier[("study", "small")] = 2
    blocks = document(policy, stats, "example.org", 0)
    markdown = render_markdown(blocks)
    assert f"留存期限：{policy.retention.days} 天" in markdown
    assert "| 学习 | 小型 | 2 |" in markdown
    assert "涉及暴恐、极端主义、儿童色情、诈骗、赌博等严重情形的，直接采取最后一级措施。" in markdown
    page = render_html(blocks)
    assert "<td>学习</td><td>小型</td><td>2</td>" in page
    assert "<script" not in render_html([("p", "<script>alert(1)</script>")])
    assert [duration_text(s) for s in (None, 0, 3600, 7 * 86400, 90)] == ["永久", "即时", "1 小时", "7 天", "90 秒"]


@pytest.mark.parametrize(
    ("federation", "expected"),
    [
        ({}, "跨服务器互通（联邦）：其他服务器的用户不得加入、申请加入或被邀请进入本平台管理的群组"),
        (
            {"partner_servers": ["partner.cn"]},
            "跨服务器互通（联邦）：仅合作服务器（partner.cn）的用户可以加入本平台管理的群组",
        ),
        ({"allow_remote_users": True}, "跨服务器互通（联邦）：其他服务器的用户可以加入本平台管理的群组"),
    ],
)
def test_the_filing_document_states_the_federation_policy_it_enforces(
    federation: dict[str, object], expected: str
) -> None:
    """Art. 6: the sentence follows allow_remote_users and partner_servers (policies/federation.py)."""
    policy = load_policy_from_mapping({"realname": {"federation": federation}})
    markdown = render_markdown(document(policy, Statistics(), "example.org", 0))
    assert expected in markdown
    assert ("partner.cn" in markdown) is bool(federation.get("partner_servers"))
