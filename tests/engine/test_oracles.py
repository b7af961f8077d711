"""Transitions, variants and funnels against pm4py and retentioneering (test oracles only).

Oracles break timestamp ties by input row order, so they get rows pre-sorted by the
journeymap tie rule (customer, ts, event, event_id) with pandas.
"""

from __future__ import annotations

import os

import pandas as pd
import pytest

import journeymap as jm
from engine.logs import ecom_sample, generated_log, sorted_log

os.environ.setdefault("RETENTIONEERING_NO_TRACK", "1")
import pm4py  # noqa: E402  (AGPL: a test oracle only)
import retentioneering.eventstream as retentioneering_eventstream  # noqa: E402


def _ecom_events() -> pd.DataFrame:
    raw = ecom_sample(150)
    frame = raw.rename(columns={"user_id": "customer_id", "timestamp": "ts"})
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    frame["event_id"] = [f"{i:06d}" for i in range(len(frame))]
    return frame[["customer_id", "ts", "event", "event_id"]]


def _generated_events() -> pd.DataFrame:
    log = generated_log(200, seed=5)
    return log[["customer_id", "ts", "event", "event_id"]]


DATASETS = {"ecom": _ecom_events, "generated": _generated_events}


@pytest.fixture(params=sorted(DATASETS), scope="module")
def dataset(request):
    events = DATASETS[request.param]()
    analysis = jm.analyze_events(events, event_id="event_id")
    return sorted_log(events).reset_index(drop=True), analysis


def _pm4py_frame(events: pd.DataFrame) -> pd.DataFrame:
    frame = events.rename(
        columns={
            "customer_id": "case:concept:name",
            "event": "concept:name",
            "ts": "time:timestamp",
        }
    )
    return frame[["case:concept:name", "concept:name", "time:timestamp"]]


def test_transitions_match_pm4py_dfg(dataset):
    events, analysis = dataset
    dfg, starts, ends = pm4py.discover_dfg(_pm4py_frame(events))
    ours = analysis.transitions()
    got = {(r.source, r.target): r.count for r in ours.itertuples()}
    assert got == {k: v for k, v in dfg.items()}
    marked = analysis.transitions(markers=True)
    assert dict(starts) == {r.target: r.count for r in marked.itertuples() if r.source == "(start)"}
    assert dict(ends) == {r.source: r.count for r in marked.itertuples() if r.target == "(end)"}


def test_variants_match_pm4py(dataset):
    events, analysis = dataset
    variants = pm4py.get_variants(_pm4py_frame(events))
    expected = {tuple(k): v for k, v in variants.items()}
    ours = analysis.variants()
    assert dict(zip(ours["path"], ours["customers"], strict=True)) == expected
    assert ours["share"].sum() == pytest.approx(1.0)


def _eventstream(events: pd.DataFrame):
    frame = events.assign(ts=events["ts"].dt.tz_localize(None))
    return retentioneering_eventstream.Eventstream(
        frame, schema={"path_cols": ["customer_id"], "event_col": "event", "timestamp_col": "ts"}
    )


def test_transitions_match_retentioneering(dataset):
    events, analysis = dataset
    stream = _eventstream(events)
    counts = stream.transition_graph_data(edge_weight="count")
    paths = stream.transition_graph_data(edge_weight="unique_paths")
    rename = {"path_start": "(start)", "path_end": "(end)"}
    expected, expected_paths = {}, {}
    for src in counts.index:
        for dst in counts.columns:
            if counts.loc[src, dst] > 0:
                key = (rename.get(src, src), rename.get(dst, dst))
                expected[key] = int(counts.loc[src, dst])
                expected_paths[key] = int(paths.loc[src, dst])
    ours = analysis.transitions(markers=True)
    assert {(r.source, r.target): r.count for r in ours.itertuples()} == expected
    assert {(r.source, r.target): r.customers for r in ours.itertuples()} == expected_paths


def test_funnel_matches_retentioneering(dataset):
    events, analysis = dataset
    stream = _eventstream(events)
    top = events["event"].value_counts().index[:4].tolist()
    steps = [top[1], top[0], top[2], top[3]]
    expected = [s["unique_paths"] for s in stream.funnel_data(steps=steps)["steps"]]
    ours = analysis.funnel(steps, window=None)
    assert ours["customers"].tolist() == expected
