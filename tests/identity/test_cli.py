"""``journeymap stitch`` on a real workspace folder."""

from __future__ import annotations

from typer.testing import CliRunner

import journeymap
from journeymap.cli import app

from .tables import frame, pre_stitch_id


def test_stitch_command_prints_the_report(tmp_path):
    ws = journeymap.Workspace.create(tmp_path / "ws")
    # Two cookies seen alone, then each with Ann's email: three pre-stitch customers.
    id_sets = [{"anonymous_id": "ck0"}, {"anonymous_id": "ck1"},
               {"email": "ann@example.com", "anonymous_id": "ck0"},
               {"email": "ann@example.com", "anonymous_id": "ck1"}]  # fmt: skip
    rows = [
        {"event_id": f"e{i}", "customer_id": pre_stitch_id(ids), **ids}
        for i, ids in enumerate(id_sets)
    ]
    ws.con.insert("events", frame("events", rows))
    ws.close()

    result = CliRunner().invoke(app, ["stitch", "--workspace", str(tmp_path / "ws")])
    assert result.exit_code == 0, result.output
    assert "customers: 3 before, 1 after stitching" in result.output
    assert "merges by identifier type: anonymous_id=2" in result.output

    ws = journeymap.open(tmp_path / "ws")
    assert ws.to_pandas("events").customer_id.nunique() == 1
    assert len(ws.to_pandas("identities")) == 3
    ws.close()
