"""The api unpacks an Analysis-shaped object; the CLI prints tables, CSV and JSON."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from journeymap.cli.app import app
from journeymap.voice import api
from journeymap.voice.emotions import emotion_table

from .helpers import customers_frame, events_frame, feedback_frame, spec, warehouse

SPEC = spec({"buy": ["cart", "checkout"], "after": ["delivery"]}, goal="checkout")


@pytest.fixture
def analysis(tmp_path):
    fb = feedback_frame(
        [
            {"customer_id": f"c{i}", "ts": "2024-01-02", "touchpoint": tp, "kind": kind,
             "score": float(score), "text": text, "sentiment": sent}
            for i, (tp, kind, score, text, sent) in enumerate(
                [("cart", "csat", 5, "great", 0.6), ("cart", "csat", 2, "slow cart", -0.3),
                 ("delivery", "nps", 3, "parcel late", -0.4), ("delivery", "nps", 10, None, None),
                 ("checkout", "ces", 6, "easy", 0.4), ("cart", "csat", 1, "slow cart", -0.3)]
            )
        ]
    )  # fmt: skip
    con = warehouse(
        tmp_path,
        feedback=fb,
        events=events_frame([{"customer_id": "c0", "ts": "2024-01-01", "touchpoint": "checkout"}]),
        customers=customers_frame([{"customer_id": f"c{i}", "persona": "p"} for i in range(6)]),
    )
    return SimpleNamespace(
        con=con,
        spec=SPEC,
        settings={"voice": {"min_n": 2}},
        feedback=lambda: con.table("feedback"),
        events=lambda: con.table("events"),
        customers=lambda: con.table("customers"),
    )


def test_api_calls_the_table_functions(analysis):
    got = api.emotions(analysis, by="touchpoint")
    direct = emotion_table(analysis.feedback(), by="touchpoint", spec=SPEC,
                           settings=analysis.settings)  # fmt: skip
    pd.testing.assert_frame_equal(got, direct)
    assert got["n"].sum() == 6
    persona = api.emotions(analysis, persona="p")
    assert persona["n"].sum() == 6
    scores = api.scores(analysis, by="stage")
    assert scores["kind"].tolist() == ["csat", "ces", "nps"]  # buy: csat, ces; after: nps
    table = api.scores(analysis, by=None, arrow=True)
    assert isinstance(table, pa.Table) and table.num_rows == 3
    themes = api.themes(analysis, top=2)
    assert themes.iloc[0]["touchpoint"] == "cart" and themes.iloc[0]["theme"] == "slow cart"
    assert api.drivers(analysis)["touchpoint"].tolist()  # runs on the same object


def test_api_without_feedback_table(analysis):
    analysis.feedback = lambda: None
    assert api.scores(analysis).empty
    curve = api.emotions(analysis, by="stage")
    assert curve["stage"].tolist() == ["buy", "after"] and (curve["n"] == 0).all()
    assert api.themes(analysis).empty


def test_voice_commands_are_registered():
    import journeymap.cli  # noqa: F401  (registers every command module)

    result = CliRunner().invoke(app, ["voice", "--help"])
    assert result.exit_code == 0
    for command in ("scores", "emotions", "themes", "drivers"):
        assert command in result.output
