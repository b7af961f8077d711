"""Transitions against a plain-Python oracle, with the pass's stable sort by pair cut into
chunks as small as one pair (at 100M events the default chunk cuts it ~100 times):
counts, distinct customers (journeys per session: a customer counts once), times and
the (start)/(end) markers."""

from __future__ import annotations

import statistics
from collections import defaultdict

import numpy as np
import pyarrow as pa
import pytest

from journeymap.engine import metrics, paths
from journeymap.engine.journeys import Journeys
from journeymap.engine.paths import END, START, transitions


def _log(seed: int, n_names: int) -> list[tuple]:
    """(customer, ts seconds, touchpoint or None, session) rows in tie-rule order."""
    rng = np.random.default_rng(seed)
    names = [f"n{i:03d}" for i in range(n_names)]
    rows = []
    for c in range(12 if n_names < 10 else 300):
        t = 0
        for _ in range(int(rng.integers(1, 9))):
            t += int(rng.choice([0, 5, 60, 4000]))  # ties, short and long gaps
            name = None if rng.random() < 0.15 else str(rng.choice(names[: 4 + 2 * c]))
            rows.append((f"u{c:03d}", t, name, f"s{t // 3600}"))
    return sorted(rows, key=lambda r: (r[0], r[1], r[2] or "", r[3]))


def _oracle(rows: list[tuple], sessions: bool, markers: bool) -> dict:
    journeys: dict[tuple, list] = defaultdict(list)
    for cust, t, name, session in rows:
        if name is not None:  # unmapped events are left out
            journeys[(cust, session) if sessions else (cust,)].append((t, name))
    edges: dict[tuple, list] = defaultdict(list)
    for key, events in journeys.items():
        for (t1, a), (t2, b) in zip(events, events[1:], strict=False):
            edges[(a, b)].append((key[0], float(t2 - t1)))
        if markers:
            edges[(START, events[0][1])].append((key[0], None))
            edges[(events[-1][1], END)].append((key[0], None))
    out = {}
    for pair, hits in edges.items():
        times = [s for _, s in hits if s is not None]
        if times:  # numpy's default quantile: linear interpolation ('inclusive')
            p90 = (
                statistics.quantiles(times, n=10, method="inclusive")[8]
                if len(times) > 1
                else times[0]
            )
            stats = (statistics.median(times), p90, statistics.fmean(times))
        else:
            stats = (None, None, None)
        out[pair] = (len(hits), len({c for c, _ in hits}), *stats)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("sessions", [False, True])
@pytest.mark.parametrize("markers", [False, True])
@pytest.mark.parametrize("chunk", [1, 3, None])
@pytest.mark.parametrize("n_names", [4, 300])  # (300: int32 pair keys, renumbered to sort)
def test_transitions_match_oracle_in_chunks(monkeypatch, seed, sessions, markers, chunk, n_names):
    if chunk:
        monkeypatch.setattr(metrics, "RANGE_EVENTS", chunk)
        monkeypatch.setattr(paths, "RANGE_EVENTS", chunk)
        monkeypatch.setattr(metrics, "SORT_CHUNK", chunk)
    rows = _log(seed, n_names)
    assert len({r[2] for r in rows}) > (255 if n_names > 255 else 0)  # (uint16 keys: 255)
    base = np.datetime64("2024-01-01T00:00:00", "us")
    table = pa.table(
        {
            "customer_id": [r[0] for r in rows],
            "ts": pa.array([base + np.timedelta64(r[1], "s") for r in rows], pa.timestamp("us")),
            "event": [r[2] or "other" for r in rows],
            "touchpoint": [r[2] for r in rows],
            "stage": pa.nulls(len(rows), pa.string()),
            "channel": pa.nulls(len(rows), pa.string()),
            "session_id": [r[3] for r in rows],
        }
    )
    j = Journeys.from_rows(table)
    got = transitions(j.by_session() if sessions else j, markers=markers)
    want = _oracle(rows, sessions, markers)
    assert {(r.source, r.target) for r in got.itertuples()} == set(want)
    for r in got.itertuples():
        count, customers, median, p90, mean = want[(r.source, r.target)]
        assert (r.count, r.customers) == (count, customers)
        if median is None:
            assert np.isnan(r.median_s) and np.isnan(r.p90_s) and np.isnan(r.mean_s)
        else:
            assert (r.median_s, r.p90_s, r.mean_s) == pytest.approx((median, p90, mean))
