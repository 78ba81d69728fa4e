"""Regulator reports (向有关主管部门报告, Art. 11) tracked from draft to receipt, on the shared Synapse.

Every measure the policy marks reportable makes one, with a Chinese summary;
staff record its submission and the authority's receipt; the export carries
the status and still verifies.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devtools.homeserver import SynapseProcess
from synapse_module.export import Bundle, read_bundle, verify_bundle, write_bundle

from .matrix import Matrix
from .sanction_helpers import sanction, verified


async def _report_of(staff: Matrix, sanction_id: str) -> dict[str, Any] | None:
    status, listing = await staff.qunzu("GET", "/admin/regulator-reports?limit=1000")
    assert status == 200, listing
    return next((r for r in listing["reports"] if r["sanction"] == sanction_id), None)


async def test_reportable_measures_make_drafts_with_a_chinese_summary_and_others_do_not(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix
) -> None:
    owner = await verified(as_user, synapse, "own")
    member = await verified(as_user, synapse, "mem")
    room = await owner.new_room(name="赌博群", preset="public_chat")
    assert (await member.join(room))[0] == 200

    closed = await sanction(staff, "room", room, "closure", category="gambling", reason="组织网络赌博")
    report = await _report_of(staff, closed["id"])
    assert report is not None and report["kind"] == "closure" and report["status"] == "draft"
    assert report["submitted_to"] is None and report["submitted_at"] is None and report["receipt"] is None
    assert "采取“关闭群组”措施" in report["summary_zh"] and "违规类别：赌博" in report["summary_zh"]
    assert "理由：组织网络赌博" in report["summary_zh"] and room in report["summary_zh"]

    # Child sexual content is severe on the ladder: even a mute is reported.
    severe = await sanction(staff, "user", member.user_id, "mute", duration="7d", category="child_sexual_content")
    report = await _report_of(staff, severe["id"])
    assert report is not None and report["kind"] == "severe_measure"
    assert "禁言" in report["summary_zh"] and "儿童色情" in report["summary_zh"] and "至 " in report["summary_zh"]
    mild = await sanction(staff, "user", member.user_id, "warning", category="vulgar")
    assert await _report_of(staff, mild["id"]) is None


async def test_staff_record_submission_and_receipt_forward_only_audited_and_exported(
    as_user: Callable[..., Matrix], synapse: SynapseProcess, staff: Matrix, tmp_path: Path
) -> None:
    started = int(time.time() * 1000) - 1000
    owner = await verified(as_user, synapse, "own")
    room = await owner.new_room(name="待关闭", preset="public_chat")
    closed = await sanction(staff, "room", room, "closure", category="terrorism", reason="传播暴恐内容")
    report = await _report_of(staff, closed["id"])
    assert report is not None
    path = f"/admin/regulator-reports/{report['id']}"

    refused: list[tuple[dict[str, Any], int, str]] = [
        ({"status": "submitted", "submitted_to": "市网信办"}, 400, ""),  # no reason
        ({"status": "draft", "reason": "x"}, 400, ""),
        ({"status": "submitted", "reason": "x"}, 400, ""),  # to whom?
        ({"status": "submitted", "submitted_to": "x" * 201, "reason": "x"}, 400, ""),
        (
            {"status": "submitted", "submitted_to": "市网信办", "submitted_at": "1e20", "reason": "x"},
            400,
            "invalid_number",
        ),
        ({"status": "submitted", "submitted_to": "市网信办", "receipt": "R1", "reason": "x"}, 400, ""),
        (
            {"status": "submitted", "submitted_to": "市网信办", "submitted_at": 253_402_000_000_000, "reason": "x"},
            400,
            "",
        ),
        ({"status": ["submitted"], "reason": "x"}, 400, "invalid_request"),
        ({"status": "submitted", "submitted_to": "市网信办", "reason": "x", "note": "?"}, 400, "invalid_request"),
    ]
    for body, expected, reason in refused:
        status, reply = await staff.qunzu("POST", path, body)
        assert status == expected and reply.get("cn.qunzu.reason", "") == reason, (body, reply)
    status, reply = await owner.qunzu("POST", path, {"status": "submitted", "submitted_to": "x", "reason": "x"})
    assert status == 403, reply
    status, reply = await staff.qunzu(
        "POST", "/admin/regulator-reports/rr_nope", {"status": "submitted", "reason": "x"}
    )
    assert status == 404, reply

    submitted_at = int(time.time() * 1000) - 60_000
    status, submitted = await staff.qunzu(
        "POST",
        path,
        {
            "status": "submitted",
            "submitted_to": "北京市互联网信息办公室",
            "submitted_at": submitted_at,
            "reason": "按规定报送",
        },
    )
    assert status == 200, submitted
    assert submitted["status"] == "submitted" and submitted["submitted_to"] == "北京市互联网信息办公室"
    assert submitted["submitted_at"] == submitted_at
    status, again = await staff.qunzu("POST", path, {"status": "submitted", "submitted_to": "别处", "reason": "x"})
    assert status == 409, again
    status, acknowledged = await staff.qunzu(
        "POST", path, {"status": "acknowledged", "receipt": "京网信回执〔2026〕118号", "reason": "收到回执"}
    )
    assert status == 200, acknowledged
    assert acknowledged["status"] == "acknowledged" and acknowledged["receipt"] == "京网信回执〔2026〕118号"
    assert acknowledged["submitted_to"] == "北京市互联网信息办公室"
    status, back = await staff.qunzu("POST", path, {"status": "submitted", "submitted_to": "x", "reason": "x"})
    assert status == 409, back
    status, listed = await staff.qunzu("GET", "/admin/regulator-reports?status=acknowledged&limit=1000")
    assert status == 200 and report["id"] in [r["id"] for r in listed["reports"]]
    status, listed = await staff.qunzu("GET", "/admin/regulator-reports?status=sent")
    assert status == 400, listed

    status, audit = await staff.qunzu("GET", f"/admin/audit?subject={room}&limit=100")
    assert status == 200, audit
    changes = [e for e in audit["entries"] if e["action"] == "regulator_report.update"]
    assert [(e["details"]["to"], e["actor"]) for e in changes] == [
        ("acknowledged", staff.user_id),
        ("submitted", staff.user_id),
    ]
    assert changes[0]["details"]["reason"] == "收到回执"

    status, reply = await staff.qunzu("POST", "/admin/export", {"since": started, "until": started + 3_600_000})
    assert status == 200, reply
    bundle = Bundle(reply["manifest"], reply["files"])
    rows = [json.loads(line) for line in bundle.files["regulator_reports.jsonl"].splitlines()]
    (row,) = [r for r in rows if r["id"] == report["id"]]
    assert row["status"] == "acknowledged" and row["receipt"] == "京网信回执〔2026〕118号"
    assert row["submitted_to"] == "北京市互联网信息办公室" and "传播暴恐内容" in row["summary_zh"]
    write_bundle(bundle, tmp_path / "bundle")
    manifest, files = read_bundle(tmp_path / "bundle")
    assert verify_bundle(manifest, files).ok
