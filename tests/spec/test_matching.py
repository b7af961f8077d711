"""Ibis matching expressions agree with the plain-Python twins, in a real DuckDB file."""

from __future__ import annotations

import json
import random

import ibis
import pandas as pd
import pytest

from journeymap.spec import JourneySpec
from journeymap.spec.document import SpecDocument
from journeymap.spec.matching import (
    match_event,
    match_persona,
    persona_expr,
    stage_expr,
    touchpoint_expr,
    unknown_rule_attributes,
)

SPEC_YAML = """\
version: 1
name: Matching test
personas:
  - id: young_saver
    name: Young saver
    rule:
      segment: price_sensitive
      age: {gte: 18, lt: 35}
  - id: big_spender
    name: Big spender
    rule:
      score: {gt: 50.5}
      city: {regex: "^(Lon|Zü)"}
  - id: vip
    name: VIP
    rule:
      vip: true
      segment: {ne: churned}
  - id: listed
    name: Listed
    rule:
      segment: {in: [loyal, 7, "café"]}
      age: {not_in: [40, 41]}
  - id: ghost
    name: Ghost
    rule:
      shoe_size: {exists: true}
  - id: no_city
    name: No city
    rule:
      city: {exists: false}
      age: {lte: 70}
stages:
  - id: awareness
    name: Awareness
  - id: purchase
    name: Purchase
touchpoints:
  - id: social_fb
    name: Facebook ad
    stage: awareness
    match:
      event: ad_click
      channel: social
      where: {utm_source: facebook}
  - id: any_ad
    name: Any ad
    stage: awareness
    match:
      event: {regex: "^ad_"}
  - id: big_cart
    name: Big cart
    stage: purchase
    match:
      event: [add_to_cart, "注文"]
      where:
        amount: {gte: 100}
        coupon: {exists: false}
  - id: checkout_web
    name: Checkout
    stage: purchase
    match:
      event: checkout
      channel: [web, app]
      where:
        step: {in: [1, 2, "three"]}
        express: true
  - id: unicode_prop
    name: Unicode
    stage: purchase
    match:
      event: {regex: "café|Straße"}
      where:
        "größe": {regex: "^X+L$"}
        "a/b~c": {ne: 5}
  - id: cheap_or_missing
    name: Small amounts
    stage: purchase
    match:
      where:
        amount: {lt: 10}
        currency: {not_in: [USD]}
  - id: email_open
    name: Email
    stage: awareness
    match:
      channel: email
      where: {campaign: {exists: true}, step: 2}
goal:
  touchpoint: checkout_web
"""

EVENTS = [
    "ad_click",
    "ad_view",
    "add_to_cart",
    "注文",
    "checkout",
    "café_view",
    "Straße_visit",
    "page_view",
    "bad_ad",
    None,
]
CHANNELS = ["social", "web", "app", "email", "store", None]
VALUES = [
    "facebook",
    "google",
    "USD",
    "EUR",
    "XL",
    "XXL",
    "L",
    "three",
    "12",
    "100",
    "5",
    "abc",
    "",
    0,
    1,
    2,
    5,
    9.99,
    100,
    150.25,
    -3,
    True,
    False,
    None,
    {"x": [1, 2]},
    [1, "a"],
]
# Values each key's rules look for, so that every rule matches now and then.
LIKELY = {
    "utm_source": ["facebook", "google"],
    "amount": [100, "150", 9.99, "5", 99.5],
    "coupon": [None, "SAVE10"],
    "step": [1, 2, "2", "three", 3, 2.0],
    "express": [True, "true", False],
    "größe": ["XL", "XXL", "L"],
    "a/b~c": [5, "5", 6, "x"],
    "currency": ["USD", "EUR"],
    "campaign": ["spring", None],
}
KEYS = list(LIKELY)


@pytest.fixture(scope="module")
def spec() -> JourneySpec:
    return SpecDocument.from_text(SPEC_YAML).spec


def _random_properties(rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.08:
        return None
    if roll < 0.11:
        return "not json {"
    props = {
        key: rng.choice(LIKELY[key] if rng.random() < 0.6 else VALUES)
        for key in rng.sample(KEYS, rng.randint(0, 7))
    }
    return json.dumps(props, ensure_ascii=rng.random() < 0.5)


def test_touchpoint_expr_equals_python_twin(spec: JourneySpec, tmp_path) -> None:
    rng = random.Random(20260101)
    rows = [
        {
            "event": rng.choice(EVENTS),
            "channel": rng.choice(CHANNELS),
            "properties": _random_properties(rng),
        }
        for _ in range(4000)
    ]
    frame = pd.DataFrame(rows, dtype=object).astype("string")
    con = ibis.duckdb.connect(str(tmp_path / "match.duckdb"))
    events = con.create_table("events", frame)
    mapped = events.mutate(touchpoint=touchpoint_expr(spec, events))
    mapped = mapped.mutate(stage=stage_expr(spec, mapped.touchpoint))
    got = con.execute(mapped.select("touchpoint", "stage"))
    expected = [match_event(spec, r["event"], r["channel"], r["properties"]) for r in rows]
    got_tp = [None if pd.isna(v) else v for v in got["touchpoint"]]
    mismatches = [
        (rows[i], got_tp[i], expected[i]) for i in range(len(rows)) if got_tp[i] != expected[i]
    ]
    assert mismatches == []
    # every touchpoint and the unmapped case occur, so the comparison covers each rule
    assert set(expected) == {tp.id for tp in spec.touchpoints} | {None}
    stages = {tp.id: tp.stage for tp in spec.touchpoints}
    got_stage = [None if pd.isna(v) else v for v in got["stage"]]
    assert got_stage == [stages.get(tp) if tp else None for tp in expected]


def test_first_touchpoint_in_file_order_wins(spec: JourneySpec) -> None:
    props = {"utm_source": "facebook"}
    assert match_event(spec, "ad_click", "social", props) == "social_fb"
    assert match_event(spec, "ad_click", "web", props) == "any_ad"
    assert match_event(spec, "add_to_cart", "web", {"amount": "150"}) == "big_cart"
    cheap = {"amount": 5, "currency": "EUR"}
    assert match_event(spec, "add_to_cart", "web", cheap) == "cheap_or_missing"
    # a missing property fails every operator but exists: false (not_in included)
    assert match_event(spec, "add_to_cart", "web", {"amount": 5}) is None
    assert match_event(spec, "page_view", None, None) is None


def _random_customer(rng: random.Random) -> dict:
    return {
        "customer_id": f"c{rng.randint(0, 10**9)}",
        "segment": rng.choice(["price_sensitive", "loyal", "churned", "7", "café", None]),
        "age": rng.choice([None, 17, 18, 25, 34, 35, 40, 41, 70, 71]),
        "score": rng.choice([None, 10.0, 50.5, 50.75, 99.0]),
        "city": rng.choice(["London", "Zürich", "Paris", "lon", None]),
        "vip": rng.choice([True, False, None]),
    }


def test_persona_expr_equals_python_twin(spec: JourneySpec, tmp_path) -> None:
    rng = random.Random(7)
    rows = [_random_customer(rng) for _ in range(3000)]
    frame = pd.DataFrame(rows).astype(
        {
            "customer_id": "string",
            "segment": "string",
            "age": "Int64",
            "score": "Float64",
            "city": "string",
            "vip": "boolean",
        }
    )
    con = ibis.duckdb.connect(str(tmp_path / "customers.duckdb"))
    customers = con.create_table("customers", frame)
    got = con.execute(customers.select(persona=persona_expr(spec, customers)))["persona"]
    got = [None if pd.isna(v) else v for v in got]
    expected = [match_persona(spec, row) for row in rows]
    assert got == expected
    assert {"young_saver", "big_spender", "vip", "listed", "no_city", None} <= set(expected)
    assert "ghost" not in expected  # its rule names a column the table lacks


def test_unknown_rule_attributes(spec: JourneySpec) -> None:
    columns = ["customer_id", "segment", "age", "score", "city", "vip"]
    assert unknown_rule_attributes(spec, columns) == {"ghost": ["shoe_size"]}
    assert unknown_rule_attributes(spec, [*columns, "shoe_size"]) == {}
