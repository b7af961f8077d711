"""Every candidate the pain detectors test, checked against plain pandas on a tricky log.

The log is generated here and written to a real DuckDB file, with the journey store built
as a workspace refresh does. It has timestamp ties, loops (a b a), backward moves,
one-event customers, unmapped events, customers without a persona, phone calls within and
after 24 h, channel switches and stage skips. ``pains.candidates`` lists every place each
detector tested (before the significance filter and the ranking); ``oracle.py`` recomputes
every type with pandas and scipy from the warehouse tables, and the two lists must agree
row for row: the same places, n, rates, related touchpoint, conversion lost and p-value.
"""

from __future__ import annotations

from types import SimpleNamespace

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from journeymap.engine import Analysis
from journeymap.engine.store import build_store
from journeymap.insights import pains
from journeymap.insights.pains import candidates
from journeymap.spec.models import JourneySpec
from journeymap.workspace.schemas import CANONICAL

from .oracle import CandidateOracle

STAGES = ["awareness", "consideration", "purchase", "after"]
#: touchpoint -> (stage, channel of the spec and, mostly, of its events)
TOUCHPOINTS = {
    "social_ad": ("awareness", "social"),
    "search_ad": ("awareness", "paid_search"),
    "newsletter": ("awareness", "email"),
    "home": ("consideration", "web"),
    "product": ("consideration", "web"),
    "app_product": ("consideration", "app"),
    "chat": ("consideration", "chat"),
    "call": ("consideration", "phone"),
    "cart": ("purchase", "web"),
    "checkout": ("purchase", "web"),
    "order": ("purchase", "web"),
    "delivery": ("after", "email"),
    "review": ("after", "web"),
}
OUTBOUND = {"email", "social", "paid_search"}  # the awareness channels and e-mail
MIN_N = 5


def spec() -> JourneySpec:
    return JourneySpec.model_validate(
        {
            "name": "Tricky log",
            "personas": [{"id": "p1", "name": "One"}, {"id": "p2", "name": "Two"}],
            "stages": [{"id": s, "name": s.title()} for s in STAGES],
            "touchpoints": [
                {"id": t, "name": t, "stage": s, "channel": c} for t, (s, c) in TOUCHPOINTS.items()
            ],
            "goal": {"touchpoint": "order"},
        }
    )


def tricky_log(n_customers: int = 700, seed: int = 5) -> tuple[pd.DataFrame, ...]:
    """Events, customers and feedback (see the module docstring)."""
    rng = np.random.default_rng(seed)
    by_stage = {s: [t for t, (st, _) in TOUCHPOINTS.items() if st == s] for s in STAGES}
    # waits in seconds: zero (a tie), seconds, minutes, hours, the 24 h support window's
    # edge (exactly 24 h is within), more than a day
    waits = np.array([0, 0, 1, 45, 300, 3600, 5 * 3600, 86400, 86401, 30 * 3600, 4 * 86400])
    events, feedback = [], []
    base = pd.Timestamp("2026-02-01", tz="UTC")
    for c in range(n_customers):
        cid = f"c{c:04d}"
        length = 1 if c % 9 == 0 else int(rng.integers(2, 16))
        t = base + pd.Timedelta(seconds=int(rng.integers(0, 40 * 86400)))
        stage, last = 0, None
        for _ in range(length):
            move = rng.random()
            if move < 0.45 and stage < len(STAGES) - 1:
                stage += 1 + int(rng.random() < 0.15)  # sometimes a stage is skipped
                stage = min(stage, len(STAGES) - 1)
            elif move < 0.55 and stage > 0:
                stage -= 1  # a backward move
            tp = str(rng.choice(by_stage[STAGES[stage]]))
            if last is not None and rng.random() < 0.15:
                tp = last  # back to where the customer just was: loops and repeats
            if c % 5 == 1 and stage == 1 and rng.random() < 0.3:
                tp = "call"
            channel = TOUCHPOINTS[tp][1]
            if channel == "web" and rng.random() < 0.35:
                channel = str(rng.choice(["app", "chat", "store"]))
            t = t + pd.Timedelta(seconds=int(rng.choice(waits)))
            mapped = rng.random() > 0.06
            events.append(
                {
                    "customer_id": cid,
                    "ts": t,
                    "event": f"ev_{tp}" if mapped else "ping",
                    "channel": channel,
                    "touchpoint": tp if mapped else None,
                    "stage": TOUCHPOINTS[tp][0] if mapped else None,
                    "revenue": float(rng.integers(20, 200)) if tp == "order" else None,
                }
            )
            if mapped and rng.random() < 0.25:
                feedback.append(
                    {
                        "customer_id": cid,
                        "ts": t + pd.Timedelta(minutes=5),
                        "touchpoint": tp,
                        "kind": str(rng.choice(["nps", "csat"])),
                        "score": float(rng.integers(0, 11) if rng.random() < 0.5 else 3),
                        "sentiment": float(rng.uniform(-1, 1)) if rng.random() < 0.7 else None,
                    }
                )
            last = tp
    ev = pd.DataFrame(events)
    ev["event_id"] = [f"e{i:06d}" for i in rng.permutation(len(ev))]
    ev = ev.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # input unsorted
    ids = sorted(ev["customer_id"].unique())
    customers = pd.DataFrame(
        {"customer_id": ids, "persona": rng.choice(["p1", "p2", None], size=len(ids))}
    )
    fb = pd.DataFrame(feedback)
    fb["feedback_id"] = [f"f{i}" for i in range(len(fb))]
    return ev, customers, fb


@pytest.fixture(scope="module")
def tricky(tmp_path_factory):
    """(analysis, oracle) over the tricky log in a real DuckDB file with its journey store."""
    events, customers, feedback = tricky_log()
    con = ibis.duckdb.connect(str(tmp_path_factory.mktemp("tricky") / "w.duckdb"))
    for name, schema in CANONICAL.items():
        con.create_table(name, schema=schema, overwrite=True)
    for name, frame in (("events", events), ("customers", customers), ("feedback", feedback)):
        con.con.register(f"{name}_in", pa.Table.from_pandas(frame, preserve_index=False))
        con.raw_sql(f"INSERT INTO {name} BY NAME SELECT * FROM {name}_in")
    build_store(SimpleNamespace(con=con, settings={}))
    s = spec()
    oracle = CandidateOracle(
        con.table("events").to_pandas(),
        con.table("customers").to_pandas(),
        con.table("feedback").to_pandas(),
        s,
        MIN_N,
    )
    return Analysis(con, s, {}), oracle


def test_the_log_is_tricky(tricky):
    _, o = tricky
    ev = o.ev
    assert ev.duplicated(["customer_id", "ts"]).sum() > 100  # ties
    sizes = ev.groupby("customer_id").size()
    assert (sizes == 1).sum() > 30  # one-event customers
    assert o.pairs["persona"].isna().any()
    starts = (ev["customer_id"] != ev["customer_id"].shift()) | (
        ev["touchpoint"] != ev["touchpoint"].shift()
    )
    runs = ev.loc[starts].groupby(["customer_id", "touchpoint"]).size()
    assert (runs >= 2).sum() > 100  # loops


KEYS = {
    "dropoff": ("touchpoint", "persona"),
    "slow_step": ("touchpoint", "related"),
    "loop": ("touchpoint",),
    "backward": ("touchpoint",),
    "voice": ("touchpoint",),
    "support_after": ("touchpoint",),
    "channel_switch": ("touchpoint", "channel"),
    "conformance": ("stage",),
}
COMPARED = ("n", "n_norm", "observed", "norm", "p_value", "customers_affected", "related",
            "conversion_lost", "excess_rate", "direction")  # fmt: skip


@pytest.mark.parametrize("range_events", [None, 1, 5], ids=["one range", "1", "5"])
@pytest.mark.parametrize("kind", list(KEYS))
def test_candidates_equal_the_pandas_oracle(tricky, kind, range_events, monkeypatch):
    """Also with the detectors' work split into tiny ranges (``RANGE_EVENTS`` events, a
    longer journey in a range of its own), which must not change a single figure."""
    analysis, oracle = tricky
    if range_events:
        monkeypatch.setattr(pains, "RANGE_EVENTS", range_events)
    found = candidates(analysis, min_n=MIN_N, types=(kind,))
    args = (OUTBOUND,) if kind == "channel_switch" else ()
    expected = getattr(oracle, kind)(*args)
    assert expected, f"the tricky log gives no {kind} candidate: the test would prove nothing"

    def key(r: dict) -> tuple:
        return tuple(r.get(k) if pd.notna(r.get(k)) else None for k in KEYS[kind])

    got = {key(r): r for r in found.to_dict("records")}
    want = {key(r): r for r in expected}
    assert sorted(got, key=str) == sorted(want, key=str)
    for k, w in want.items():
        g = got[k]
        for field in COMPARED:
            if field not in w or (kind == "voice" and field == "related"):
                continue
            if isinstance(w[field], str) or w[field] is None:
                assert g[field] == w[field], (kind, k, field)
            elif np.isnan(w[field]):
                assert np.isnan(g[field]), (kind, k, field)
            else:
                assert g[field] == pytest.approx(w[field], rel=1e-9, abs=1e-12), (kind, k, field)


def test_ranking_keeps_only_significant_candidates(tricky):
    analysis, _ = tricky
    from journeymap.insights.pains import detect_pain_points

    every = candidates(analysis, min_n=MIN_N)
    ranked = detect_pain_points(analysis, min_n=MIN_N, alpha=0.5)
    assert len(every) > len(ranked) > 0
    assert (ranked["q_value"] < 0.5).all()
    assert set(ranked["type"]) <= set(every["type"])


def test_no_events_left_gives_no_candidates(tricky):
    from journeymap.insights.pains import COLUMNS, detect_pain_points

    analysis, _ = tricky
    empty = analysis.filtered(start="2099-01-01")
    assert candidates(empty).empty
    assert list(detect_pain_points(empty).columns) == COLUMNS
