"""The CLI is a thin wrapper: create, ingest with --map, quarantine, refresh, errors."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from journeymap.cli import app
from journeymap.workspace import Workspace

from .helpers import TINY_SPEC

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "400"})


def test_create_ingest_and_quarantine(tmp_path: Path):
    root = tmp_path / "w"
    result = invoke("create", str(root))
    assert result.exit_code == 0, result.output
    assert (root / "journeymap.toml").is_file() and (root / "journey.yaml").is_file()
    (root / "journey.yaml").write_text(TINY_SPEC)
    data = tmp_path / "clicks.csv"
    data.write_text(
        "user,action,when\nu1,view,2024-01-01T00:00:00Z\nu2,view,soon\nu1,buy,1704067300\n"
    )
    args = ["ingest", "events", str(data), "--map", "customer_id=user", "--map", "event=action"]
    result = invoke(*args, "-m", "ts=when", "--source", "web", "-w", str(root), "--no-refresh")
    assert result.exit_code == 0, result.output
    assert "ingest events (batch 1)" in result.output
    assert "unparseable timestamp" in result.output
    # read / loaded / duplicates / quarantined row of the report table
    assert "│    3 │      2 │          0 │           1 │" in result.output
    with Workspace(root) as ws:
        assert sorted(ws.to_pandas("events").event) == ["buy", "view"]
        assert set(ws.to_pandas("events").source) == {"web"}
    result = invoke("quarantine", "-w", str(root), "--limit", "5")
    assert result.exit_code == 0
    assert "clicks.csv" in result.output and "soon" in result.output


def test_bad_input_exits_non_zero_with_the_file_named(tmp_path: Path):
    root = tmp_path / "w"
    Workspace.create(root, spec=TINY_SPEC).close()
    bad = tmp_path / "broken.csv"
    bad.write_text("customer_id,event,ts\na,view,2024-01-01\nb,view,2024-01-01,extra\n")
    result = runner.invoke(app, ["ingest", "events", str(bad), "-w", str(root)])
    assert result.exit_code == 1
    assert "broken.csv" in result.output and "warehouse is unchanged" in result.output
    result = runner.invoke(app, ["ingest", "events", str(bad), "-w", str(root), "--map", "oops"])
    assert result.exit_code == 1 and "expected FIELD=COLUMN" in result.output
    result = runner.invoke(app, ["ingest", "events", str(bad), "-w", str(tmp_path / "none")])
    assert result.exit_code == 1 and "not a journeymap workspace" in result.output
    result = runner.invoke(app, ["create", str(root)])
    assert result.exit_code == 1 and "already exists" in result.output


def test_ingest_customers_and_feedback_from_several_files(tmp_path: Path):
    root = tmp_path / "w"
    Workspace.create(root, spec=TINY_SPEC).close()
    (tmp_path / "c1.csv").write_text("email,tier\na@x.com,gold\n")
    (tmp_path / "c2.csv").write_text("email,tier,city\nb@x.com,silver,York\n")
    result = invoke(
        "ingest",
        "customers",
        str(tmp_path / "c1.csv"),
        str(tmp_path / "c2.csv"),
        "-w",
        str(root),
        "--no-refresh",
    )
    assert result.exit_code == 0, result.output
    assert "new customer attributes: tier, city" in result.output
    (tmp_path / "fb.jsonl").write_text('{"email": "a@x.com", "kind": "nps", "score": 12}\n')
    result = invoke(
        "ingest", "feedback", str(tmp_path / "fb.jsonl"), "-w", str(root), "--no-refresh"
    )
    assert result.exit_code == 0 and "score out of range for nps" in result.output


def test_ingest_refreshes_and_reports_a_broken_spec_clearly(tmp_path: Path, monkeypatch):
    import journeymap.workspace.refresh as refresh_module

    # only the mapping step: the other steps belong to other areas and have their own tests
    monkeypatch.setattr(
        refresh_module, "default_steps", lambda: [("mapping", refresh_module.apply_mapping)]
    )
    root = tmp_path / "w"
    Workspace.create(root, spec=TINY_SPEC).close()
    data = tmp_path / "e.csv"
    data.write_text("customer_id,event,ts\na,view,2024-01-01T00:00:00Z\n")
    result = invoke("ingest", "events", str(data), "-w", str(root))
    assert result.exit_code == 0, result.output
    assert "mapped 1 of 1 events" in result.output
    (root / "journey.yaml").write_text("version: 1\nname: broken\nstages: 3\n")
    result = runner.invoke(app, ["refresh", "-w", str(root)], env={"COLUMNS": "400"})
    assert result.exit_code == 1 and "refresh needs a valid journey.yaml" in result.output
    with Workspace(root) as ws:
        assert ws.to_pandas("events").touchpoint.tolist() == ["home"]
