"""The snapshot carries the engine's numbers unchanged, each with its n, and round-trips."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from journeymap.snapshot import EngineOutputError, JourneySnapshot, snapshot_from_outputs
from journeymap.snapshot.build import TOP_TRANSITIONS

from . import fixtures as fx


def test_touchpoint_metrics_equal_the_engine_frame_with_their_n():
    snap = fx.snapshot()
    frame = fx.TOUCHPOINT_METRICS.set_index("touchpoint")
    for tp in snap.touchpoints:
        row = frame.loc[tp.id]
        m = tp.metrics
        assert m["customers"].value == row.customers and m["customers"].n == fx.TOTAL
        assert m["reach"].value == pytest.approx(row.share) and m["reach"].n == fx.TOTAL
        for key in ("conversion", "exit_rate", "repeat_rate"):
            assert m[key].value == pytest.approx(row[key])
            assert m[key].n == row.customers  # rates are over the customers who reached it
        expected_time = None if pd.isna(row.median_time_to_next_s) else row.median_time_to_next_s
        assert m["median_time_to_next_s"].value == expected_time
        assert {k: v.value for k, v in tp.channel_mix.items()} == row.channel_mix


def test_stage_metrics_emotions_and_scores_come_through():
    snap = fx.snapshot()
    stages = fx.STAGE_METRICS.set_index("stage")
    assert [s.id for s in snap.stages] == ["awareness", "consideration", "purchase"]
    for st in snap.stages:
        assert st.metrics["customers"].value == stages.loc[st.id, "customers"]
        assert st.touchpoints == [t["id"] for t in fx.SPEC["touchpoints"] if t["stage"] == st.id]
    emo = fx.EMOTIONS_TP.set_index("touchpoint")
    for p in snap.emotion_curve:
        if p.key in emo.index:
            assert (p.emotion.value, p.emotion.n) == (emo.loc[p.key, "mean"], emo.loc[p.key, "n"])
            assert p.emotion.ci_low == emo.loc[p.key, "ci_low"]
        else:
            assert p.emotion.value is None and p.emotion.n == 0
    checkout = snap.touchpoint("checkout")
    assert checkout.scores["nps"].value == 12.0 and checkout.scores["nps"].n == 70
    assert checkout.scores["csat"].value == 3.1 and checkout.scores["csat"].n == 30
    assert snap.meta.totals == {"customers": fx.TOTAL, "converted": 280}


def test_kpis_and_health_follow_the_documented_rules():
    snap = fx.snapshot()
    # oracle: the fixture's numbers against its targets, worked by hand
    status = {(tp.id, k.metric): k.status for tp in snap.touchpoints for k in tp.kpis}
    assert status == {
        ("social_ad", "conversion"): "met",  # 0.32 >= 0.30
        ("product_page", "exit_rate"): "not_met",  # 0.35 > 0.30 (below wanted)
        ("product_page", "csat"): "met",  # 4.2 >= 4.0
        ("checkout", "nps"): "not_met",  # 12 < 20
    }
    health = {tp.id: tp.health for tp in snap.touchpoints}
    assert health == {
        "social_ad": "good",
        "search_ad": "unknown",  # no KPI, no feedback
        "product_page": "poor",
        "checkout": "poor",
        "order_confirmed": "good",  # no KPI; emotion +1.4
    }


def test_a_kpi_without_data_is_unknown_not_failed():
    tps = [dict(t) for t in fx.SPEC["touchpoints"]]
    tps[1]["kpis"] = [{"metric": "csat", "target": 4.0}]  # search_ad has no feedback
    card = fx.snapshot(touchpoints=tps).touchpoint("search_ad")
    assert [(k.status, k.actual.n) for k in card.kpis] == [("unknown", 0)]
    assert card.health == "unknown"


def test_json_round_trip_is_exact_and_has_no_nan():
    out = fx.outputs()
    out.touchpoint_metrics.loc[0, "conversion"] = float("nan")
    snap = snapshot_from_outputs(fx.spec(), out, workspace="w", generated_at="t")
    text = snap.to_json()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert snap.touchpoint("social_ad").metrics["conversion"].value is None
    again = JourneySnapshot.from_json(text)
    assert again == snap
    assert JourneySnapshot.from_dict(json.loads(text)).to_dict() == snap.to_dict()


def test_persona_snapshot_carries_the_persona_and_its_goals():
    snap = fx.snapshot("bargain_hunter")
    assert snap.meta.persona.name == "Bargain hunter"
    assert snap.meta.persona.goals == ["Find the best price"]
    assert snap.meta.filters == {"persona": "bargain_hunter"}


def test_renamed_engine_columns_are_read_through_the_alias_table():
    out = fx.outputs()
    out.touchpoint_metrics = out.touchpoint_metrics.rename(
        columns={
            "touchpoint": "touchpoint_id",
            "conversion": "conversion_rate",
            "customers": "reach",
            "share": "reach_share",
        }
    )
    renamed = snapshot_from_outputs(
        fx.spec(),
        out,
        workspace="fixture",
        data_version=3,
        generated_at="2026-01-01T00:00:00+00:00",
    )
    assert renamed.touchpoints == fx.snapshot().touchpoints


def test_a_missing_required_column_is_named():
    out = fx.outputs()
    out.transitions = out.transitions.drop(columns=["count"])
    with pytest.raises(EngineOutputError, match=r"transitions\(\): no column for 'count'.*found"):
        snapshot_from_outputs(fx.spec(), out)


def test_funnel_steps_keep_their_numbers_and_the_n_of_each_rate():
    snap = fx.snapshot()
    assert [s.key for s in snap.funnel] == list(fx.FUNNEL["name"])
    assert [s.name for s in snap.funnel] == ["Social ad", "Product page", "Order confirmed"]
    assert [s.customers.value for s in snap.funnel] == list(fx.FUNNEL["customers"])
    assert [s.dropoff.n for s in snap.funnel] == [600, 600, 420]  # previous step's customers
    assert snap.funnel[2].conversion.value == pytest.approx(250 / 600)


def test_flows_n_is_the_customers_leaving_the_source():
    snap = fx.snapshot()
    frame = fx.FLOWS
    for e in snap.flows:
        same = frame[(frame.step == e.step) & (frame.source == e.source)]
        assert e.customers.n == same.customers.sum()


def test_only_the_top_transitions_are_kept_and_the_rest_is_noted():
    many = pd.DataFrame(
        {
            "source": [f"a{i}" for i in range(40)],
            "target": ["b"] * 40,
            "count": list(range(1, 41)),
            "customers": list(range(1, 41)),
            "median_s": [1.0] * 40,
            "p90_s": [2.0] * 40,
        }
    )
    out = fx.outputs()
    out.transitions = many
    snap = snapshot_from_outputs(fx.spec(), out)
    kept = [e.count.value for e in snap.transitions]
    assert kept == sorted(many["count"], reverse=True)[:TOP_TRANSITIONS]
    assert any(f"{40 - TOP_TRANSITIONS} smaller left out" in n for n in snap.meta.notes)


@pytest.mark.parametrize(
    "mix",
    [
        [{"channel": "web", "customers": 7}, {"channel": "app", "customers": 3}],
        [{"channel": "web", "share": 0.7}, {"channel": "app", "share": 0.3}],
    ],
)
def test_channel_mix_in_record_form(mix):
    out = fx.outputs()
    out.touchpoint_metrics["channel_mix"] = [mix] * len(out.touchpoint_metrics)
    tp = snapshot_from_outputs(fx.spec(), out).touchpoint("product_page")
    got = {k: v.value for k, v in tp.channel_mix.items()}
    assert got == pytest.approx({"web": 0.7, "app": 0.3})
    assert all(v.n == 700 for v in tp.channel_mix.values())


def test_channel_mix_in_wide_columns():
    out = fx.outputs()
    out.touchpoint_metrics = out.touchpoint_metrics.drop(columns=["channel_mix"]).assign(
        channel_web=[0.0, 0.0, 0.6, 1.0, 0.0], channel_app=[0.0, 0.0, 0.4, 0.0, 0.0]
    )
    tp = snapshot_from_outputs(fx.spec(), out).touchpoint("product_page")
    assert {k: v.value for k, v in tp.channel_mix.items()} == {"app": 0.4, "web": 0.6}


def test_missing_voice_frames_leave_emotion_empty_not_invented():
    out = fx.outputs()
    out.emotions_by_touchpoint = None
    out.scores = None
    snap = snapshot_from_outputs(fx.spec(), out)
    assert all(p.emotion.value is None and p.emotion.n == 0 for p in snap.emotion_curve)
    assert all(tp.scores == {} for tp in snap.touchpoints)
    assert snap.touchpoint("order_confirmed").health == "unknown"  # emotion was its only cue


def test_default_funnel_steps_stop_at_the_goal_stage():
    from journeymap.snapshot.adapter import main_touchpoints

    stages = [*fx.SPEC["stages"], {"id": "loyalty", "name": "Loyalty"}]
    tps = [*fx.SPEC["touchpoints"], {"id": "review", "name": "Review", "stage": "loyalty"}]
    frame = pd.concat(
        [fx.TOUCHPOINT_METRICS, pd.DataFrame({"touchpoint": ["review"], "customers": [999]})]
    )
    steps = main_touchpoints(fx.spec(stages=stages, touchpoints=tps), frame)
    # most reached per stage up to the goal's stage (goal excluded there), then the goal
    assert steps == ["social_ad", "product_page", "checkout", "order_confirmed"]
