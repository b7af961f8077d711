"""Funnels in all three orders, with windows, exclusions and open entry, against a small
plain-Python reference written from the documented rules (journeymap.engine.funnel).

The reference searches every increasing index sequence by brute force (no greedy
shortcut), so it independently checks that the engine's earliest-next walk finds the best
entry and the earliest time at each step.
"""

from __future__ import annotations

import itertools
import statistics

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import journeymap as jm
from journeymap.engine.funnel import RANGE_EVENTS, funnel_paths, summarise
from journeymap.engine.journeys import Journeys, journey_ranges

NAMES = "abcd"


def _sequences(journey, steps, entry, first, window, strict, directly=(), within=None):
    """All valid index sequences for steps[first:] starting at ``entry``; ``directly``
    (0-based steps that must come right after their prior step) and ``within`` (0-based
    step -> seconds after its prior step) are GA4's per-step constraints."""
    t0 = journey[entry][0]
    out = [(entry,)]
    frontier = [(entry,)]
    for k in range(first + 1, len(steps)):
        nxt = []
        for seq in frontier:
            last = seq[-1]
            right_after = strict or k in directly
            candidates = [last + 1] if right_after else range(last + 1, len(journey))
            for m in candidates:
                if m < len(journey) and journey[m][1] == steps[k]:
                    if window is not None and journey[m][0] - t0 > window:
                        continue
                    limit = (within or {}).get(k)
                    if limit is not None and journey[m][0] - journey[last][0] > limit:
                        continue
                    nxt.append((*seq, m))
        out.extend(nxt)
        frontier = nxt
    return out


def _earliest(seqs, first):
    """The earliest event of each step over the valid sequences: the path exclusions are
    judged on (without per-step constraints, the earliest-next walk)."""
    path = []
    for k in range(max(len(s) for s in seqs)):
        path.append(min(s[k] for s in seqs if len(s) > k))
    return path


def _greedy(journey, steps, entry, first, window, strict):
    """Earliest-next path (the documented definition used for exclusions)."""
    t0, path = journey[entry][0], [entry]
    for k in range(first + 1, len(steps)):
        rng = [path[-1] + 1] if strict else range(path[-1] + 1, len(journey))
        hit = next(
            (
                m
                for m in rng
                if m < len(journey)
                and journey[m][1] == steps[k]
                and (window is None or journey[m][0] - t0 <= window)
            ),
            None,
        )
        if hit is None:
            break
        path.append(hit)
    return path


def _tainted(journey, path, first, exclusions):
    for name, a, b in exclusions:
        i, j = a - 1 - first, b - 1 - first
        if i >= 0 and j < len(path):
            if any(journey[m][1] == name for m in range(path[i] + 1, path[j])):
                return True
    return False


def reference(journeys, steps, window, order, exclusions, open_, directly=(), within=None):
    """{customer: {step index: seconds from entry}} by the documented rules."""
    out = {}
    for cust, journey in journeys.items():
        # candidates: (entry index, first step, {k: time})
        cands = []
        firsts = range(len(steps)) if open_ else [0]
        for first in firsts:
            for e, (t, name) in enumerate(journey):
                if order == "unordered":
                    if first or name not in steps:
                        continue
                    times = sorted(
                        min(tt - t for tt, nm in journey[e:] if nm == s)
                        for s in steps
                        if any(
                            nm == s and (window is None or tt - t <= window)
                            for tt, nm in journey[e:]
                        )
                    )
                    # a step's earliest occurrence after e is inside the window if any is
                    cands.append((e, first, dict(enumerate(times))))
                    continue
                if name != steps[first]:
                    continue
                strict = order == "strict"
                seqs = _sequences(journey, steps, e, first, window, strict, directly, within)
                if not (directly or within):  # the documented walk is the earliest path
                    assert _earliest(seqs, first) == _greedy(
                        journey, steps, e, first, window, strict
                    )
                if exclusions and _tainted(journey, _earliest(seqs, first), first, exclusions):
                    continue
                times = {}
                for seq in seqs:
                    k = first + len(seq) - 1
                    dt = journey[seq[-1]][0] - t
                    times[k] = min(times.get(k, dt), dt)
                cands.append((e, first, times))
        if not cands:
            continue
        result = {}
        if open_:
            for k in range(len(steps)):
                hits = sorted((e, f) for e, f, tm in cands if k in tm)
                if hits:
                    e, f = hits[0]
                    result[k] = next(tm for ee, ff, tm in cands if (ee, ff) == (e, f))[k]
        else:
            best = max(len(tm) for _, _, tm in cands)
            e, _, tm = min((c for c in cands if len(c[2]) == best), key=lambda c: c[0])
            result = dict(tm)
        out[cust] = result
    return out


journeys_st = st.dictionaries(
    keys=st.sampled_from([f"u{i}" for i in range(8)]),
    values=st.lists(
        st.tuples(st.integers(0, 40), st.sampled_from(list(NAMES))), min_size=1, max_size=7
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=journeys_st,
    order=st.sampled_from(["ordered", "strict", "unordered"]),
    steps=st.lists(st.sampled_from(list(NAMES)), min_size=1, max_size=4),
    window=st.one_of(st.none(), st.integers(0, 25)),
    exclusion=st.one_of(st.none(), st.tuples(st.sampled_from(list(NAMES)), st.integers(1, 3))),
    open_=st.booleans(),
    directly=st.sets(st.integers(2, 4), max_size=2),
    within=st.dictionaries(st.integers(2, 4), st.integers(0, 15), max_size=2),
    range_events=st.sampled_from([1, 2, 3, 5, RANGE_EVENTS]),
)
def test_funnel_matches_reference(
    raw, order, steps, window, exclusion, open_, directly, within, range_events
):
    """Also per journey, with ranges of whole journeys as small as one event (journeys
    then fall one or several to a range, as at 100M events with the default size)."""
    if order == "unordered" or open_:
        steps = list(dict.fromkeys(steps))
    if order == "unordered":
        open_, exclusion = False, None
        directly, within = set(), {}  # refused: see test_per_step_constraints_rules
    directly = {k for k in directly if k <= len(steps)}
    within = {k: v * 60 for k, v in within.items() if k <= len(steps)}
    exclusions = []
    if exclusion and len(steps) >= 2:
        name, a = exclusion
        a = min(a, len(steps) - 1)
        exclusions = [(name, a, len(steps))]
    rows, journeys = [], {}
    for cust, events in raw.items():
        # the tie rule: (ts, event, event_id); ids here follow the sorted order
        ordered = sorted(events)
        journeys[cust] = [(t * 60, name) for t, name in ordered]
        for i, (t, name) in enumerate(ordered):
            rows.append(
                (
                    cust,
                    pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(minutes=t),
                    name,
                    f"{cust}-{i:02d}",
                )
            )
    rows.sort(key=lambda r: (r[0], r[1], r[2], r[3]))
    table = pa.table(
        {
            "customer_id": [r[0] for r in rows],
            "ts": pa.array([r[1] for r in rows], pa.timestamp("us", tz="UTC")),
            "event": [r[2] for r in rows],
            "touchpoint": [r[2] for r in rows],
            "stage": pa.nulls(len(rows), pa.string()),
            "channel": pa.nulls(len(rows), pa.string()),
            "session_id": pa.nulls(len(rows), pa.string()),
        }
    )
    win = None if window is None else window * 60
    paths = funnel_paths(
        Journeys.from_rows(table),
        steps,
        window=win,
        order=order,
        open=open_,
        exclusions=[{"step": n, "from": a, "to": b} for n, a, b in exclusions],
        directly=sorted(directly),
        within={k: f"{v}s" for k, v in within.items()},
        range_events=range_events,
    )
    ours = summarise(paths)
    ref = reference(
        journeys,
        steps,
        win,
        order,
        exclusions,
        open_,
        {k - 1 for k in directly},
        {k - 1: v for k, v in within.items()},
    )
    counts = [sum(1 for r in ref.values() if k in r) for k in range(len(steps))]
    assert ours["customers"].tolist() == counts
    for i, cust in enumerate(paths.journeys.keys):
        want = ref.get(cust, {})
        assert np.flatnonzero(paths.reached[i]).tolist() == sorted(want)
        assert paths.seconds[i][paths.reached[i]].tolist() == [want[k] for k in sorted(want)]
        j, at = paths.journeys, paths.positions[i][paths.reached[i]]
        assert ((at >= j.offsets[i]) & (at < j.offsets[i + 1])).all()  # its own events
        if order != "unordered":  # (there step k is the k-th distinct step done)
            assert j.step_names[j.steps[at]].tolist() == [steps[k] for k in sorted(want)]
    for k in range(1, len(steps)):
        vals = [r[k] for r in ref.values() if k in r]
        got = ours["median_time_to_convert_s"].iloc[k]
        if vals:
            assert got == pytest.approx(statistics.median(vals))
        else:
            assert np.isnan(got)
    entered = len(ref) if open_ else counts[0]
    if entered:
        assert ours["conversion"].tolist() == pytest.approx([c / entered for c in counts])


def test_journey_ranges_cover_whole_journeys():
    offsets = np.array([0, 3, 4, 4 + 9, 15, 16, 20])
    for size in (1, 2, 4, 5, 9, 100):
        ranges = journey_ranges(offsets, size)
        assert [a for a, _ in ranges] == [0] + [b for _, b in ranges[:-1]]
        assert ranges[-1][1] == len(offsets) - 1
        for a, b in ranges:  # at most ``size`` events, or one longer journey alone
            assert offsets[b] - offsets[a] <= size or b == a + 1
    assert journey_ranges(np.array([0]), 4) == []


def test_sequences_helper_is_exhaustive():
    journey = [(0, "a"), (1, "b"), (2, "b"), (3, "c")]
    seqs = _sequences(journey, ["a", "b", "c"], 0, 0, None, False)
    assert set(seqs) == {(0,), (0, 1), (0, 2), (0, 1, 3), (0, 2, 3)}
    assert list(itertools.chain.from_iterable(seqs))[0] == 0


def test_funnel_api_through_analyze_events():
    """The same rules through the public API, store and events paths, window as text."""
    frame = pd.DataFrame(
        {
            "customer_id": ["p", "p", "p", "p", "q", "q", "r"],
            "ts": pd.to_datetime(
                [
                    "2024-01-01 00:00",
                    "2024-01-01 00:00",
                    "2024-01-03 00:00",
                    "2024-01-20 00:00",
                    "2024-01-01 00:00",
                    "2024-01-02 00:00",
                    "2024-01-05 00:00",
                ],
                utc=True,
            ),
            "event": ["a", "b", "a", "c", "a", "x", "b"],
        }
    )
    analysis = jm.analyze_events(frame)
    for a in (analysis, analysis.filtered(use_store=False)):
        out = a.funnel(["a", "b", "c"], window="14d")
        # p: a(00:00) b(00:00, after a by the tie rule) ; c is 17+ days later
        assert out["customers"].tolist() == [2, 1, 0]
        assert out["median_time_to_convert_s"].iloc[1] == 0.0
        assert a.funnel(["a", "b", "c"], window=None)["customers"].tolist() == [2, 1, 1]
        unknown = pytest.raises(ValueError, match="unknown touchpoint step")
        with unknown:
            a.funnel(["a", "nope"])


def test_per_step_constraints_rules():
    """GA4's per-step constraints on a hand-made log, and the refused combinations."""
    frame = pd.DataFrame(
        {
            "customer_id": ["p"] * 5 + ["q"] * 3,
            "ts": pd.to_datetime(
                [
                    "2024-01-01 00:00",  # p: a b x b c, the second b right before c
                    "2024-01-01 00:01",
                    "2024-01-01 00:02",
                    "2024-01-01 05:00",
                    "2024-01-01 05:10",
                    "2024-01-01 00:00",  # q: a c b
                    "2024-01-01 00:05",
                    "2024-01-01 00:06",
                ],
                utc=True,
            ),
            "event": ["a", "b", "x", "b", "c", "a", "c", "b"],
        }
    )
    a = jm.analyze_events(frame)
    for an in (a, a.filtered(use_store=False)):
        plain = an.funnel(["a", "b", "c"], window=None)
        assert plain["customers"].tolist() == [2, 2, 1]
        # c right after b: p's second b (a greedy walk from the first b would miss it);
        # step 2 times: p 60 s, q 360 s
        out = an.funnel(["a", "b", "c"], window=None, directly=[3])
        assert out["customers"].tolist() == [2, 2, 1]
        assert out["median_time_to_convert_s"].tolist()[1:] == [210.0, 5 * 3600 + 600.0]
        assert an.funnel(["a", "b", "c"], window=None, directly=[2])["customers"].tolist() == [
            2,
            1,
            1,
        ]
        assert an.funnel(["a", "b"], window=None, within={2: "30s"})["customers"].tolist() == [
            2,
            0,
        ]
        # c within 15 minutes of b: only p's second b qualifies
        out = an.funnel(["a", "b", "c"], window=None, within={3: "15m"})
        assert out["customers"].tolist() == [2, 2, 1]
        assert an.funnel(["a", "b", "c"], window="5h", within={3: "15m"})["customers"].tolist() == [
            2,
            2,
            0,
        ]
        strict = an.funnel(["a", "c", "b"], window=None, order="strict", within={3: "30s"})
        assert strict["customers"].tolist() == [2, 1, 0]
    with pytest.raises(ValueError, match="unordered funnel has no prior step"):
        a.funnel(["a", "b"], order="unordered", directly=[2])
    with pytest.raises(ValueError, match="unordered funnel has no prior step"):
        a.funnel(["a", "b"], order="unordered", within={2: "1h"})
    with pytest.raises(ValueError, match=r"directly: step number 1 must be 2\.\.3"):
        a.funnel(["a", "b", "c"], directly=[1])
    with pytest.raises(ValueError, match=r"within: step number 4 must be 2\.\.3"):
        a.funnel(["a", "b", "c"], within={4: "1h"})
    with pytest.raises(ValueError, match="funnel window"):
        a.funnel(["a", "b"], within={2: "soon"})
