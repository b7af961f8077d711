"""The audit finds every planted defect, with the right counts, and nothing on clean data."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from identity.tables import connect, write
from journeymap.sources.audit import CHECKS, AuditSettingsError, audit_in

from .fixture import DAY0, DEFECTS, GAP_DAYS, NOW, build

ZERO_WHEN_CLEAN = [
    "quarantined",
    "duplicate_events",
    "future_events",
    "too_old_events",
    "clock_skew_sources",
    "one_event_customers",
    "unmapped_events",
    "unattached_feedback",
    "coverage_gap_days",
]


def _warehouse(tmp_path, defects):
    rows = build(set(defects))
    con = connect(tmp_path)
    for name, table_rows in rows.items():
        write(con, name, table_rows)
    return con, rows


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    con, rows = _warehouse(tmp_path_factory.mktemp("clean"), ())
    return audit_in(con, now=NOW), rows


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    con, rows = _warehouse(tmp_path_factory.mktemp("planted"), DEFECTS)
    return audit_in(con, now=NOW), rows


def _nearest_gap_medians(events: pd.DataFrame, window_h: float = 24) -> dict[str, float]:
    """Oracle: per source, median of each event's nearest other-source gap, in minutes."""
    return {s: float(pd.Series(v).median()) for s, v in _nearest_gaps(events, window_h).items()}


def _nearest_gaps(events: pd.DataFrame, window_h: float = 24) -> dict[str, list[float]]:
    """Oracle: per source, each event's nearest other-source gap in minutes (one per event)."""
    gaps: dict[str, list[float]] = {}
    for _, group in events.groupby("customer_id"):
        recs = list(group[["ts", "source"]].itertuples(index=False))
        for ts, source in recs:
            cands = [(ts - o_ts).total_seconds() for o_ts, o_src in recs if o_src != source]
            cands = [g for g in cands if abs(g) <= window_h * 3600]
            if cands:
                best = min(cands, key=lambda g: (abs(g), -g))  # tie: the earlier other event
                gaps.setdefault(source, []).append(best / 60)
    return gaps


def test_clean_data_has_no_findings(clean):
    report, rows = clean
    for name in ZERO_WHEN_CLEAN:
        assert report.summary[name] == 0, name
    tables = report.tables()
    assert list(tables) == list(CHECKS)
    for name in ("quarantine", "duplicates", "time_outliers", "unmapped_events",
                 "unattached_feedback", "coverage_gaps"):  # fmt: skip
        assert tables[name].empty, name
    assert report.summary["rows"] == len(rows["events"]) + len(rows["feedback"])
    skew = tables["clock_skew"].set_index("source")
    assert not skew.flagged.any()
    # The ads source is an hour early on median, but spread out: journey order, no skew.
    assert skew.loc["ads", "median_gap_minutes"] < -30
    assert skew.loc["ads", "spread_minutes"] > 0.25 * 30
    oracle = _nearest_gap_medians(pd.DataFrame(rows["events"]))
    assert skew.median_gap_minutes.to_dict() == pytest.approx(oracle)


def test_source_row_counts(planted):
    report, rows = planted
    got = report.tables()["sources"]
    expected = []
    for name in ("events", "feedback"):
        counts = pd.DataFrame(rows[name]).groupby("source").size()
        expected += [(name, s, int(n)) for s, n in counts.items()]
    assert sorted(got.itertuples(index=False, name=None)) == sorted(expected)


def test_quarantine_by_reason(planted):
    report, _ = planted
    got = report.tables()["quarantine"]
    assert got[["reason", "rows"]].values.tolist() == [
        ["unparseable timestamp", 2],
        ["no identifier", 1],
    ]
    assert report.summary["quarantined"] == 3


def test_duplicates(planted):
    report, rows = planted
    events = pd.DataFrame(rows["events"])
    oracle = events.groupby(["customer_id", "event", "ts", "properties"]).event_id.nunique()
    oracle = oracle[oracle > 1]
    assert report.summary["duplicate_events"] == int((oracle - 1).sum()) == 3
    got = report.tables()["duplicates"]
    assert sorted(map(tuple, got.event_ids)) == [
        ("dup-a", "web-0-0"),
        ("dup-b", "dup-c", "web-1-1"),
    ]


def test_time_outliers(planted):
    report, _ = planted
    got = report.tables()["time_outliers"].set_index("kind")
    assert report.summary["future_events"] == 1
    assert report.summary["too_old_events"] == 2
    assert got.loc["too_old", "earliest"] == pd.Timestamp("1970-01-01", tz="UTC")
    assert got.loc["future", "source"] == "web"


def test_clock_skew_flags_only_the_shifted_source(planted):
    report, rows = planted
    skew = report.tables()["clock_skew"].set_index("source")
    assert skew.index[skew.flagged].tolist() == ["pos"]
    assert report.summary["clock_skew_sources"] == 1
    oracle = _nearest_gap_medians(pd.DataFrame(rows["events"]))
    assert skew.median_gap_minutes.to_dict() == pytest.approx(oracle)
    assert skew.loc["pos", "median_gap_minutes"] == pytest.approx(182.0)
    assert skew.loc["pos", "n"] >= 20


def test_clock_skew_counts_each_event_once(tmp_path):
    """An event repeated at one instant (a retried upload, one customer's multi-item
    receipt) is several events, each with one nearest gap: k copies count k times, not
    k * k (the two nearest-event searches are joined per event, not per instant)."""
    rows = build(set())
    repeats = [
        {**e, "event_id": f"{e['event_id']}-copy{k}"}
        for e in rows["events"]
        if e["source"] == "pos" and e["ts"] < DAY0 + pd.Timedelta(days=6)
        for k in (1, 2)
    ]
    assert len(repeats) > 20
    rows["events"] += repeats
    con = connect(tmp_path)
    write(con, "events", rows["events"])
    skew = audit_in(con, now=NOW).tables()["clock_skew"].set_index("source")
    oracle = _nearest_gaps(pd.DataFrame(rows["events"]))
    assert skew.n.to_dict() == {s: len(g) for s, g in oracle.items()}
    medians = {s: float(pd.Series(g).median()) for s, g in oracle.items()}
    assert skew.median_gap_minutes.to_dict() == pytest.approx(medians)


def test_one_event_customers(planted):
    report, rows = planted
    per = pd.DataFrame(rows["events"]).groupby("customer_id").size()
    frame = report.tables()["one_event_customers"]
    assert frame.one_event.tolist() == [int((per == 1).sum())] == [1]
    assert frame.customers.tolist() == [per.size]


def test_unmapped_events_by_name(planted):
    report, _ = planted
    got = report.tables()["unmapped_events"]
    assert got[["event", "channel", "rows", "customers"]].values.tolist() == [
        ["mystery_click", "web", 3, 3],
        ["odd_tap", "app", 1, 1],
    ]


def test_unattached_feedback(planted):
    report, _ = planted
    got = report.tables()["unattached_feedback"]
    assert sorted(got[["kind", "rows"]].values.tolist()) == [["csat", 1], ["nps", 1]]
    assert report.summary["unattached_feedback"] == 2


def test_coverage_gap(planted):
    report, _ = planted
    got = report.tables()["coverage_gaps"]
    start, end = (pd.Timestamp("2024-03-01") + pd.Timedelta(days=d) for d in GAP_DAYS)
    assert got[["channel", "gap_start", "gap_end", "days"]].values.tolist() == [
        ["web", start.date().isoformat(), end.date().isoformat(), 2]
    ]


def test_every_planted_kind_is_found(planted):
    report, _ = planted
    for name in ZERO_WHEN_CLEAN:
        assert report.summary[name] > 0, name


def test_json_round_trip(planted):
    report, _ = planted
    data = json.loads(json.dumps(report.to_dict()))
    assert data["summary"] == report.summary
    assert set(data["checks"]) == set(CHECKS)
    assert data["checks"]["duplicates"][0]["ts"].startswith("2024-03-0")


def test_bad_setting_is_named(tmp_path):
    con, _ = _warehouse(tmp_path, ())
    with pytest.raises(AuditSettingsError, match=r"\[audit\] skew_min_n = 0"):
        audit_in(con, {"audit": {"skew_min_n": 0}}, now=NOW)
