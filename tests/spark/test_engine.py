"""Every engine analysis on Spark gives the DuckDB answer, from the store and without it.

The same generated log (timestamp ties, one-event customers, unicode names, sessions,
unmapped events) is written into a DuckDB file and into Spark temp views; the journey
store is built on each backend by the same ``build_store``; then each question is asked
of both. Journeys are computed by the same numpy passes over rows sorted by the database,
so every value must match exactly (floats within RTOL only as a safeguard).
"""

from __future__ import annotations

from types import SimpleNamespace

import ibis
import pytest

from spark.both import assert_same, load, needs_pyspark

needs_pyspark()

from engine.logs import customers_of, generated_log, spec_stub  # noqa: E402
from journeymap.engine.analysis import Analysis  # noqa: E402
from journeymap.engine.store import build_store, store_is_fresh  # noqa: E402

STEPS = ["product_page", "cart", "checkout", "order_confirmed"]
CASES = [
    ("transitions", {}, lambda a: a.transitions()),
    ("transitions+markers", {}, lambda a: a.transitions(markers=True)),
    ("variants", {}, lambda a: a.variants(top=20)),
    ("variants collapsed", {}, lambda a: a.variants(collapse_repeats=True)),
    ("funnel", {}, lambda a: a.funnel(STEPS, window="2d")),
    ("funnel strict", {}, lambda a: a.funnel(STEPS[:3], order="strict")),
    ("funnel unordered", {}, lambda a: a.funnel(STEPS[:3], order="unordered")),
    ("funnel breakdown", {}, lambda a: a.funnel(STEPS, breakdown="channel")),
    ("funnel persona", {}, lambda a: a.funnel(STEPS, breakdown="persona")),
    ("funnel distribution", {}, lambda a: a.funnel(STEPS[:2], distribution=True)),
    ("flows", {}, lambda a: a.flows(start="product_page", steps=4)),
    ("flows dropped", {}, lambda a: a.flows(dropped_at={"steps": STEPS, "step": 3})),
    ("touchpoint metrics", {}, lambda a: a.touchpoint_metrics()),
    ("stage metrics", {}, lambda a: a.stage_metrics()),
    ("conformance", {}, lambda a: a.conformance()),
    ("conformance persona", {}, lambda a: a.conformance(by_persona=True)),
    ("sessions", {"sessions": True}, lambda a: a.variants()),
    ("sessions transitions", {"sessions": True}, lambda a: a.transitions()),
    ("stage level", {"level": "stage"}, lambda a: a.transitions()),
    ("event level", {"level": "event"}, lambda a: a.variants(top=10)),
    ("dates", {"start": "2024-03-03", "end": "2024-03-08"}, lambda a: a.transitions()),
    ("channel", {"channel": ["web", "app"]}, lambda a: a.funnel(STEPS)),
    ("persona", {"persona": "loyal"}, lambda a: a.touchpoint_metrics()),
    ("where", {"where": {"segment": "vip", "age": {"gte": 30}}}, lambda a: a.variants()),
]


@pytest.fixture(scope="module")
def log():
    events = generated_log(n_customers=250, seed=9)
    for col in ("touchpoint", "stage", "session_id", "channel"):
        events[col] = events[col].astype("string")
    return events, customers_of(events)


@pytest.fixture
def both(log, spark_con, tmp_path):
    """(DuckDB workspace stand-in, Spark one), each with the store built by build_store."""
    events, customers = log
    out = []
    for con in (ibis.duckdb.connect(str(tmp_path / "w.duckdb")), spark_con):
        load(con, {"events": events, "customers": customers})
        ws = SimpleNamespace(con=con, spec=spec_stub(), settings={})
        build_store(ws)
        assert store_is_fresh(con)
        out.append(ws)
    return out


#: Cases also asked from the store (the store path after loading is the same numpy on
#: both; what differs by backend is the build and the freshness checks, covered by these).
FROM_STORE = {"transitions", "funnel breakdown", "sessions", "dates", "persona", "where"}


def test_every_question_matches(both):
    duck, spark = both
    for use_store in (True, False):
        for name, filters, ask in CASES:
            if use_store and name not in FROM_STORE:
                continue
            answers = []
            for ws in (duck, spark):
                a = Analysis.from_workspace(ws, **filters).filtered(use_store=use_store)
                assert a.store_used() is use_store
                answers.append(ask(a))
            assert_same(*answers, what=f"{name} (store={use_store})")


def test_store_rewrote_events_with_sessions(both):
    """The store build's events table (session_id filled, journey order) is the same."""
    duck, spark = both
    columns = ["event_id", "customer_id", "session_id"]
    d = duck.con.table("events").select(*columns).order_by("event_id").to_pandas()
    s = spark.con.table("events").select(*columns).order_by("event_id").to_pandas()
    assert d["session_id"].notna().all()
    assert_same(d, s, "events after the store build")
