"""A hand-built journey and engine-shaped frames, so render tests need no engine.

The frames use the column names of the engine and voice briefs; the numbers are chosen
so that every lane has something to draw (a KPI met, one missed, one without data, a
touchpoint without feedback, a stage-level pain point, a detected one).
"""

from __future__ import annotations

import pandas as pd

from journeymap.snapshot import EngineOutputs, JourneySnapshot, snapshot_from_outputs
from journeymap.spec.models import JourneySpec

SPEC = {
    "name": "Online retailer",
    "personas": [
        {"id": "bargain_hunter", "name": "Bargain hunter", "goals": ["Find the best price"]},
        {"id": "loyal", "name": "Loyal regular", "goals": ["Reorder quickly"]},
    ],
    "stages": [
        {
            "id": "awareness",
            "name": "Awareness",
            "goal": "Learn that we exist",
            "owner": "Marketing",
        },
        {
            "id": "consideration",
            "name": "Consideration",
            "goal": "Compare options",
            "owner": "Product",
        },
        {"id": "purchase", "name": "Purchase", "goal": "Buy without surprises", "owner": "Sales"},
    ],
    "touchpoints": [
        {
            "id": "social_ad",
            "name": "Social ad",
            "stage": "awareness",
            "channel": "social",
            "owner": "Marketing",
            "expectation": "Relevant, not pushy",
            "kpis": [{"metric": "conversion", "target": 0.3}],
        },
        {
            "id": "search_ad",
            "name": "Search ad",
            "stage": "awareness",
            "channel": "paid_search",
            "owner": "Marketing",
        },
        {
            "id": "product_page",
            "name": "Product page",
            "stage": "consideration",
            "channel": "web",
            "owner": "Product",
            "expectation": "Clear price and delivery",
            "kpis": [
                {"metric": "exit_rate", "target": 0.3, "direction": "below"},
                {"metric": "csat", "target": 4.0},
            ],
        },
        {
            "id": "checkout",
            "name": "Checkout",
            "stage": "purchase",
            "channel": "web",
            "owner": "Sales",
            "kpis": [{"metric": "nps", "target": 20}],
        },
        {
            "id": "order_confirmed",
            "name": "Order confirmed",
            "stage": "purchase",
            "channel": "email",
            "owner": "Sales",
        },
    ],
    "goal": {"touchpoint": "order_confirmed"},
    "pain_points": [
        {"title": "Delivery cost shown late", "touchpoint": "checkout", "severity": "high"},
        {"title": "Too many ads", "stage": "awareness", "severity": "low"},
    ],
    "opportunities": [
        {
            "id": "show_costs_early",
            "title": "Show delivery cost on the product page",
            "touchpoint": "product_page",
            "impact": 4,
            "effort": 2,
            "owner": "Product",
            "status": "planned",
        },
        {"title": "Guest checkout", "touchpoint": "checkout", "impact": 5, "effort": 4},
    ],
}
TOTAL = 1000
TOUCHPOINT_METRICS = pd.DataFrame(
    {
        "touchpoint": ["social_ad", "search_ad", "product_page", "checkout", "order_confirmed"],
        "customers": [600, 300, 700, 350, 280],
        "share": [0.6, 0.3, 0.7, 0.35, 0.28],
        "conversion": [0.32, 0.25, 0.4, 0.8, 1.0],
        "exit_rate": [0.2, 0.3, 0.35, 0.1, 0.9],
        "repeat_rate": [0.1, 0.05, 0.4, 0.2, 0.0],
        "median_time_to_next_s": [3600.0, 1800.0, 600.0, 120.0, None],
        "first_touch": [550, 250, 150, 30, 0],
        "last_touch": [100, 80, 250, 40, 280],
        "channel_mix": [
            {"social": 1.0},
            {"paid_search": 1.0},
            {"web": 0.7, "app": 0.3},
            {"web": 1.0},
            {"email": 1.0},
        ],
    }
)
STAGE_METRICS = pd.DataFrame(
    {
        "stage": ["awareness", "consideration", "purchase"],
        "customers": [800, 700, 360],
        "share": [0.8, 0.7, 0.36],
        "conversion": [0.3, 0.4, 0.78],
        "exit_rate": [0.2, 0.35, 0.1],
        "repeat_rate": [0.1, 0.4, 0.2],
        "median_time_to_next_s": [7200.0, 900.0, None],
        "first_touch": [800, 150, 50],
        "last_touch": [160, 250, 320],
    }
)
FUNNEL = pd.DataFrame(
    {
        "step": [1, 2, 3],
        "name": ["social_ad", "product_page", "order_confirmed"],
        "customers": [600, 420, 250],
        "conversion": [1.0, 0.7, 250 / 600],
        "conversion_previous": [1.0, 0.7, 250 / 420],
        "dropoff": [0.0, 0.3, 1 - 250 / 420],
        "median_time_to_convert_s": [None, 3000.0, 86400.0],
    }
)
FLOWS = pd.DataFrame(
    {
        "step": [0, 0, 1, 1, 1],
        "source": ["social_ad", "social_ad", "product_page", "product_page", "search_ad"],
        "target": ["product_page", "search_ad", "checkout", "(exit)", "product_page"],
        "customers": [420, 100, 300, 120, 60],
    }
)
TRANSITIONS = pd.DataFrame(
    {
        "source": ["social_ad", "product_page", "checkout", "search_ad", "product_page"],
        "target": ["product_page", "checkout", "order_confirmed", "product_page", "product_page"],
        "count": [500, 380, 290, 200, 150],
        "customers": [420, 350, 280, 180, 90],
        "median_s": [3600.0, 600.0, 120.0, 1800.0, 60.0],
        "p90_s": [20000.0, 4000.0, 600.0, 9000.0, 300.0],
        "mean_s": [8000.0, 1200.0, 200.0, 3000.0, 100.0],
    }
)
EMOTIONS_TP = pd.DataFrame(
    {
        "touchpoint": ["social_ad", "product_page", "checkout", "order_confirmed"],
        "n": [40, 120, 90, 60],
        "mean": [0.6, 0.2, -1.1, 1.4],
        "ci_low": [0.2, 0.0, -1.4, 1.1],
        "ci_high": [1.0, 0.4, -0.8, 1.7],
    }
)
EMOTIONS_STAGE = pd.DataFrame(
    {
        "stage": ["awareness", "consideration", "purchase"],
        "n": [40, 120, 150],
        "mean": [0.6, 0.2, -0.1],
        "ci_low": [0.2, 0.0, -0.4],
        "ci_high": [1.0, 0.4, 0.2],
    }
)
SCORES = pd.DataFrame(
    {
        "touchpoint": ["product_page", "checkout", "checkout"],
        "kind": ["csat", "nps", "csat"],
        "score": [4.2, 12.0, 3.1],
        "n": [80, 70, 30],
        "ci_low": [4.0, -2.0, 2.8],
        "ci_high": [4.4, 26.0, 3.4],
    }
)


def spec(**changes: object) -> JourneySpec:
    """The fixture journey, with top-level keys replaced by ``changes``."""
    return JourneySpec.model_validate({**SPEC, **changes})


def outputs() -> EngineOutputs:
    """Fresh copies of the engine-shaped frames."""
    return EngineOutputs(
        stage_metrics=STAGE_METRICS.copy(),
        touchpoint_metrics=TOUCHPOINT_METRICS.copy(),
        funnel=FUNNEL.copy(),
        flows=FLOWS.copy(),
        transitions=TRANSITIONS.copy(),
        emotions_by_touchpoint=EMOTIONS_TP.copy(),
        emotions_by_stage=EMOTIONS_STAGE.copy(),
        scores=SCORES.copy(),
        customers_total=TOTAL,
    )


def snapshot(persona: str | None = None, **spec_changes: object) -> JourneySnapshot:
    """The fixture snapshot (optionally for a persona, with a changed spec)."""
    filters = {"persona": persona} if persona else {}
    return snapshot_from_outputs(
        spec(**spec_changes),
        outputs(),
        workspace="fixture",
        data_version=3,
        filters=filters,
        generated_at="2026-01-01T00:00:00+00:00",
    )
