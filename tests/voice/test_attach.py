"""Attachment rules of refresh step 4, in a real DuckDB file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from journeymap.voice.attach import UNATTACHED_REASONS, attach_feedback, attach_feedback_in
from journeymap.voice.sentiment import CACHE_TABLE

from .helpers import events_frame, feedback_frame, spec, warehouse

TOUCHPOINTS = ["home", "checkout", "delivery"]


def _setup(tmp_path):
    events = events_frame(
        [
            # customer a: checkout 10:00, delivery 12:00 (tie with an unmapped event)
            {"customer_id": "a", "ts": "2024-03-01 10:00", "touchpoint": "checkout"},
            {"customer_id": "a", "ts": "2024-03-01 12:00", "touchpoint": "delivery"},
            {"customer_id": "a", "ts": "2024-03-01 12:00", "touchpoint": None, "event": "zz"},
            {"customer_id": "a", "ts": "2024-03-02 09:00", "touchpoint": None},
            # customer b: one old event
            {"customer_id": "b", "ts": "2024-01-01 00:00", "touchpoint": "home"},
            # customer c: tie at the same ts, event names decide: "pay" > "cart"
            {"customer_id": "c", "ts": "2024-03-01 08:00", "touchpoint": "home", "event": "cart"},
            {
                "customer_id": "c",
                "ts": "2024-03-01 08:00",
                "touchpoint": "checkout",
                "event": "pay",
            },
        ]
    )
    feedback = feedback_frame(
        [
            # f0: given touchpoint of the spec wins over events
            {"feedback_id": "f0", "customer_id": "a", "ts": "2024-03-01 13:00",
             "touchpoint": "home", "kind": "csat", "score": 5, "text": "Great service!"},
            # f1: no given -> last mapped event at/before: delivery (12:00), not the unmapped one
            {"feedback_id": "f1", "customer_id": "a", "ts": "2024-03-02 10:00",
             "kind": "nps", "score": 3, "text": "Terrible, awful delivery"},
            # f2: unknown given touchpoint -> falls back to events: checkout (exactly at ts)
            {"feedback_id": "f2", "customer_id": "a", "ts": "2024-03-01 10:00",
             "touchpoint": "nope", "kind": "csat", "score": 2, "text": "Great service!"},
            # f3: b's last event is 60 days old -> outside the 72 h window
            {"feedback_id": "f3", "customer_id": "b", "ts": "2024-03-01 00:00",
             "kind": "nps", "score": 9, "text": ""},
            # f4: response before any event -> no_event_before
            {"feedback_id": "f4", "customer_id": "a", "ts": "2024-02-01 00:00", "kind": "ces",
             "score": 4},
            # f5: customer without events
            {"feedback_id": "f5", "customer_id": "zz", "ts": "2024-03-01 00:00", "kind": "nps",
             "score": 10, "text": "   "},
            # f6: missing customer id
            {"feedback_id": "f6", "customer_id": None, "ts": "2024-03-01 00:00", "kind": "nps",
             "score": 10},
            # f7: tie at 08:00: the last by event name ("pay" -> checkout)
            {"feedback_id": "f7", "customer_id": "c", "ts": "2024-03-01 09:00", "kind": "csat",
             "score": 4, "text": "ok 😀"},
        ]
    )  # fmt: skip
    return warehouse(tmp_path, events=events, feedback=feedback)


def test_attachment_rules_and_report(tmp_path):
    con = _setup(tmp_path)
    report = attach_feedback_in(con, TOUCHPOINTS, {"voice": {"attach_window_hours": 72}})
    out = con.table("feedback").to_pandas().set_index("feedback_id")
    expected = {
        "f0": "home",
        "f1": "delivery",
        "f2": "checkout",
        "f3": None,
        "f4": None,
        "f5": None,
        "f6": None,
        "f7": "checkout",
    }
    got = {k: (v if isinstance(v, str) else None) for k, v in out["touchpoint"].items()}
    assert got == expected
    assert report.rows == 8 and len(out) == 8  # nothing dropped
    assert report.given == 1 and report.by_event == 3
    assert report.unattached == {
        "no_customer_or_time": 1,
        "no_event_before": 2,
        "outside_window": 1,
    }
    assert report.given_unknown == 1
    # the input touchpoint is kept beside the attached one
    assert out.loc["f2", "touchpoint_given"] == "nope"
    assert pd.isna(out.loc["f1", "touchpoint_given"])


def test_window_setting_is_honoured(tmp_path):
    con = _setup(tmp_path)
    # f1 is 22 h after delivery: a 12 h window leaves it unattached
    report = attach_feedback_in(con, TOUCHPOINTS, {"voice": {"attach_window_hours": 12}})
    out = con.table("feedback").to_pandas().set_index("feedback_id")
    assert pd.isna(out.loc["f1", "touchpoint"])
    assert report.unattached["outside_window"] == 2


def test_sentiment_filled_and_cached(tmp_path):
    con = _setup(tmp_path)
    report = attach_feedback_in(con, TOUCHPOINTS, None)
    out = con.table("feedback").to_pandas().set_index("feedback_id")
    # distinct non-blank texts: "Great service!", "Terrible, awful delivery", "ok 😀"
    assert report.texts_scored == 3
    assert con.table(CACHE_TABLE).count().to_pyarrow().as_py() == 3
    assert out.loc["f0", "sentiment"] > 0.5
    assert out.loc["f0", "sentiment"] == out.loc["f2", "sentiment"]
    assert out.loc["f1", "sentiment"] < -0.5
    for blank in ("f3", "f4", "f5", "f6"):  # empty, NULL, whitespace: no sentiment
        assert pd.isna(out.loc[blank, "sentiment"])
    # a re-run scores nothing new and changes nothing
    again = attach_feedback_in(con, TOUCHPOINTS, None)
    assert again.texts_scored == 0
    pd.testing.assert_frame_equal(
        con.table("feedback").to_pandas().set_index("feedback_id").sort_index(), out.sort_index()
    )


def test_workspace_entry_point_and_schema_kept(tmp_path):
    con = _setup(tmp_path)
    before = con.table("feedback").schema()

    class Ws:  # the three attributes attach_feedback reads from a Workspace
        def __init__(self):
            self.con, self.spec, self.settings = con, spec({"s": TOUCHPOINTS}), {}

    report = attach_feedback(Ws(), progress=False)
    assert report.by_event == 3
    assert con.table("feedback").schema() == before
    assert "_voice_feedback_attached" not in con.list_tables()


def test_window_edge_is_inclusive(tmp_path):
    events = events_frame([{"customer_id": "a", "ts": "2024-03-01 00:00:00", "touchpoint": "home"}])
    feedback = feedback_frame(
        [
            {"feedback_id": "edge", "customer_id": "a", "ts": "2024-03-04 00:00:00", "kind": "nps"},
            {"feedback_id": "late", "customer_id": "a", "ts": "2024-03-04 00:00:00.001",
             "kind": "nps"},
        ]
    )  # fmt: skip
    con = warehouse(tmp_path, events=events, feedback=feedback)
    attach_feedback_in(con, TOUCHPOINTS, {"voice": {"attach_window_hours": 72}})
    out = con.table("feedback").to_pandas().set_index("feedback_id")["touchpoint"]
    assert out["edge"] == "home" and pd.isna(out["late"])


def _random_tables(seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events and feedback of 60 customers with ties, unmapped events, old events, NULL and
    unknown customers, for the per-range check against a pandas oracle."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-03-01", tz="UTC")
    events = []
    for c in range(60):
        for _ in range(int(rng.integers(0, 12))):
            events.append(
                {
                    "customer_id": f"c{c:02d}",
                    "ts": start + pd.Timedelta(hours=int(rng.integers(0, 240))),
                    "event": str(rng.choice(["cart", "pay", "view"])),
                    "touchpoint": rng.choice(["home", "checkout", "delivery", None]),
                }
            )
    feedback = []
    for i in range(300):
        customer = rng.choice([f"c{c:02d}" for c in range(63)] + [None])  # c60-c62: no events
        feedback.append(
            {
                "feedback_id": f"f{i:03d}",
                "customer_id": customer,
                "ts": start + pd.Timedelta(hours=int(rng.integers(-24, 300))),
                "touchpoint": rng.choice(["home", None, None, None, "nope"]),
                "kind": "nps",
                "score": 5,
            }
        )
    return events_frame(events), feedback_frame(feedback)


def _oracle(events: pd.DataFrame, feedback: pd.DataFrame, hours: float) -> dict:
    """The attachment rules in plain pandas: feedback_id -> (touchpoint, method)."""
    mapped = events[events.touchpoint.notna()].sort_values(["ts", "event", "event_id"])
    out = {}
    for f in feedback.itertuples():
        if f.touchpoint in TOUCHPOINTS:
            out[f.feedback_id] = (f.touchpoint, "given")
            continue
        if f.customer_id is None or pd.isna(f.ts):
            out[f.feedback_id] = (None, "no_customer_or_time")
            continue
        before = mapped[(mapped.customer_id == f.customer_id) & (mapped.ts <= f.ts)]
        if before.empty:
            out[f.feedback_id] = (None, "no_event_before")
        elif before.ts.iloc[-1] >= f.ts - pd.Timedelta(hours=hours):
            out[f.feedback_id] = (before.touchpoint.iloc[-1], "event")
        else:
            out[f.feedback_id] = (None, "outside_window")
    return out


@pytest.mark.parametrize("slice_rows", [10**9, 40], ids=["one-piece", "per-range"])
def test_attachment_per_customer_range_matches_oracle(tmp_path, slice_rows):
    """Above ``slice_rows`` events the as-of join runs per range of customers (how 100M
    events fit in DuckDB's memory); every row must match the plain-pandas rules either
    way, NULL customers and customers without events included."""
    events, feedback = _random_tables()
    assert len(events) > 5 * 40  # several ranges
    con = warehouse(tmp_path, events=events, feedback=feedback)
    report = attach_feedback_in(
        con, TOUCHPOINTS, {"voice": {"attach_window_hours": 36}}, slice_rows=slice_rows
    )
    expected = _oracle(events, feedback, 36)
    out = con.table("feedback").to_pandas().set_index("feedback_id")
    got = {k: (v if isinstance(v, str) else None) for k, v in out["touchpoint"].items()}
    assert got == {k: tp for k, (tp, _) in expected.items()}
    methods = pd.Series([m for _, m in expected.values()]).value_counts().to_dict()
    assert report.rows == len(feedback) == len(out)
    assert report.given == methods.get("given", 0)
    assert report.by_event == methods.get("event", 0) > 20
    for reason in UNATTACHED_REASONS:
        assert report.unattached[reason] == methods.get(reason, 0) > 0
    assert CACHE_TABLE in con.list_tables() and "_voice_feedback_matched" not in con.list_tables()
