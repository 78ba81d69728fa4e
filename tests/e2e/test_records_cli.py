"""The `qunzu` CLI against a real server: export, verify-export, filing, audit verify."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from devtools.homeserver import SynapseProcess

from .matrix import Matrix


def qunzu(*args: str, server: SynapseProcess, token: str) -> subprocess.CompletedProcess[str]:
    env = {"QUNZU_URL": server.base_url, "QUNZU_TOKEN": token, "PATH": ""}
    return subprocess.run(
        [sys.executable, "-m", "qunzu_cli", *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


async def test_cli_exports_verifies_files_and_checks_the_audit_chain(
    synapse: SynapseProcess, staff: Matrix, member: Matrix, tmp_path: Path
) -> None:
    token = staff.account.access_token
    assert (await member.verify())[0] == 200
    room = await member.new_room(name="命令行")
    assert (await member.send_text(room, "导出我"))[0] == 200
    since = str(int(time.time() * 1000) - 600_000)

    out = tmp_path / "bundle"
    done = qunzu(
        "export", "--since", since, "--subject", member.user_id, "--out", str(out), server=synapse, token=token
    )
    assert done.returncode == 0, done.stderr
    assert "netlog.jsonl:" in done.stdout
    assert (out / "manifest.json").exists()

    checked = qunzu("verify-export", str(out), server=synapse, token=token)
    assert checked.returncode == 0 and checked.stdout.startswith("ok:"), checked.stdout
    key = synapse.config_path.parent / "qunzu.key"
    checked = qunzu("verify-export", str(out), "--key-file", str(key), server=synapse, token=token)
    assert checked.returncode == 0 and "MAC checked" in checked.stdout
    (out / "audit.jsonl").write_text((out / "audit.jsonl").read_text() + '{"forged":true}\n')
    checked = qunzu("verify-export", str(out), server=synapse, token=token)
    assert checked.returncode == 1 and "FAILED: audit.jsonl" in checked.stdout

    filing = qunzu("filing", "--format", "html", "--out", str(tmp_path / "f.html"), server=synapse, token=token)
    assert filing.returncode == 0, filing.stderr
    assert "备案材料" in (tmp_path / "f.html").read_text()
    filing = qunzu("filing", server=synapse, token=token)
    assert filing.returncode == 0 and filing.stdout.startswith("# 互联网群组信息服务管理规则备案材料")

    audit = qunzu("audit", "verify", server=synapse, token=token)
    assert audit.returncode == 0 and audit.stdout.startswith("ok: the audit chain verifies"), audit.stdout

    refused = qunzu("audit", "verify", server=synapse, token=member.account.access_token)
    assert refused.returncode == 2 and "HTTP 403" in refused.stderr
