"""``journeymap audit`` on a real workspace folder, as a table and as JSON."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import journeymap
from identity.tables import frame
from journeymap.cli import app

from .fixture import DEFECTS, build


def test_audit_command_table_and_json(tmp_path):
    ws = journeymap.Workspace.create(tmp_path / "ws")
    rows = build(set(DEFECTS))
    for name in ("events", "feedback", "quarantine"):
        ws.con.insert(name, frame(name, rows[name]))
    ws.close()
    folder = str(tmp_path / "ws")

    result = CliRunner().invoke(app, ["audit", "--workspace", folder, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["summary"]["duplicate_events"] == 3
    assert data["summary"]["unmapped_events"] == 4
    assert data["summary"]["too_old_events"] == 2

    result = CliRunner().invoke(app, ["audit", "--workspace", folder])
    assert result.exit_code == 0, result.output
    assert "Data-quality audit" in result.output
    assert "mystery_click" in result.output

    result = CliRunner().invoke(app, ["audit", "--workspace", folder, "--format", "xml"])
    assert result.exit_code != 0
    assert "expected table or json" in result.output
