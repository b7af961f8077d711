"""`journeymap demo` is a thin wrapper: it writes the same files and reports problems."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

import journeymap.cli.demo_commands  # noqa: F401  (registers the command)
from journeymap.cli.app import app


def test_demo_command_writes_the_demo(tmp_path: Path) -> None:
    out = tmp_path / "ws"
    args = ["demo", "--customers", "200", "--seed", "5", "--out", str(out), "--no-ingest"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "200 customers" in result.output
    assert len(pd.read_parquet(out / "truth" / "customers.parquet")) == 200
    assert (out / "journey.yaml").is_file() and (out / "ground_truth.json").is_file()

    again = CliRunner().invoke(app, args)
    assert again.exit_code == 1
    assert "already holds demo output" in again.output and "--force" in again.output

    forced = CliRunner().invoke(app, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
