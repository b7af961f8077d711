"""Random match rules and persona rules: Ibis in DuckDB agrees with the Python twin."""

from __future__ import annotations

import json
import random

import ibis
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from journeymap.spec import Condition, JourneySpec
from journeymap.spec.conditions import condition_holds
from journeymap.spec.matching import (
    condition_expr,
    json_property_text,
    match_event,
    match_persona,
    persona_expr,
    touchpoint_expr,
)

SCALARS = ["a", "B", "ü", "10", "2.5", "", 0, 1, 2.5, 10, -1, True, False]
PATTERNS = ["^a", "b$", "[0-9]", "ü|x", "^$", "\\.", "(?i)B"]
KEYS = ["k1", "k2", "ключ", "x.y"]
EVENTS = ["open", "close", "öffnen", "open_ad", "ad_open", None]
CHANNELS = ["web", "app", "store", None]

BOUNDS = [-1, 0, 1, 2.5, 10]
scalar = st.sampled_from(SCALARS)
number = st.sampled_from(BOUNDS)
operator = st.one_of(
    st.tuples(st.sampled_from(["eq", "ne"]), scalar),
    st.tuples(st.sampled_from(["in", "not_in"]), st.lists(scalar, max_size=3)),
    st.tuples(st.sampled_from(["gt", "gte", "lt", "lte"]), number),
    st.tuples(st.just("regex"), st.sampled_from(PATTERNS)),
    st.tuples(st.just("exists"), st.booleans()),
)
condition = st.one_of(scalar, st.lists(operator, min_size=1, max_size=2).map(dict))
conditions = st.dictionaries(st.sampled_from(KEYS), condition, min_size=1, max_size=2)
event_part = st.one_of(
    st.none(),
    st.sampled_from([e for e in EVENTS if e]),
    st.lists(st.sampled_from([e for e in EVENTS if e]), min_size=1, max_size=3),
    st.sampled_from(PATTERNS + ["^open", "_ad$"]).map(lambda p: {"regex": p}),
)
channel_part = st.one_of(
    st.none(),
    st.sampled_from(CHANNELS[:-1]),
    st.lists(st.sampled_from(CHANNELS[:-1]), min_size=1, max_size=2),
)


@st.composite
def match_rule(draw):
    rule = {"event": draw(event_part), "channel": draw(channel_part)}
    if draw(st.booleans()):
        rule["where"] = draw(conditions)
    rule = {k: v for k, v in rule.items() if v is not None}
    return rule or {"where": draw(conditions)}


def random_value(rng: random.Random):
    """Half the time a number on a rule's bound (as JSON number or text), to tell >= from >."""
    if rng.random() < 0.5:
        bound = rng.choice(BOUNDS)
        return rng.choice([bound, str(bound), float(bound)])
    return rng.choice([*SCALARS, None, "open", "a1", "Bb", {"n": 1}])


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    rng = random.Random(11)
    events = []
    for _ in range(1500):
        props = {k: random_value(rng) for k in KEYS if rng.random() < 0.6}
        events.append(
            {
                "event": rng.choice(EVENTS),
                "channel": rng.choice(CHANNELS),
                "properties": None if rng.random() < 0.05 else json.dumps(props),
            }
        )
    customers = [
        {
            "k1": rng.choice(["a", "B", "ü", "10", "2.5", "", None]),
            "k2": rng.choice([0, 1, 10, -1, 3, None]),
            "ключ": rng.choice([2.5, 1.0, 0.0, -1.0, 7.25, None]),
            "x.y": rng.choice([True, False, None]),
        }
        for _ in range(800)
    ]
    con = ibis.duckdb.connect(str(tmp_path_factory.mktemp("rules") / "rules.duckdb"))
    ev = con.create_table("events", pd.DataFrame(events, dtype=object).astype("string"))
    frame = pd.DataFrame(customers).astype(
        {"k1": "string", "k2": "Int64", "ключ": "Float64", "x.y": "boolean"}
    )
    cu = con.create_table("customers", frame)
    return con, ev, events, cu, customers


@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    # no shrinking: each example is a database query; the first rows that differ are shown
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(
    rules=st.lists(match_rule(), min_size=1, max_size=4), personas=st.lists(conditions, max_size=3)
)
def test_random_rules_agree_with_python_twin(tables, rules, personas) -> None:
    con, ev, events, cu, customers = tables
    spec = JourneySpec.model_validate(
        {
            "name": "random",
            "stages": [{"id": "s", "name": "S"}],
            "touchpoints": [
                {"id": f"t{i}", "name": f"T{i}", "stage": "s", "match": rule}
                for i, rule in enumerate(rules)
            ],
            "personas": [
                {"id": f"p{i}", "name": f"P{i}", "rule": rule} for i, rule in enumerate(personas)
            ],
        }
    )
    got = con.execute(ev.select(tp=touchpoint_expr(spec, ev)))["tp"]
    got = [None if pd.isna(v) else v for v in got]
    want = [match_event(spec, e["event"], e["channel"], e["properties"]) for e in events]
    assert _differences(events, got, want) == []
    got_p = con.execute(cu.select(p=persona_expr(spec, cu)))["p"]
    got_p = [None if pd.isna(v) else v for v in got_p]
    assert _differences(customers, got_p, [match_persona(spec, c) for c in customers]) == []


def _differences(rows: list[dict], got: list, want: list) -> list[tuple]:
    """The first rows where the database and the twin disagree, with both answers."""
    return [(row, g, w) for row, g, w in zip(rows, got, want, strict=True) if g != w][:5]


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(key=st.sampled_from(KEYS), raw=condition)
def test_each_condition_agrees_with_python_twin(tables, key, raw) -> None:
    """One condition at a time over every row: the most sensitive comparison."""
    con, ev, events, cu, customers = tables
    cond = Condition.model_validate(raw)
    value = json_property_text(ev.properties, key)
    got = con.execute(ev.select(ok=condition_expr(cond, value)))["ok"].tolist()
    want = [
        condition_holds(cond.operators(), json.loads(e["properties"]).get(key))
        if e["properties"]
        else condition_holds(cond.operators(), None)
        for e in events
    ]
    assert _differences(events, got, want) == []
    got_c = con.execute(cu.select(ok=condition_expr(cond, cu[key])))["ok"].tolist()
    want_c = [condition_holds(cond.operators(), c[key]) for c in customers]
    assert _differences(customers, got_c, want_c) == []
