"""Touchpoint / stage metrics, conformance and flows against plain pandas/Python oracles."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from engine.logs import STAGES, sorted_log
from journeymap.engine import Analysis


def _journeys(log: pd.DataFrame, column: str) -> dict[str, list[tuple]]:
    """customer -> [(step, ts, stage, channel, touchpoint)] of mapped events, in order."""
    out: dict[str, list[tuple]] = defaultdict(list)
    for r in sorted_log(log).itertuples():
        if pd.notna(getattr(r, column)):
            out[r.customer_id].append((getattr(r, column), r.ts, r.stage, r.channel, r.touchpoint))
    return out


def _oracle_metrics(log: pd.DataFrame, column: str, goal: str) -> pd.DataFrame:
    journeys = _journeys(log, column)
    rows = {}
    names = sorted({s for j in journeys.values() for s, *_ in j})
    for name in names:
        reached = {c: j for c, j in journeys.items() if any(s == name for s, *_ in j)}
        conv = exits = loops = 0
        times = []
        for j in reached.values():
            steps = [s for s, *_ in j]
            p = steps.index(name)
            tps = [e[4] for e in j]
            conv += any(t == goal for t in tps[p:])
            exits += steps[-1] == name
            runs = [s for i, s in enumerate(steps) if i == 0 or steps[i - 1] != s]
            loops += runs.count(name) >= 2
            stage = j[p][2]
            if stage in STAGES and STAGES.index(stage) + 1 < len(STAGES):
                nxt = STAGES[STAGES.index(stage) + 1]
                later = [e[1] for e in j[p + 1 :] if e[2] == nxt]
                if later:
                    times.append((later[0] - j[p][1]).total_seconds())
        channels = Counter(ch for j in reached.values() for s, _, _, ch, _ in j if s == name)
        total = sum(channels.values())
        rows[name] = {
            "events": total,
            "customers": len(reached),
            "share": len(reached) / len(journeys),
            "conversion": conv / len(reached),
            "exit_rate": exits / len(reached),
            "repeat_rate": loops / len(reached),
            "median_time_to_next_stage_s": statistics.median(times) if times else np.nan,
            "first_touch": sum(j[0][0] == name for j in journeys.values()),
            "last_touch": sum(j[-1][0] == name for j in journeys.values()),
            "channel_mix": {k: round(v / total, 4) for k, v in sorted(channels.items())},
        }
    return pd.DataFrame.from_dict(rows, orient="index")


@pytest.fixture(params=[None, 1, 5])
def chunk(request, monkeypatch):
    """Work over chunks of the default size, of one element, of five (passes then cut
    journeys and names across chunks, as at 100M events with the default size)."""
    from journeymap.engine import metrics

    if request.param:
        monkeypatch.setattr(metrics, "RANGE_EVENTS", request.param)
        monkeypatch.setattr(metrics, "SORT_CHUNK", request.param)
    return request.param


@pytest.mark.parametrize("level", ["touchpoint", "stage"])
def test_step_metrics_match_oracle(ws, log, level, chunk):
    a = Analysis.from_workspace(ws)
    got = a.touchpoint_metrics() if level == "touchpoint" else a.stage_metrics()
    got = got.set_index(level)
    expected = _oracle_metrics(log, level, "order_confirmed")
    assert set(got.index) == set(expected.index)
    for name, row in expected.iterrows():
        for col, value in row.items():
            if isinstance(value, float) and np.isnan(value):
                assert np.isnan(got.loc[name, col]), (name, col)
            elif isinstance(value, dict):
                assert got.loc[name, col] == value, (name, col)
            else:
                assert got.loc[name, col] == pytest.approx(value), (name, col)
    if level == "touchpoint":
        assert got.loc["cart", "stage"] == "decision"
        assert list(got.index)[:2] == ["social_ad", "home_page"]  # designed order


def test_conformance_matches_oracle(ws, log):
    got = Analysis.from_workspace(ws).conformance().iloc[0]
    journeys = _journeys(log, "stage")
    in_order = skips = backs = moves = 0
    skipped = Counter()
    for j in journeys.values():
        ranks = [STAGES.index(s) for s, *_ in j]
        ranks = [r for i, r in enumerate(ranks) if i == 0 or ranks[i - 1] != r]
        diffs = [b - a for a, b in zip(ranks, ranks[1:], strict=False)]
        back = [d for d in diffs if d < 0]
        jumps = [(a, b) for a, b in zip(ranks, ranks[1:], strict=False) if b - a > 1]
        moves += len(back)
        backs += bool(back)
        skips += bool(jumps)
        in_order += not back and not jumps
        for s in {STAGES[x] for a, b in jumps for x in range(a + 1, b)}:
            skipped[s] += 1
    assert got["customers"] == len(journeys)
    assert got["in_order"] == in_order
    assert got["with_skips"] == skips
    assert got["with_backward"] == backs
    assert got["backward_moves"] == moves
    assert got["skipped"] == {s: skipped.get(s, 0) for s in STAGES}
    assert got["unmapped_events"] == int(log.touchpoint.isna().sum())


def test_conformance_by_persona_sums_to_total(ws):
    a = Analysis.from_workspace(ws)
    per = a.conformance(by_persona=True)
    total = a.conformance().iloc[0]
    assert per["customers"].sum() == total["customers"]
    assert per["in_order"].sum() == total["in_order"]
    assert "(none)" in set(per["persona"])


def _oracle_flows(journeys, steps, start=None, end=None):
    edges = Counter()
    for j in journeys.values():
        names = [s for s, *_ in j]
        if start and end:
            if start not in names:
                continue
            first_s = names.index(start)
            ends = [i for i in range(first_s + 1, len(names)) if names[i] == end]
            if not ends:
                continue
            e = ends[0]
            a = max(i for i in range(e) if names[i] == start)
            seg = names[a : min(e + 1, a + steps)]
            forward = False
        elif start:
            if start not in names:
                continue
            a = len(names) - 1 - names[::-1].index(start)
            seg, forward = names[a : a + steps], True
            ended = a + steps >= len(names)
        elif end:
            if end not in names:
                continue
            e = names.index(end)
            seg, forward = names[max(0, e - steps + 1) : e + 1], False
        else:
            seg, forward = names[:steps], True
            ended = steps >= len(names)
        for i in range(len(seg) - 1):
            edges[(i + 1, seg[i], i + 2, seg[i + 1])] += 1
        if forward and ended and len(seg) < steps:
            edges[(len(seg), seg[-1], len(seg) + 1, "(end)")] += 1
        elif forward and ended and len(seg) == steps:
            pass
    return edges


@pytest.mark.parametrize(
    "kw",
    [{}, {"start": "cart"}, {"end": "checkout"}, {"start": "home_page", "end": "checkout"}],
    ids=["none", "start", "end", "both"],
)
def test_flows_match_oracle(ws, log, kw):
    got = Analysis.from_workspace(ws).flows(steps=4, **kw)
    expected = _oracle_flows(_journeys(log, "touchpoint"), 4, **kw)
    assert {
        (r.source_step, r.source, r.target_step, r.target): r.customers for r in got.itertuples()
    } == dict(expected)


def test_flows_cleaning_and_edge_limit(ws):
    a = Analysis.from_workspace(ws)
    rules = [{"regex": "^(home|product)_page$", "alias": "browse"}]
    cleaned = a.flows(steps=3, cleaning=rules)
    assert "browse" in set(cleaned.source) and "home_page" not in set(cleaned.source)
    limited = a.flows(steps=3, cleaning=rules, edge_limit=3)
    top = cleaned.sort_values("customers", ascending=False)["customers"].head(3)
    assert sorted(limited.customers, reverse=True) == top.tolist()
    with pytest.raises(ValueError, match="rule 1: bad regex"):
        a.flows(cleaning=[{"regex": "(", "alias": "x"}])


def test_flows_dropped_at_funnel_step(ws, log):
    a = Analysis.from_workspace(ws)
    steps = ["home_page", "cart", "checkout"]
    got = a.flows(dropped_at={"steps": steps, "step": "cart", "window": None}, steps=3)
    # oracle: reached home_page, never a cart after it; flow from the first home_page
    edges = Counter()
    for j in _journeys(log, "touchpoint").values():
        names = [s for s, *_ in j]
        if "home_page" not in names:
            continue
        h = names.index("home_page")
        if "cart" in names[h + 1 :]:
            continue
        seg = names[h : h + 3]
        for i in range(len(seg) - 1):
            edges[(i + 1, seg[i], i + 2, seg[i + 1])] += 1
        if h + 3 >= len(names) and len(seg) < 3:
            edges[(len(seg), seg[-1], len(seg) + 1, "(end)")] += 1
    assert {
        (r.source_step, r.source, r.target_step, r.target): r.customers for r in got.itertuples()
    } == dict(edges)


@pytest.mark.parametrize("level", ["touchpoint", "stage"])
def test_step_pairs_match_oracle_and_are_cached(ws, log, level, chunk):
    """The (journey, name) pairs touchpoint metrics and pain detection share: each pair's
    first event and number of runs as plain Python counts them, every event mapped to its
    pair; read-only, kept in the journeys' cache only inside ``sharing``."""
    from journeymap.engine.journeys import sharing
    from journeymap.engine.metrics import step_pairs

    j = Analysis.from_workspace(ws).journeys().at_level(level).mapped()
    assert step_pairs(j) is not step_pairs(j)  # not kept outside the block
    with sharing():
        pairs = step_pairs(j)
        assert step_pairs(j) is pairs  # built once, shared through the journeys' cache
    assert not any(isinstance(k, tuple) and k[0] == "step_pairs" for k in j._cache)
    assert not pairs.first.flags.writeable and not pairs.run_start.flags.writeable
    journeys = _journeys(log, level)
    expected = {}
    for jid, customer in enumerate(j.customers):
        steps = [s for s, *_ in journeys[customer]]
        assert len(steps) == j.offsets[jid + 1] - j.offsets[jid]
        for name in dict.fromkeys(steps):
            runs = [s for i, s in enumerate(steps) if i == 0 or steps[i - 1] != s]
            expected[(name, jid)] = (int(j.offsets[jid]) + steps.index(name), runs.count(name))
    names = j.step_names
    got = {
        (str(names[c]), int(k)): (int(f), int(r))
        for c, k, f, r in zip(pairs.code, pairs.jid, pairs.first, pairs.runs, strict=True)
    }
    assert got == expected
    assert list(zip(pairs.code, pairs.jid, strict=True)) == sorted(
        zip(pairs.code, pairs.jid, strict=True)
    )  # name, then journey
    of_event = pairs.pair_of_event()
    assert (pairs.code[of_event] == j.steps).all()
    assert (pairs.jid[of_event] == j.journey_of_event).all()


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 1000])
def test_chunked_sort_and_positions_match_numpy(chunk):
    """The int32 stable sort by small codes and positions of a mask, chunk by chunk, give
    numpy's int64 ``argsort(kind="stable")`` and ``flatnonzero`` exactly."""
    from journeymap.engine.metrics import flatnonzero_as, stable_order

    rng = np.random.default_rng(chunk)
    codes = rng.integers(0, 6, 500).astype(np.uint16)
    codes[codes == 3] = 7  # (codes never present: 3 and 6)
    order, sizes = stable_order(codes, np.int32, chunk)
    assert sizes.tolist() == np.bincount(codes).tolist()
    assert order.dtype == np.int32
    assert order.tolist() == np.argsort(codes, kind="stable").tolist()
    for code in (None, 3, 5, 7):
        values = codes if code is not None else codes % 2 == 1
        found = flatnonzero_as(values, np.int32, code, chunk)
        want = np.flatnonzero(values if code is None else values == code)
        assert found.dtype == np.int32 and found.tolist() == want.tolist()
    assert flatnonzero_as(np.zeros(0, dtype=bool), np.int32, chunk=chunk).tolist() == []
    sparse = rng.choice([0, 70_000, 3, 2**20], 300).astype(np.int32)  # (renumbered densely)
    order, sizes = stable_order(sparse, np.int32, chunk)
    assert sizes.tolist() == np.bincount(sparse).tolist()
    assert order.tolist() == np.argsort(sparse, kind="stable").tolist()
    order, sizes = stable_order(np.zeros(0, dtype=np.uint16), np.int32, chunk)
    assert order.tolist() == [] and sizes.tolist() == []


def test_journey_of_run_starts_with_empty_journeys():
    from journeymap.engine.metrics import _journey_of_run

    offsets = np.array([0, 2, 2, 5, 6])  # journey 1 is empty
    run_starts = np.array([0, 1, 2, 4, 5], dtype=np.int32)
    want = np.searchsorted(offsets, run_starts, side="right") - 1
    assert _journey_of_run(run_starts, offsets).tolist() == want.tolist() == [0, 0, 2, 2, 3]
    full = np.array([0, 2, 5, 6])
    assert _journey_of_run(run_starts, full).tolist() == [0, 0, 1, 1, 2]


def test_mapped_copy_is_shared_inside_the_block_only(ws, log):
    """Inside ``sharing()`` every touchpoint-level question reads one copy of the mapped
    events (a snapshot's metrics, funnel, transitions and pain detection): built once,
    dropped from the journeys' cache at the end. Outside, each call makes its own. The copy
    holds exactly the events with a touchpoint, in the tie rule's order (pandas oracle)."""
    from journeymap.engine.journeys import sharing

    j = Analysis.from_workspace(ws).journeys()
    assert j.mapped() is not j.mapped()
    with sharing():
        m = j.mapped()
        assert j.mapped() is m
        assert j.at_level("stage").mapped() is not m  # one copy per level
        assert j.at_level("stage").mapped().level == "stage"
    assert not any(isinstance(k, tuple) for k in j._cache)
    expected = sorted_log(log).dropna(subset=["touchpoint"])
    assert m.n_events == len(expected)
    assert list(m.customers) == list(dict.fromkeys(expected["customer_id"]))
    assert m.keys is m.customers  # customer journeys: one array, one journey per customer
    assert list(m.step_names[m.steps]) == list(expected["touchpoint"])
    assert list(m.names["channel"][m.codes["channel"]]) == list(expected["channel"])
    assert list(m.names["event"][m.codes["event"]]) == list(expected["event"])
    ts = pd.to_datetime(expected["ts"], utc=True).astype("int64") // 1000
    assert (m.ts == ts.to_numpy()).all()
    assert (m.journey_of_event == pd.factorize(expected["customer_id"])[0]).all()


def test_select_counts_per_journey_and_keeps_shared_codes():
    """``select`` counts kept events per journey from the mask (empty journeys, chunks
    smaller than the journeys: against a per-event Python count), and copies a kind's
    codes when first read, an array that kinds share once and a constant (no value) not
    at all."""
    from journeymap.engine.journeys import Journeys, count_per_journey

    rng = np.random.default_rng(3)
    for _ in range(50):
        lengths = rng.integers(0, 5, size=int(rng.integers(0, 25)))
        offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
        mask = rng.random(int(offsets[-1])) < 0.5
        expected = [int(mask[a:b].sum()) for a, b in zip(offsets[:-1], offsets[1:], strict=True)]
        for chunk in (1, 3, 1 << 20):
            assert count_per_journey(mask, offsets, chunk).tolist() == expected
    event = np.array([2, 0, 0, 1, 0, 2], dtype=np.int32)  # journeys a: 2 0, b: 0, c: 1 0 2
    j = Journeys(
        customers=np.array(["a", "b", "c"], dtype=object),
        keys=np.array(["a", "b", "c"], dtype=object),
        offsets=np.array([0, 2, 3, 6]),
        ts=np.arange(6, dtype=np.int64),
        codes={
            "event": event,
            "touchpoint": event,
            "stage": np.broadcast_to(np.int32(-1), (6,)),
            "channel": event * 0,
        },
        names={k: np.array(["x", "y", "z"], dtype=object) for k in ("event", "touchpoint")}
        | {"stage": np.array([], dtype=object), "channel": np.array(["web"], dtype=object)},
        session=np.ones(6, dtype=np.int32),
    )
    s = j.select(event != 0)
    assert not s.codes._done  # each kind copied when first read, not before
    assert s.customers.tolist() == ["a", "c"] and s.offsets.tolist() == [0, 1, 3]
    assert s.codes["event"].tolist() == [2, 1, 2] and s.ts.tolist() == [0, 3, 5]
    assert s.codes["touchpoint"] is s.codes["event"]
    assert s.codes["stage"].tolist() == [-1] * 3 and s.codes["stage"].strides == (0,)
    assert s.keys is not s.customers  # (given as two arrays: kept apart)
    assert s.codes["channel"].tolist() == [0, 0, 0] and dict(s.codes).keys() == j.codes.keys()
    again = s.select(np.array([True, False, True]))  # a selection of a selection
    assert again.codes["event"].tolist() == [2, 2] and again.customers.tolist() == ["a", "c"]


def test_conformance_counts_by_hand():
    """Skips, backward moves and skipped stages of four small journeys, counted by hand
    (one has no designed stage: out of the figures, but its events count)."""
    from journeymap.engine.journeys import Journeys
    from journeymap.engine.metrics import conformance

    order = ["awareness", "consideration", "decision", "purchase"]
    journeys = {
        "u1": ["awareness", "awareness", "decision"],  # skips consideration
        "u2": ["consideration", None, "awareness", "consideration"],  # one move back
        "u3": [None, "other"],  # no designed stage
        "u4": ["awareness", "purchase", "decision"],  # skips two, then one move back
    }
    rows = [(c, i, s) for c, stages in journeys.items() for i, s in enumerate(stages)]
    table = pa.table(
        {
            "customer_id": [r[0] for r in rows],
            "ts": pa.array(
                [pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(minutes=r[1]) for r in rows]
            ),
            "event": ["e"] * len(rows),
            "touchpoint": [None if r[2] is None else "t" for r in rows],
            "stage": [r[2] for r in rows],
            "channel": pa.nulls(len(rows), pa.string()),
            "session_id": pa.nulls(len(rows), pa.string()),
        }
    )
    got = conformance(Journeys.from_rows(table, level="stage"), order)
    assert got["customers"] == 3 and got["in_order"] == 0
    assert (got["with_skips"], got["with_backward"], got["backward_moves"]) == (2, 2, 2)
    assert got["skipped"] == {"awareness": 0, "consideration": 2, "decision": 1, "purchase": 0}
    assert (got["events"], got["unmapped_events"]) == (12, 2)
    empty = conformance(Journeys.from_rows(table.slice(7, 2), level="stage"), order)
    assert empty["customers"] == 0 and np.isnan(empty["in_order_share"])
