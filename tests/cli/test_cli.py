"""The operator CLI's offline commands: keygen, check-config, verify-export."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from devtools.homeserver import free_port, module_block, render_config
from qunzu_cli.__main__ import homeserver_warnings, main
from synapse_module.export import seal, write_bundle


def test_keygen_writes_a_private_32_byte_key_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "qunzu.key"
    assert main(["keygen", "--out", str(path)]) == 0
    assert len(base64.b64decode(path.read_text().strip())) == 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert main(["keygen", "--out", str(path)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err


def _homeserver(tmp_path: Path, **extra: object) -> Path:
    path = render_config(tmp_path, port=free_port(), modules=[module_block(tmp_path)])
    config = yaml.safe_load(path.read_text())
    config.update(extra)
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


def test_check_config_accepts_the_development_config_and_prints_the_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _homeserver(tmp_path)
    assert main(["check-config", str(path), "--print-policy"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: module config and policy are valid")
    assert "\nwarning:" not in out.split("# effective policy", 1)[0]
    policy = yaml.safe_load(out.split("# effective policy\n", 1)[1])
    assert policy["retention"]["days"] == 190


def test_check_config_warns_about_synapse_settings_that_lose_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _homeserver(tmp_path, redaction_retention_period="7d", user_ips_max_age="28d")
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "warning: redaction_retention_period is '7d'" in out
    assert "warning: user_ips_max_age is '28d'" in out
    assert main(["check-config", str(path), "--strict"]) == 1


def test_synapse_defaults_are_warned_about_when_the_keys_are_absent() -> None:
    warnings = homeserver_warnings({}, 190)
    named = [line.split(" ", 1)[0] for line in warnings]
    assert named == ["redaction_retention_period", "user_ips_max_age", "presence"]
    kept = {"redaction_retention_period": None, "user_ips_max_age": "190d", "presence": {"enabled": False}}
    assert homeserver_warnings(kept, 190) == []
    assert "allowed_lifetime_min" in homeserver_warnings({**kept, "retention": {"enabled": True}}, 190)[0]


def test_check_config_names_the_bad_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _homeserver(tmp_path)
    config = yaml.safe_load(path.read_text())
    config["modules"][0]["config"]["realname"]["provider"] = "magic"
    path.write_text(yaml.safe_dump(config))
    assert main(["check-config", str(path)]) == 1
    assert "realname.provider" in capsys.readouterr().out
    policy = tmp_path / "short.yaml"
    policy.write_text("retention:\n  days: 100\n")
    config["modules"][0]["config"]["realname"]["provider"] = "checksum"
    config["modules"][0]["config"]["policy_file"] = str(policy)
    path.write_text(yaml.safe_dump(config))
    assert main(["check-config", str(path)]) == 1
    assert "retention.days" in capsys.readouterr().out


def test_verify_export_passes_an_intact_bundle_and_fails_a_changed_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = b"k" * 32
    key_file = tmp_path / "key"
    key_file.write_text(base64.b64encode(key).decode())
    rows = "".join(json.dumps({"n": n}) + "\n" for n in range(3))
    write_bundle(seal({"server": "hs"}, {"netlog.jsonl": rows, "audit.jsonl": ""}, key), tmp_path / "b")
    assert main(["verify-export", str(tmp_path / "b"), "--key-file", str(key_file)]) == 0
    assert "manifest MAC checked" in capsys.readouterr().out
    (tmp_path / "b" / "netlog.jsonl").write_text(rows.replace('{"n": 1}', '{"n": 7}'))
    assert main(["verify-export", str(tmp_path / "b")]) == 1
    assert "FAILED: netlog.jsonl" in capsys.readouterr().out
    assert main(["verify-export", str(tmp_path / "missing")]) == 2


def test_api_commands_need_a_url_and_token(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("QUNZU_URL", raising=False)
    monkeypatch.delenv("QUNZU_TOKEN", raising=False)
    assert main(["audit", "verify"]) == 2
    assert "--token" in capsys.readouterr().err


def test_checking_an_export_bundle_starts_without_importing_synapse(tmp_path: Path) -> None:
    # An operator verifies bundles on any machine, at once: the tool's export path is pure.
    probe = (
        "import sys\n"
        "from qunzu_cli.__main__ import main\n"
        f"code = main(['verify-export', {str(tmp_path / 'missing')!r}])\n"
        "assert not [m for m in sys.modules if m == 'synapse' or m.startswith('synapse.')], 'synapse imported'\n"
        "print(code)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in ("1", "2")  # the missing bundle is refused, plainly
