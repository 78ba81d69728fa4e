"""A bad module block or policy file stops Synapse at start with one clear line.

Synapse reads its config, and so calls the module's `parse_config`, before it
opens a database or a port: `synapse.app.homeserver.load_or_generate_config`
is what `python -m synapse.app.homeserver` runs first, and on a config error it
writes the lines an operator sees and exits with 1. It runs here on a config
rendered as the test servers' are. Each kind of failure (the module block, the
policy file) is read once this way; tests/module/test_config.py holds the
other config errors, which give Synapse the same kind of line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from synapse.app.homeserver import load_or_generate_config

from devtools.homeserver import free_port, module_block, render_config, sqlite_database


def synapse_start_output(tmp_path: Path, capsys: pytest.CaptureFixture[str], **module_config: Any) -> str:
    """What Synapse writes to stderr when it reads a config with this module block, having exited with 1."""
    data_dir = tmp_path / "hs"
    data_dir.mkdir()
    path = render_config(
        data_dir,
        port=free_port(),
        database=sqlite_database(data_dir / "homeserver.db"),
        modules=[module_block(data_dir, **module_config)],
    )
    with pytest.raises(SystemExit) as exited:
        load_or_generate_config(["-c", str(path)])
    assert exited.value.code == 1
    assert not (data_dir / "homeserver.db").exists()  # stopped before it opened anything
    return capsys.readouterr().err


def test_a_missing_key_file_stops_synapse_with_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = synapse_start_output(tmp_path, capsys, secrets={"key_file": "/nonexistent/qunzu.key"})
    expected = "qunzu: secrets.key_file: /nonexistent/qunzu.key does not exist"
    assert len([line for line in output.splitlines() if expected in line]) == 1, output
    assert "Traceback" not in output


def test_a_policy_with_short_retention_stops_synapse(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("retention:\n  days: 100\n")
    output = synapse_start_output(tmp_path, capsys, policy_file=str(policy))
    lines = [line for line in output.splitlines() if "retention.days" in line]
    assert len(lines) == 1, output
    assert "184" in lines[0]
    assert "Traceback" not in output
