"""The workspace folder, its settings, canonical tables, transactions and data_version."""

from __future__ import annotations

import tomllib
from pathlib import Path

import ibis
import pytest

import journeymap
from journeymap.workspace import SettingsError, Workspace, WorkspaceError, backend
from journeymap.workspace.schemas import CANONICAL

SPEC = """\
version: 1
name: Tiny
stages:
  - id: buy
    name: Buy
touchpoints:
  - id: checkout
    name: Checkout
    stage: buy
    match:
      event: buy
goal:
  touchpoint: checkout
"""

EXPECTED_TOML = {
    "workspace": {"timezone": "UTC"},
    "warehouse": {"backend": "duckdb", "path": ".journeymap/warehouse.duckdb"},
    "sessions": {"inactivity_minutes": 30},
    "identity": {"default_phone_region": "GB", "hub_cap": 20},
    "voice": {"csat_mode": "mean", "attach_window_hours": 72, "min_n": 30},
}


@pytest.fixture
def ws(tmp_path: Path):
    workspace = Workspace.create(tmp_path / "w", spec=SPEC)
    yield workspace
    workspace.close()


def test_create_lays_out_the_folder_of_the_contract(ws):
    root = ws.path
    assert (root / "journey.yaml").read_text() == SPEC
    assert tomllib.loads((root / "journeymap.toml").read_text()) == EXPECTED_TOML
    assert (root / ".journeymap" / "warehouse.duckdb").is_file()
    assert (root / ".journeymap" / "history").is_dir()
    assert ws.settings == EXPECTED_TOML


def test_canonical_tables_have_the_contract_schemas(ws):
    contract = {
        "events": "event_id customer_id ts event channel touchpoint stage session_id source "
        "revenue properties anonymous_id device_id email phone crm_id order_id batch_id",
        "feedback": "feedback_id customer_id ts touchpoint kind score text sentiment source "
        "anonymous_id device_id email phone crm_id order_id batch_id touchpoint_given",
        "customers": "customer_id persona email phone crm_id source batch_id",
        "identities": "identifier_type identifier_value customer_id",
        "quarantine": "table_name source file row_number raw field reason batch_id quarantined_at",
        "batches": "batch_id table_name source files rows_read rows_loaded rows_duplicate "
        "rows_quarantined started_at finished_at",
    }
    for name, columns in contract.items():
        schema = ws.table(name).schema()
        assert list(schema.names) == columns.split(), name
        assert schema == CANONICAL[name]
    events = ws.table("events").schema()
    assert events["ts"] == ibis.dtype("timestamp('UTC', 6)")
    assert events["revenue"] == ibis.dtype("float64") and events["batch_id"] == ibis.dtype("int64")
    assert backend.column_types(ws.con, "events")["ts"] == "TIMESTAMP WITH TIME ZONE"


def test_open_is_exported_as_journeymap_open(ws):
    path = ws.path
    ws.close()
    again = journeymap.open(path)
    assert isinstance(again, journeymap.Workspace) and again.path == path
    assert again.to_pandas("events").empty
    again.close()


def test_create_refuses_an_existing_workspace_unless_exist_ok(ws, tmp_path):
    with pytest.raises(WorkspaceError, match="already exists"):
        Workspace.create(ws.path)
    ws.close()
    (ws.path / "journey.yaml").write_text(SPEC + "# edited\n")
    kept = Workspace.create(ws.path, exist_ok=True)
    assert (ws.path / "journey.yaml").read_text().endswith("# edited\n")
    kept.close()


def test_create_copies_a_spec_file(tmp_path):
    source = tmp_path / "map.yaml"
    source.write_text(SPEC)
    ws = Workspace.create(tmp_path / "copy", spec=source)
    assert (ws.path / "journey.yaml").read_text() == SPEC
    ws.close()


def test_create_without_spec_writes_the_starter(tmp_path):
    from journeymap.spec import load_spec, starter_spec_text

    ws = Workspace.create(tmp_path / "starter")
    assert (ws.path / "journey.yaml").read_text() == starter_spec_text()
    assert ws.spec.stage_order == load_spec(ws.path / "journey.yaml").stage_order
    ws.close()


def test_open_errors_name_the_folder_and_setting(tmp_path):
    with pytest.raises(WorkspaceError, match="not a journeymap workspace"):
        Workspace(tmp_path)
    (tmp_path / "journeymap.toml").write_text('[workspace]\ntimezone = "Mars/Olympus"\n')
    with pytest.raises(SettingsError, match=r"journeymap.toml: \[workspace\] timezone"):
        Workspace(tmp_path)
    (tmp_path / "journeymap.toml").write_text("[workspace\n")
    with pytest.raises(SettingsError, match="invalid TOML"):
        Workspace(tmp_path)


def test_settings_override_defaults_key_by_key(tmp_path):
    ws = Workspace.create(tmp_path / "w", spec=SPEC)
    ws.close()
    (ws.path / "journeymap.toml").write_text(
        '[voice]\nmin_n = 5\n[workspace]\ntimezone = "Asia/Tokyo"\n'
    )
    ws = Workspace(ws.path)
    assert ws.settings["voice"] == {**EXPECTED_TOML["voice"], "min_n": 5}
    assert ws.settings["workspace"]["timezone"] == "Asia/Tokyo"
    assert ws.settings["sessions"] == EXPECTED_TOML["sessions"]
    ws.close()


def test_spec_is_loaded_lazily_and_reloaded_when_the_file_changes(ws):
    assert ws.spec.stage_order == ["buy"]
    first = ws.spec
    assert ws.spec is first  # cached while the file is unchanged
    (ws.path / "journey.yaml").write_text(SPEC.replace("name: Tiny", "name: Renamed map"))
    assert ws.spec.name == "Renamed map" and ws.spec is not first


def test_transaction_rolls_back_everything_and_nests(ws):
    before = ws.data_version
    with pytest.raises(RuntimeError):
        with ws.transaction():
            backend.execute(ws.con, "INSERT INTO identities VALUES ('email', 'a@x', 'c1')")
            with ws.transaction():  # joins the outer transaction
                backend.add_column(ws.con, "customers", "extra", "VARCHAR")
                ws.bump_data_version()
            raise RuntimeError("boom")
    assert ws.to_pandas("identities").empty
    assert "extra" not in ws.table("customers").columns
    assert ws.data_version == before
    with ws.transaction():
        backend.execute(ws.con, "INSERT INTO identities VALUES ('email', 'a@x', 'c1')")
        ws.bump_data_version()
    assert len(ws.to_pandas("identities")) == 1 and ws.data_version == before + 1


def test_delegates_reach_other_layers(ws, monkeypatch):
    import journeymap.sources.identity as identity

    calls = []
    monkeypatch.setattr(identity, "stitch", lambda w, **kw: calls.append((w, kw)) or "ok")
    assert ws.stitch(dry_run=True) == "ok" and calls == [(ws, {"dry_run": True})]


def test_a_workspace_held_by_another_process_is_a_clear_error(tmp_path):
    """DuckDB allows one process per file: the error names the folder and the holder."""
    import subprocess
    import sys

    Workspace.create(tmp_path / "ws").close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, journeymap; ws = journeymap.open(sys.argv[1]); "
            "print('open', flush=True); sys.stdin.read()",
            str(tmp_path / "ws"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(
            WorkspaceError, match=rf"in use by another process \(PID {holder.pid}\)"
        ):
            journeymap.open(tmp_path / "ws")
    finally:
        holder.communicate("", timeout=30)
