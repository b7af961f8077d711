"""Voice on the demo workspace: the planted complaint must surface.

Runs on a generated demo workspace through the public API (demo, workspace, engine).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import journeymap
from journeymap import demo
from journeymap.voice import api

SEED = 7


def _find_complaint(node: Any) -> dict | None:
    """The planted complaint in ground_truth.json: the first object with a touchpoint and
    a phrase whose type (or id) says complaint."""
    if isinstance(node, dict):
        label = f"{node.get('type', '')} {node.get('id', '')}".lower()
        if "complaint" in label and node.get("touchpoint") and node.get("phrase"):
            return node
        children = list(node.values())
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _find_complaint(child)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    demo.generate(out, customers=2000, seed=SEED)
    ws = journeymap.open(out)
    analysis = ws.analysis()
    truth = json.loads((out / "ground_truth.json").read_text(encoding="utf-8"))
    complaint = _find_complaint(truth)
    assert complaint is not None, "ground_truth.json states no complaint {touchpoint, phrase}"
    return out, ws, analysis, complaint


def test_planted_touchpoint_has_the_lowest_emotion(demo_ws):
    _, _, analysis, complaint = demo_ws
    curve = api.emotions(analysis, by="touchpoint")
    solid = curve[~curve["low_n"] & curve["touchpoint"].notna()]
    assert complaint["touchpoint"] in set(solid["touchpoint"]), curve
    lowest = solid.sort_values("emotion").iloc[0]
    assert lowest["touchpoint"] == complaint["touchpoint"], solid


def test_planted_complaint_in_top_three_themes(demo_ws):
    _, _, analysis, complaint = demo_ws
    phrase = str(complaint["phrase"]).lower()
    themes = api.themes(analysis, by="touchpoint", top=3)
    mine = themes[themes["touchpoint"] == complaint["touchpoint"]]
    assert any(phrase in t for t in mine["theme"]), mine[["theme", "count", "score"]]
    for quotes in mine["quotes"]:
        assert quotes and all(q["feedback_id"] for q in quotes)


def test_every_feedback_row_is_accounted_for(demo_ws):
    _, ws, analysis, _ = demo_ws
    from journeymap.voice.attach import attach_feedback

    report = attach_feedback(ws, progress=False)
    rows = ws.table("feedback").count().to_pyarrow().as_py()
    assert report.rows == rows
    assert report.given + report.by_event + report.unattached_total == rows
    assert report.texts_scored == 0  # refresh already scored every text; the cache holds
    drivers = api.drivers(analysis)
    assert drivers["rank"].tolist() == list(range(1, len(drivers) + 1))


def test_cli_json_matches_the_api(demo_ws):
    from typer.testing import CliRunner

    from journeymap.cli import app

    out, _, analysis, _ = demo_ws
    result = CliRunner().invoke(
        app, ["voice", "scores", "--workspace", str(out), "--by", "stage", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    expected = api.scores(analysis, by="stage")
    assert [r["n"] for r in rows] == expected["n"].tolist()
    assert [r["metric"] for r in rows] == expected["metric"].tolist()
