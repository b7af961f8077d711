"""Opportunities: authored ones sized with data, proposed ones, matrix and roadmap."""

from __future__ import annotations

import pytest

from journeymap.insights.api import opportunities
from journeymap.insights.opportunities import data_impact_score, quadrant, roadmap


def test_impact_score_and_quadrants_by_hand():
    assert [data_impact_score(x, 100) for x in (100, 60, 50, 30, 20, 12.5, 5, 0)] == [
        5, 4, 4, 3, 2, 2, 1, 1,
    ]  # fmt: skip
    assert quadrant(4, 2)[0] == "quick win" and quadrant(4, 4)[0] == "big bet"
    assert quadrant(2, 3)[0] == "fill-in" and quadrant(2, 5)[0] == "money pit"


def test_authored_and_proposed_opportunities(demo, pains_by_seed):
    pains = pains_by_seed[7]
    opp = opportunities(demo.analysis(), top=10)
    authored = opp.loc[opp["origin"] == "authored"].set_index("id")
    assert set(authored.index) == {o.id for o in demo.spec.opportunities}
    size = authored.loc["inline_size_advice"]
    assert size["authored_impact"] == 3 and size["effort"] == 3
    at_size_guide = pains.loc[pains["touchpoint"] == "size_guide", "impact"].sum()
    assert size["data_impact"] == pytest.approx(at_size_guide)
    chat = authored.loc["promote_chat"]  # a stage-level opportunity
    in_stage = pains.loc[pains["stage"] == "consideration", "impact"].sum()
    assert chat["data_impact"] == pytest.approx(in_stage)
    proposed = opp.loc[opp["origin"] == "proposed"]
    assert len(proposed) == 10 and (proposed["effort_source"] == "assumed").all()
    top = proposed.loc[proposed["pain_points"] == pains.iloc[0]["id"]].iloc[0]
    assert top["data_impact_score"] == 5 and top["quadrant"] == "quick win"
    assert top["evidence"] == pains.iloc[0]["description"]
    assert list(opp["phase"]) == sorted(opp["phase"])
    plan = roadmap(opp)
    assert plan["count"].sum() == len(opp)
