"""The analyze commands: thin wrappers printing the library's tables."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

import journeymap as jm
from engine.logs import generated_log
from journeymap.cli import app


@pytest.fixture(scope="module")
def events_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "events.csv"
    generated_log(60, seed=3)[["customer_id", "ts", "event", "channel"]].to_csv(path, index=False)
    return path


def test_funnel_json_equals_library(events_file):
    steps = ["home", "カート", "checkout ✓"]
    result = CliRunner().invoke(
        app,
        [
            "analyze",
            "funnel",
            *steps,
            "--events",
            str(events_file),
            "--window",
            "2d",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    got = pd.DataFrame(json.loads(result.stdout))
    expected = jm.analyze_events(events_file).funnel(steps, window="2d")
    assert got["customers"].tolist() == expected["customers"].tolist()
    assert got["name"].tolist() == steps


def test_transitions_csv_and_variants_table(events_file):
    runner = CliRunner()
    result = runner.invoke(
        app, ["analyze", "transitions", "--events", str(events_file), "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    got = pd.read_csv(io.StringIO(result.stdout))
    expected = jm.analyze_events(events_file).transitions()
    assert got["count"].sum() == expected["count"].sum()
    result = runner.invoke(app, ["analyze", "variants", "--events", str(events_file), "--top", "2"])
    assert result.exit_code == 0 and "Variants" in result.stdout


def test_metrics_prints_touchpoints(events_file):
    result = CliRunner().invoke(app, ["analyze", "metrics", "--events", str(events_file)])
    assert result.exit_code == 0, result.output
    assert "Touchpoints" in result.stdout and "exit" in result.stdout and "カート" in result.stdout


def test_bad_step_is_a_clear_error(events_file):
    result = CliRunner().invoke(app, ["analyze", "funnel", "nope", "--events", str(events_file)])
    assert result.exit_code == 2
    assert "unknown touchpoint step(s) ['nope']" in result.output


def test_bad_events_file_names_row_and_field(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("customer_id,ts,event\nc1,2024-01-01,a\nc2,yesterday-ish,b\n")
    with pytest.raises(ValueError, match=r"row 2, field 'ts': expected a timestamp"):
        jm.analyze_events(path)
    path.write_text("customer_id,ts,event\nc1,2024-01-01,a\n,2024-01-01,b\n")
    with pytest.raises(ValueError, match=r"'customer_id' \(customer\) is empty on row\(s\) \[2\]"):
        jm.analyze_events(path)
    with pytest.raises(ValueError, match="no column 'when' for ts"):
        jm.analyze_events(path, ts="when")


def test_funnel_per_step_options(events_file):
    """--directly and --within reach the library's per-step constraints; bad forms exit 2."""
    steps = ["home", "カート", "checkout ✓"]
    runner = CliRunner()
    args = ["analyze", "funnel", *steps, "--events", str(events_file), "--format", "json"]
    result = runner.invoke(app, [*args, "--directly", "2", "--within", "3=6h"])
    assert result.exit_code == 0, result.output
    got = pd.DataFrame(json.loads(result.stdout))
    expected = jm.analyze_events(events_file).funnel(steps, directly=[2], within={3: "6h"})
    assert got["customers"].tolist() == expected["customers"].tolist()
    plain = jm.analyze_events(events_file).funnel(steps)
    assert expected["customers"].iloc[1] <= plain["customers"].iloc[1]
    result = runner.invoke(app, [*args, "--within", "3:6h"])
    assert result.exit_code == 2 and "N=DURATION" in result.output
    result = runner.invoke(app, [*args, "--order", "unordered", "--directly", "2"])
    assert result.exit_code != 0 and "no prior step" in result.output
