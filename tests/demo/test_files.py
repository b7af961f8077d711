"""The written files: sizes, identifiers, hubs, customer records, and the journey.yaml."""

from __future__ import annotations

import json
import re

import pandas as pd
from ruamel.yaml import YAML

from .conftest import CUSTOMERS
from .frames import DemoFiles

ID_COLUMNS = ["anonymous_id", "device_id", "email", "phone", "crm_id", "order_id"]
SYSTEMS = {"web", "app", "email", "social", "ads", "store", "callcentre", "chat"}


def test_sizes_are_roughly_as_asked(demo: DemoFiles) -> None:
    assert len(demo.truth_customers) == CUSTOMERS
    assert demo.truth_customers.true_customer_id.is_unique
    per_customer = len(demo.events) / CUSTOMERS
    assert 4 <= per_customer <= 20
    assert 0.8 * CUSTOMERS <= len(demo.customers) < CUSTOMERS  # some have no CRM record
    assert set(demo.events.system) == SYSTEMS
    assert set(demo.feedback.kind) == {"nps", "csat", "ces"}
    counts = demo.truth["counts"]
    assert counts["events"] == len(demo.events)
    assert counts["feedback"] == len(demo.feedback)
    assert counts["customers_with_record"] == len(demo.customers)
    by_system = demo.events.system.value_counts().to_dict()
    assert {k: v for k, v in counts["events_by_system"].items() if v} == by_system


def test_event_files_follow_the_folder_layout(demo: DemoFiles) -> None:
    folders = {p.name for p in (demo.path / "data" / "events").iterdir()}
    assert folders == SYSTEMS
    for f in (demo.path / "data" / "events").glob("*/*"):
        assert re.fullmatch(r"part-\d{4}\.parquet", f.name), f


def test_every_event_has_an_identifier_and_a_true_customer(demo: DemoFiles) -> None:
    ev = demo.events
    assert ev.event_id.is_unique
    assert ev[ID_COLUMNS].notna().any(axis=1).all()
    assert ev.true_customer_id.notna().all()
    assert ev.ts.notna().all() and str(ev.ts.dt.tz) == "UTC"
    # Some events carry two identifiers at once, so identities can be stitched.
    assert (ev[ID_COLUMNS].notna().sum(axis=1) >= 2).mean() > 0.05


def test_identifiers_depend_on_the_channel(demo: DemoFiles) -> None:
    ev = demo.events
    assert ev[ev.system == "web"].anonymous_id.notna().all()
    assert ev[ev.system == "app"].device_id.notna().all()
    assert ev[ev.system == "email"].email.notna().all()
    assert ev[ev.system == "callcentre"].phone.notna().all()
    store = ev[ev.system == "store"]
    assert store[["order_id", "crm_id", "device_id"]].notna().any(axis=1).all()
    orders = ev[ev.event == "order_completed"]
    assert orders.order_id.notna().all() and (orders.revenue > 0).all()
    assert ev[ev.event != "order_completed"].revenue.isna().all()


def test_identifier_spellings_are_messy_but_each_belongs_to_one_customer(
    demo: DemoFiles,
) -> None:
    ev = demo.events
    emails = ev.email.dropna()
    assert (emails != emails.str.strip()).any()
    assert (emails.str.strip() != emails.str.strip().str.lower()).any()
    phones = ev[ev.system == "callcentre"].phone
    assert phones.str.startswith("+44").any() and phones.str.startswith("07").any()
    assert phones.str.contains(" ").any()
    hub_values = {h["value"].lower() for h in demo.truth["hubs"]}
    norm_email = ev.email.str.strip().str.lower()
    owners = ev.assign(e=norm_email).dropna(subset=["e"])
    owners = owners[~owners.e.isin(hub_values)].groupby("e").true_customer_id.nunique()
    assert (owners == 1).all()


def test_hub_identifiers_link_many_customers(demo: DemoFiles) -> None:
    ev = demo.events
    digits = ev.phone.str.replace(r"\D", "", regex=True).str.replace(
        r"^(0044|44|0)", "", regex=True
    )
    normalised = {
        "phone": digits,
        "device_id": ev.device_id,
        "email": ev.email.str.strip().str.lower(),
    }
    assert {h["identifier_type"] for h in demo.truth["hubs"]} == set(normalised)
    for hub in demo.truth["hubs"]:
        kind = hub["identifier_type"]
        value = hub["value"].lower() if kind == "email" else hub["value"]
        if kind == "phone":
            value = re.sub(r"^44", "", value.lstrip("+"))
        linked = ev[normalised[kind] == value].true_customer_id.nunique()
        assert linked == hub["customers"] >= 20, hub
        flag = demo.truth_customers[f"hub_{kind}"]
        assert flag.sum() == linked


def test_customer_records(demo: DemoFiles) -> None:
    c = demo.customers
    assert c.crm_id.is_unique and c.crm_id.notna().all()
    assert {"segment", "age_band", "region", "signup_channel", "loyalty_tier"} <= set(c.columns)
    assert c.marketing_opt_in.dtype == bool
    assert 0.6 < c.phone.notna().mean() < 0.9
    truth = demo.truth_customers
    assert set(c.crm_id) == set(truth[truth.has_record].crm_id)


def _yaml(demo: DemoFiles) -> dict:
    return YAML(typ="safe").load((demo.path / "journey.yaml").read_text(encoding="utf-8"))


def _holds(value: object, condition: object) -> bool:
    """The two operators the demo's rules use: equals (a scalar) and {in: [...]}."""
    if isinstance(condition, dict):
        assert set(condition) == {"in"}, condition
        return value in condition["in"]
    return value == condition


def test_persona_rules_recover_the_true_persona(demo: DemoFiles) -> None:
    personas = _yaml(demo)["personas"]
    assert 3 <= len(personas) <= 4

    def assign(row: pd.Series) -> str | None:
        for p in personas:
            if all(_holds(row[attr], cond) for attr, cond in p["rule"].items()):
                return p["id"]
        return None

    assigned = demo.customers.apply(assign, axis=1)
    truth = demo.truth_customers.set_index("crm_id").persona
    assert (assigned.values == truth.loc[demo.customers.crm_id].values).all()


def _matches(rule: dict, event: str, channel: str, props: dict) -> bool:
    want = rule.get("event")
    if isinstance(want, str) and event != want:
        return False
    if isinstance(want, list) and event not in want:
        return False
    if isinstance(want, dict) and not re.search(want["regex"], event):
        return False
    if "channel" in rule and channel != rule["channel"]:
        return False
    return all(_holds(props.get(k), c) for k, c in rule.get("where", {}).items())


def test_journey_yaml_maps_raw_events_to_the_true_touchpoints(demo: DemoFiles) -> None:
    spec = _yaml(demo)
    tps = spec["touchpoints"]
    assert 22 <= len(tps) <= 28
    assert [s["id"] for s in spec["stages"]] == [
        "awareness",
        "consideration",
        "decision",
        "purchase",
        "post_purchase",
    ]
    assert {t["channel"] for t in tps} >= {
        "web",
        "app",
        "email",
        "social",
        "paid_search",
        "store",
        "phone",
        "chat",
    }
    assert spec["goal"]["touchpoint"] == "order_confirmed"
    kinds = [type(t["match"]["event"]).__name__ for t in tps]
    assert {"str", "list", "dict"} <= set(kinds)
    assert any("where" in t["match"] for t in tps) and any("channel" in t["match"] for t in tps)

    ev = demo.events.drop_duplicates(["event", "channel", "properties", "true_touchpoint"])

    def first_match(row: pd.Series) -> str | None:
        props = json.loads(row.properties)
        for t in tps:
            if _matches(t["match"], row.event, row.channel, props):
                return t["id"]
        return None

    mapped = ev.apply(first_match, axis=1)
    expected = ev.true_touchpoint.where(ev.true_touchpoint.notna(), None)
    assert (mapped.fillna("-").values == expected.fillna("-").values).all()
    unmapped = set(demo.events[demo.events.true_touchpoint.isna()].event)
    assert {"heartbeat", "consent_banner_shown"} <= unmapped


def test_journey_yaml_validates_with_the_spec_package(demo: DemoFiles) -> None:
    from journeymap.spec import load_spec, validate_file

    spec = load_spec(demo.path / "journey.yaml")
    assert spec.goal.touchpoint == "order_confirmed"
    assert len(spec.pain_points) >= 2 and len(spec.opportunities) >= 2
    assert all(p.goals and p.frustrations and p.rule for p in spec.personas)
    assert all(s.owner for s in spec.stages)
    assert all(t.expectation and t.owner for t in spec.touchpoints)
    errors = [i for i in validate_file(demo.path / "journey.yaml") if i.severity == "error"]
    assert errors == []


def test_feedback_touchpoints_and_comments(demo: DemoFiles) -> None:
    fb = demo.feedback
    given = fb.touchpoint.notna()
    assert 0.4 < given.mean() < 0.8  # the rest is attached later, by time
    assert (fb.touchpoint[given] == fb.true_touchpoint[given]).all()
    assert fb[ID_COLUMNS].notna().any(axis=1).all()
    ranges = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
    for kind, (lo, hi) in ranges.items():
        scores = fb[fb.kind == kind].score
        assert scores.between(lo, hi).all() and scores.nunique() >= 4
    text = fb.text
    assert text.isna().any() and (text == "").any()
    assert text.dropna().map(lambda t: any(ord(ch) > 0x2000 for ch in t)).any()  # emoji
    assert text.dropna().str.contains("très|sehr|servicio", case=False).any()
    # Surveys come after the visit they ask about.
    ev_ts = demo.events.set_index("event_id").ts
    assert (fb.ts.to_numpy() > ev_ts.loc[fb.event_id].to_numpy()).all()


def test_journey_yaml_is_commented_for_first_time_readers(demo: DemoFiles) -> None:
    lines = (demo.path / "journey.yaml").read_text(encoding="utf-8").splitlines()
    comments = [line for line in lines if line.lstrip().startswith("#")]
    assert len(comments) >= 20
    assert any("first" in line.lower() and "match" in line.lower() for line in comments)


def test_settings_are_the_workspace_file_with_the_demo_values(demo: DemoFiles) -> None:
    import tomllib

    text = (demo.path / "journeymap.toml").read_text(encoding="utf-8")
    settings = tomllib.loads(text)
    assert settings["workspace"]["timezone"] == "UTC"
    assert settings["identity"] == {"default_phone_region": "GB", "hub_cap": 20}
    assert settings["warehouse"] == {"backend": "duckdb", "path": ".journeymap/warehouse.duckdb"}
    assert settings["voice"] == {"csat_mode": "mean", "attach_window_hours": 72, "min_n": 30}
    assert text.startswith("# journeymap.toml: settings of the demo workspace")
