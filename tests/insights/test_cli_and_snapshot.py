"""The CLI is a thin wrapper (same rows as the API); the snapshot shows detected pains."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import journeymap.cli.insights_commands  # noqa: F401  (registers `journeymap insights`)
from journeymap.cli.app import app
from journeymap.insights.api import pain_points


def test_pains_json_equals_the_api(demo, pains_by_seed):
    res = CliRunner().invoke(
        app, ["insights", "pains", "-w", str(demo.path), "--top", "5", "-f", "json"]
    )
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [r["id"] for r in rows] == list(pains_by_seed[7]["id"].head(5))


def test_compare_and_personas_commands(demo):
    run = CliRunner().invoke
    res = run(app, ["insights", "compare", "conversion", "-w", str(demo.path),
                    "--before", "2026-02-15", "-f", "csv"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0].startswith("metric,group_a,n_a,value_a")
    bad = run(app, ["insights", "compare", "conversion", "-w", str(demo.path),
                    "--a", "{persona:", "--b", "{}"])  # fmt: skip
    assert bad.exit_code != 0 and "expected a JSON object" in bad.output
    res = run(app, ["insights", "personas", "-w", str(demo.path), "-f", "json"])
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.output)) == 4
    res = run(app, ["insights", "opportunities", "-w", str(demo.path), "-f", "json"])
    assert res.exit_code == 0 and {"quadrant", "phase"} <= set(json.loads(res.output)[0])


def test_snapshot_shows_the_top_detected_pain_points(demo):
    snap = demo.snapshot()
    expected = pain_points(demo.analysis(), top=5)
    assert [p.title for p in snap.detected_pain_points] == list(expected["title"])
    first = snap.detected_pain_points[0]
    assert first.origin == "detected" and first.severity == expected.iloc[0]["severity"]
    assert first.evidence["observed"].value == expected.iloc[0]["observed"]
    assert first.evidence["observed"].n == expected.iloc[0]["n"]
    assert {p.origin for p in snap.pain_points} == {"authored"}
