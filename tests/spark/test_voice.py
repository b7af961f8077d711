"""Feedback attachment and sentiment (refresh step 4) on Spark give the DuckDB answer.

DuckDB attaches with an ASOF join; Spark has none, so there the same rule is a windowed
join (journeymap.voice.attach._last_event). Both are checked against a plain-pandas
oracle of the rule (last mapped event at or before the response, ties by event then
event_id, inclusive window) on a generated log with ties, customers without events,
missing ids and times, and against each other (touchpoints, methods, sentiment exactly).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spark.both import assert_same, needs_pyspark

needs_pyspark()

import ibis  # noqa: E402

from journeymap.voice.attach import attach_feedback_in  # noqa: E402
from journeymap.voice.sentiment import CACHE_TABLE  # noqa: E402
from journeymap.workspace.backend import write_table  # noqa: E402
from voice.helpers import SCHEMAS, events_frame, feedback_frame  # noqa: E402

TOUCHPOINTS = ["home", "product", "checkout", "delivery"]
TEXTS = ["Great service!", "Terrible, awful delivery", "ok 😀", "", "   ", None, "meh"]


def _log(seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events at minute resolution (many ties) and feedback around them."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-03-01", tz="UTC")
    events = []
    for i in range(400):
        for _ in range(int(rng.integers(0, 6))):
            events.append(
                {
                    "customer_id": f"c{i}",
                    "ts": start
                    + pd.Timedelta(minutes=int(rng.integers(0, 60 * 24 * 8)) // 30 * 30),
                    "event": str(rng.choice(["view", "cart", "pay", "ship"])),
                    "touchpoint": rng.choice([*TOUCHPOINTS, None]),
                }
            )
    feedback = []
    for j in range(900):
        feedback.append(
            {
                "feedback_id": f"f{j}",
                "customer_id": None if j % 97 == 0 else f"c{int(rng.integers(0, 430))}",
                "ts": None
                if j % 89 == 0
                else start + pd.Timedelta(minutes=int(rng.integers(0, 60 * 24 * 10)) // 30 * 30),
                "touchpoint": rng.choice(["home", "nope", None, None, None]),
                "kind": "nps",
                "score": float(rng.integers(0, 11)),
                "text": TEXTS[j % len(TEXTS)],
            }
        )
    ev = events_frame(events)
    ev["event_id"] = [f"e{k:05d}" for k in range(len(ev))]
    ev["ts"] = ev["ts"].astype("datetime64[us, UTC]")
    return ev, feedback_frame(feedback)


def _oracle(events: pd.DataFrame, feedback: pd.DataFrame, hours: float) -> dict[str, object]:
    """feedback_id -> attached touchpoint, by the rule in plain pandas."""
    mapped = events[events.touchpoint.notna()].sort_values(["ts", "event", "event_id"])
    out: dict[str, object] = {}
    for row in feedback.itertuples():
        if row.touchpoint in TOUCHPOINTS:
            out[row.feedback_id] = row.touchpoint
            continue
        out[row.feedback_id] = None
        if row.customer_id is None or pd.isna(row.ts):
            continue
        before = mapped[(mapped.customer_id == row.customer_id) & (mapped.ts <= row.ts)]
        if len(before) and before.ts.iloc[-1] >= row.ts - pd.Timedelta(hours=hours):
            out[row.feedback_id] = before.touchpoint.iloc[-1]
    return out


def _load(con, events: pd.DataFrame, feedback: pd.DataFrame) -> None:
    for name, frame in (("events", events), ("feedback", feedback)):
        write_table(con, name, ibis.memtable(frame, schema=SCHEMAS[name]).to_pyarrow())


@pytest.mark.parametrize("hours", [72, 12])
def test_attach_matches_duckdb_and_the_oracle(spark_con, tmp_path, hours):
    events, feedback = _log()
    expected = _oracle(events, feedback, hours)
    settings = {"voice": {"attach_window_hours": hours}}
    reports, tables = [], []
    for con in (ibis.duckdb.connect(str(tmp_path / "w.duckdb")), spark_con):
        _load(con, events, feedback)
        reports.append(attach_feedback_in(con, TOUCHPOINTS, settings))
        out = con.table("feedback").order_by("feedback_id").to_pandas()
        got = {
            k: (v if isinstance(v, str) else None)
            for k, v in zip(out.feedback_id, out.touchpoint, strict=True)
        }
        assert got == expected, f"{con.name}: attachment differs from the oracle"
        assert sorted(con.table("feedback").columns) == sorted(feedback.columns)
        tables.append(out)
    duck, spark = reports
    assert duck == spark
    assert duck.rows == len(feedback) and duck.by_event > 50 and duck.unattached_total > 50
    assert all(duck.unattached.values())  # every reason occurs in the log
    assert_same(*tables, what="feedback after attach")
    assert tables[0].sentiment.notna().sum() > 300  # the non-blank texts are scored


def test_sentiment_cache_on_another_connection(spark_con, tmp_path):
    """A Spark workspace keeps the cache in its DuckDB file: scored once, reused after."""
    events, feedback = _log(seed=4)
    state = ibis.duckdb.connect(str(tmp_path / "state.duckdb"))
    _load(spark_con, events, feedback)
    first = attach_feedback_in(spark_con, TOUCHPOINTS, None, cache_con=state)
    assert first.texts_scored == 4  # the distinct non-blank texts
    assert state.table(CACHE_TABLE).count().to_pyarrow().as_py() == 4
    assert CACHE_TABLE not in spark_con.list_tables()
    scored = spark_con.table("feedback").order_by("feedback_id").to_pandas()
    again = attach_feedback_in(spark_con, TOUCHPOINTS, None, cache_con=state)
    assert again.texts_scored == 0
    assert_same(scored, spark_con.table("feedback").order_by("feedback_id").to_pandas())
    by_text = scored.dropna(subset=["sentiment"]).groupby("text").sentiment.unique()
    assert by_text["Great service!"][0] > 0.5 and by_text["Terrible, awful delivery"][0] < -0.5
    assert not [v for v in spark_con.list_tables() if v.startswith("_voice")]
