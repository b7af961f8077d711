"""The SVG drawing and the charts: valid XML, every card and stage drawn, data twins true."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from journeymap.render import (
    all_charts,
    emotion_curve_data,
    funnel_data,
    map_svg,
    opportunity_matrix_data,
    sankey_data,
    transition_graph_data,
)
from journeymap.render.charts import quadrant
from journeymap.render.palette import emotion_colour

from . import fixtures as fx

NS = {"s": "http://www.w3.org/2000/svg"}


def _groups(root: ET.Element, cls: str) -> list[ET.Element]:
    return [
        g
        for g in root.iter("{http://www.w3.org/2000/svg}g")
        if cls in (g.get("class") or "").split()
    ]


def _text(el: ET.Element) -> str:
    return " ".join(" ".join(t.itertext()) for t in el.iter("{http://www.w3.org/2000/svg}text"))


def test_map_is_valid_svg_with_every_stage_and_card():
    snap = fx.snapshot("bargain_hunter")
    root = ET.fromstring(map_svg(snap))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    headers = _groups(root, "stage-header")
    assert [h.get("data-stage") for h in headers] == ["awareness", "consideration", "purchase"]
    assert [_text(h).split(" 8")[0] for h in headers][0].startswith("Awareness")
    cards = {c.get("data-touchpoint"): c for c in _groups(root, "touchpoint-card")}
    assert list(cards) == [t["id"] for t in fx.SPEC["touchpoints"]]
    assert {k: c.get("data-health") for k, c in cards.items()} == {
        t.id: t.health for t in snap.touchpoints
    }
    # the card shows the frame's numbers: product page reach 70%, 700 customers, conversion 40%
    card = _text(cards["product_page"])
    assert "70%" in card and "700" in card and "40%" in card and "CSAT" in card
    assert "Bargain hunter: Find the best price" in _text(root)


def test_emotion_lane_draws_a_point_per_touchpoint_with_its_n_and_colour():
    root = ET.fromstring(map_svg(fx.snapshot()))
    points = {g.get("data-key"): g for g in _groups(root, "emotion-point")}
    assert set(points) == {t["id"] for t in fx.SPEC["touchpoints"]}
    emo = fx.EMOTIONS_TP.set_index("touchpoint")
    for key, g in points.items():
        if key in emo.index:
            assert g.get("data-n") == str(emo.loc[key, "n"])
            fills = {el.get("fill") for el in g if el.get("fill")}
            assert emotion_colour(emo.loc[key, "mean"]) in fills
        else:
            assert g.get("data-n") == "0" and "no data" in _text(g)
    # the band: one polygon per pair of neighbouring touchpoints that both have data
    band = _groups(root, "emotion-band")[0]
    assert len(band.findall("s:polygon", NS)) == 2  # product->checkout, checkout->confirmed


def test_pain_points_opportunities_and_kpis_are_drawn():
    root = ET.fromstring(map_svg(fx.snapshot()))
    pains = _groups(root, "pain-point")
    assert sorted(_text(p).split(" low")[0].split(" high")[0] for p in pains) == sorted(
        ["▽ Too many ads", "▲ Delivery cost shown late"]
    )
    assert len(_groups(root, "opportunity")) == 2
    kpis = [k.get("data-status") for k in _groups(root, "kpi")]
    assert sorted(kpis) == ["met", "met", "not_met", "not_met"]


def test_every_chart_is_valid_svg():
    for chart in all_charts(fx.snapshot()):
        root = ET.fromstring(chart.to_svg())
        assert root.tag.endswith("svg"), chart.name
        assert chart._repr_html_() == chart.svg
        assert isinstance(chart.data, pd.DataFrame) and len(chart.data), chart.name


def test_funnel_twin_is_the_engine_funnel():
    data = funnel_data(fx.snapshot())
    assert list(data["key"]) == list(fx.FUNNEL["name"])
    assert list(data["customers"]) == list(fx.FUNNEL["customers"])
    assert list(data["dropoff"]) == pytest.approx(list(fx.FUNNEL["dropoff"]))
    root = ET.fromstring(all_charts(fx.snapshot())[0].svg)
    widths = [
        float(r.get("width"))
        for r in root.iter("{http://www.w3.org/2000/svg}rect")
        if r.get("class") == "funnel-bar"
    ]
    # drawn widths are proportional to customers
    assert [w / widths[0] for w in widths] == pytest.approx(
        [c / fx.FUNNEL["customers"][0] for c in fx.FUNNEL["customers"]], abs=0.01
    )


def test_sankey_twin_sums_match_the_flows():
    data = sankey_data(fx.snapshot())
    assert data["customers"].sum() == fx.FLOWS["customers"].sum()
    assert set(data["target_label"]) == {"Product page", "Search ad", "Checkout", "(exit)"}
    root = ET.fromstring(all_charts(fx.snapshot())[1].svg)
    links = [
        p for p in root.iter("{http://www.w3.org/2000/svg}path") if p.get("class") == "sankey-link"
    ]
    assert len(links) == len(fx.FLOWS)


def test_emotion_twin_and_matrix_twin():
    emo = emotion_curve_data(fx.snapshot())
    assert list(emo["key"]) == [t["id"] for t in fx.SPEC["touchpoints"]]
    assert emo.set_index("key").loc["checkout", "n"] == 90
    assert pd.isna(emo.set_index("key").loc["search_ad", "mean"])
    mat = opportunity_matrix_data(fx.snapshot())
    # impact 4, effort 2 -> high value, low effort
    assert list(mat["quadrant"]) == ["quick win", "big bet"]
    assert quadrant(2, 4) == "money pit" and quadrant(1, 1) == "fill-in"


def test_transition_twin_orders_by_count_and_gives_share_of_source():
    data = transition_graph_data(fx.snapshot(), top=3)
    assert list(data["count"]) == [500, 380, 290]
    pp = data[data.source == "product_page"].iloc[0]
    out_of_pp = fx.TRANSITIONS[fx.TRANSITIONS.source == "product_page"]["count"].sum()
    assert pp.share_of_source == pytest.approx(380 / out_of_pp)


def test_empty_snapshot_still_draws():
    out = fx.outputs()
    out.funnel = out.flows = out.transitions = None
    from journeymap.snapshot import snapshot_from_outputs

    snap = snapshot_from_outputs(fx.spec(opportunities=[], pain_points=[]), out)
    ET.fromstring(map_svg(snap))
    for chart in all_charts(snap):
        said = "".join(ET.fromstring(chart.svg).itertext())
        assert ("No " in said) == (chart.name != "emotion"), chart.name


def test_printed_map_is_cut_between_stages_and_keeps_every_card():
    from journeymap.render.journey_map import map_pages

    snap = fx.snapshot()
    pages = [ET.fromstring(p) for p in map_pages(snap, per_page=2)]
    stages = [[h.get("data-stage") for h in _groups(p, "stage-header")] for p in pages]
    assert stages == [["awareness"], ["consideration"], ["purchase"]]
    cards = [c.get("data-touchpoint") for p in pages for c in _groups(p, "touchpoint-card")]
    assert cards == [t["id"] for t in fx.SPEC["touchpoints"]]
    pains = [[_text(x) for x in _groups(p, "pain-point")] for p in pages]
    assert ["Too many ads" in " ".join(p) for p in pains] == [True, False, False]
    assert len(map_pages(snap, per_page=10)) == 1


def test_sankey_draws_the_largest_edges_and_says_how_many_it_left_out():
    from journeymap.render import sankey_chart

    snap = fx.snapshot()
    assert list(sankey_data(snap, top=2)["customers"]) == [420, 300]
    assert len(sankey_data(snap, top=None)) == len(fx.FLOWS)
    chart = sankey_chart(snap)
    assert "smaller edges not drawn" not in "".join(ET.fromstring(chart.svg).itertext())
    chart = sankey_chart(snap, top=2)
    assert "3 smaller edges not drawn" in "".join(ET.fromstring(chart.svg).itertext())
