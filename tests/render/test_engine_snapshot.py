"""The snapshot's numbers equal the engine's, on a real workspace in tmp_path.

Canonical rows are written straight into the workspace's DuckDB warehouse (no ingest), so
this tests the snapshot against the engine and voice alone; customer counts, conversion
and transitions are also checked against a plain pandas oracle over the same rows.
"""

from __future__ import annotations

import io

import pandas as pd
import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

import journeymap
from journeymap.cli import app
from journeymap.render import snapshots_from_html
from journeymap.snapshot import (  # noqa: E402
    JourneySnapshot,
    build_snapshot,
    snapshot_from_analysis,
)

from . import fixtures as fx  # noqa: E402

PATHS = {
    "c1": ["social_ad", "product_page", "checkout", "order_confirmed"],
    "c2": ["search_ad", "product_page"],
    "c3": ["social_ad", "product_page", "product_page", "checkout"],
    "c4": ["product_page", "checkout", "order_confirmed"],
    "c5": ["social_ad"],
}
T0 = pd.Timestamp("2026-01-01T10:00:00Z")


def _insert(con, name: str, frame: pd.DataFrame) -> None:
    names = list(con.table(name).schema().names)
    for col in names:
        if col not in frame:
            frame[col] = None
    con.insert(name, frame[names])


PERSONA = {
    "c1": "loyal",
    "c2": "bargain_hunter",
    "c3": "bargain_hunter",
    "c4": "loyal",
    "c5": "bargain_hunter",
}


@pytest.fixture
def workspace(tmp_path):
    text = io.StringIO()
    YAML().dump(fx.SPEC, text)
    ws = journeymap.Workspace.create(tmp_path / "ws", spec=text.getvalue())
    con = ws.con
    spec = ws.spec
    stage_of = {t.id: t.stage for t in spec.touchpoints}
    events = pd.DataFrame(
        [
            {
                "event_id": f"{c}-{i}",
                "customer_id": c,
                "ts": T0 + pd.Timedelta(minutes=7 * i),
                "event": tp,
                "channel": "app" if c == "c2" else "web",
                "touchpoint": tp,
                "stage": stage_of[tp],
            }
            for c, path in PATHS.items()
            for i, tp in enumerate(path)
        ]
    )
    _insert(con, "events", events.copy())
    feedback = pd.DataFrame(
        {
            "feedback_id": ["f1", "f2", "f3"],
            "customer_id": ["c1", "c3", "c4"],
            "ts": [T0 + pd.Timedelta(minutes=15)] * 3,
            "touchpoint": ["checkout"] * 3,
            "kind": ["nps"] * 3,
            "score": [9.0, 3.0, 10.0],
            "text": ["love it", "awful", None],
            "sentiment": [0.6, -0.5, None],
        }
    )
    _insert(con, "feedback", feedback)
    _insert(
        con,
        "customers",
        pd.DataFrame({"customer_id": list(PERSONA), "persona": list(PERSONA.values())}),
    )
    yield ws, events
    ws.close()


@pytest.fixture
def analysis(workspace):
    ws, events = workspace
    return ws.analysis(), events


def test_snapshot_numbers_equal_the_engine_and_a_pandas_oracle(analysis):
    a, events = analysis
    snap = snapshot_from_analysis(a, workspace="t")
    tpm = a.touchpoint_metrics().set_index("touchpoint")
    oracle = events.groupby("touchpoint")["customer_id"].nunique()
    total = events["customer_id"].nunique()
    assert snap.meta.totals["customers"] == total
    for tp in snap.touchpoints:
        m = tp.metrics
        assert m["customers"].value == oracle.get(tp.id, 0) == tpm.loc[tp.id, "customers"]
        assert m["reach"].value == pytest.approx(oracle.get(tp.id, 0) / total)
        assert m["reach"].n == total
        assert m["conversion"].value == pytest.approx(tpm.loc[tp.id, "conversion"])
        assert m["conversion"].n == tpm.loc[tp.id, "customers"]
        assert m["exit_rate"].value == pytest.approx(tpm.loc[tp.id, "exit_rate"])
    # conversion oracle: customers of product_page who later reach order_confirmed
    pp = set(events.loc[events.touchpoint == "product_page", "customer_id"])
    done = set(events.loc[events.touchpoint == "order_confirmed", "customer_id"])
    assert snap.touchpoint("product_page").metrics["conversion"].value == pytest.approx(
        len(pp & done) / len(pp)
    )


def test_transitions_and_funnel_equal_the_engine(analysis):
    a, events = analysis
    snap = snapshot_from_analysis(a, workspace="t")
    ordered = events.sort_values(["customer_id", "ts", "event", "event_id"])
    pairs = pd.DataFrame(
        {
            "s": ordered.touchpoint,
            "t": ordered.touchpoint.shift(-1),
            "same": ordered.customer_id == ordered.customer_id.shift(-1),
        }
    )
    oracle = pairs[pairs.same].groupby(["s", "t"]).size().to_dict()
    got = {(e.source, e.target): e.count.value for e in snap.transitions}
    assert got == oracle
    funnel = a.funnel([s.key for s in snap.funnel])
    assert [s.customers.value for s in snap.funnel] == list(funnel["customers"])
    assert [s.dropped.value for s in snap.funnel] == [
        0,
        *(funnel["customers"].shift(1) - funnel["customers"]).iloc[1:],
    ]


def test_voice_numbers_reach_the_cards(analysis):
    a, _ = analysis
    snap = snapshot_from_analysis(a, workspace="t")
    nps = snap.touchpoint("checkout").scores["nps"]
    # oracle: promoters 2 (9, 10), detractors 1 (3) of 3 answers
    assert nps.n == 3 and nps.value == pytest.approx(100 * (2 - 1) / 3)
    emo = a.emotions(by="touchpoint").set_index("touchpoint")
    point = next(p for p in snap.emotion_curve if p.key == "checkout")
    assert point.emotion.n == emo.loc["checkout", "n"] == 3
    assert point.emotion.value == pytest.approx(emo.loc["checkout", "emotion"])


def test_build_snapshot_per_persona_counts_only_that_persona(workspace):
    ws, events = workspace
    snap = build_snapshot(ws, persona="bargain_hunter")
    assert snap.meta.persona.id == "bargain_hunter" and snap.meta.workspace == "ws"
    assert snap.meta.data_version == ws.data_version
    mine = events[events.customer_id.map(PERSONA) == "bargain_hunter"]
    oracle = mine.groupby("touchpoint")["customer_id"].nunique()
    assert snap.meta.totals["customers"] == mine.customer_id.nunique()
    for tp in snap.touchpoints:
        assert tp.metrics["customers"].value == oracle.get(tp.id, 0), tp.id


def test_cli_report_from_a_workspace_embeds_every_persona(workspace, tmp_path):
    ws, _ = workspace
    path = ws.path
    ws.close()
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", "--workspace", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    snaps = snapshots_from_html(out.read_text())
    assert [s.meta.persona.id if s.meta.persona else None for s in snaps] == [
        None,
        "bargain_hunter",
        "loyal",
    ]
    loyal = snaps[2]
    assert loyal.meta.totals["customers"] == sum(1 for p in PERSONA.values() if p == "loyal")
    result = CliRunner().invoke(
        app, ["snapshot", "-w", str(path), "-p", "loyal", "--out", str(tmp_path / "s.json")]
    )
    assert result.exit_code == 0, result.output
    again = JourneySnapshot.from_json((tmp_path / "s.json").read_text())
    assert again.touchpoints == loyal.touchpoints


def test_the_snapshot_path_does_not_import_scipy_stats(workspace):
    """scipy.stats costs about a second to import: the snapshot's statistics come from
    scipy.special (the same functions), so a fresh process never loads it."""
    import subprocess
    import sys

    ws, _ = workspace
    ws.close()  # the subprocess opens the warehouse (one writing process at a time)
    code = (
        "import sys, journeymap\n"
        "from journeymap.snapshot import snapshot_from_analysis\n"
        f"ws = journeymap.Workspace({str(ws.path)!r})\n"
        "snap = snapshot_from_analysis(ws.analysis(), workspace='t')\n"
        "assert snap.touchpoints, 'empty snapshot'\n"
        "print('scipy.stats' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
