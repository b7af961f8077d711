"""Opportunities: proposed from the top pain points, authored ones sized with data, and
the impact/effort matrix with a phased roadmap.

Data impact on the 1..5 scale of authored impact is logarithmic against the largest
impact found: the largest scores 5, half of it 4, a quarter 3, an eighth 2, less 1 (pain
impacts span orders of magnitude). An authored opportunity's data impact is the sum of
the impacts of the detected pain points at its touchpoint (or in its stage).

Matrix: impact is high from 3, effort is high from 4 (3 = medium counts as low).
Quadrants and phases: quick win (high impact, low effort; phase 1, now), big bet (high,
high; phase 2, plan it), fill-in (low, low; phase 3, when there is slack), money pit (low,
high; not planned). A proposed opportunity has no authored effort: 3 is assumed and
``effort_source`` says so.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

QUADRANTS = {
    (True, False): ("quick win", 1, "now"),
    (True, True): ("big bet", 2, "plan"),
    (False, False): ("fill-in", 3, "when there is slack"),
    (False, True): ("money pit", 4, "not planned"),
}
_PROPOSALS = {
    "dropoff": "Reduce the drop-off at {tp}",
    "slow_step": "Shorten the step {related} -> {tp}",
    "loop": "Make {tp} answer the question that sends customers back and forth with {related}",
    "backward": "Keep customers moving forward at {tp} (they go back to {related})",
    "voice": "Fix what customers complain about at {tp}",
    "support_after": "Answer at {tp} the questions that make customers call",
    "channel_switch": "Offer {channel} at {tp} more widely (customers who switch convert better)",
    "conformance": "Guide customers through the {stage} stage",
}


def data_impact_score(impact: float, largest: float) -> int:
    """1..5 from an impact relative to the largest one (see the module docstring)."""
    if not largest or not impact or impact <= 0 or math.isnan(impact):
        return 1
    return int(min(5, max(1, 5 + math.floor(math.log2(impact / largest) + 1e-9))))


def quadrant(impact: int, effort: int) -> tuple[str, int, str]:
    """(quadrant, phase, when) of an impact/effort pair on 1..5."""
    return QUADRANTS[(impact >= 3, effort >= 4)]


def build_opportunities(spec: Any, pains: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """Authored and proposed opportunities with data impact, quadrant and phase."""
    largest = float(pains["impact"].max()) if len(pains) else 0.0
    rows = []
    for o in getattr(spec, "opportunities", []) or []:
        if o.touchpoint:
            hits = pains.loc[pains["touchpoint"] == o.touchpoint]
        elif o.stage:
            hits = pains.loc[pains["stage"] == o.stage]
        else:
            hits = pains.iloc[0:0]
        impact = float(hits["impact"].sum()) if len(hits) else 0.0
        rows.append(
            {
                "id": o.id,
                "origin": "authored",
                "title": o.title,
                "touchpoint": o.touchpoint,
                "stage": o.stage or _stage(spec, o.touchpoint),
                "data_impact": impact,
                "data_impact_score": data_impact_score(impact, largest) if len(hits) else None,
                "authored_impact": o.impact,
                "effort": o.effort,
                "effort_source": "authored",
                "pain_points": ", ".join(hits["id"]),
                "evidence": " ".join(hits["description"].head(2)),
                "owner": o.owner,
                "status": o.status,
            }
        )
    for p in pains.head(top).to_dict("records"):
        title = _PROPOSALS[p["type"]].format(
            tp=p["touchpoint"], related=p["related"], channel=p["channel"], stage=p["stage"]
        )
        rows.append(
            {
                "id": "proposed_" + p["id"].removeprefix("detected_"),
                "origin": "proposed",
                "title": title,
                "touchpoint": p["touchpoint"],
                "stage": p["stage"],
                "data_impact": float(p["impact"]),
                "data_impact_score": data_impact_score(float(p["impact"]), largest),
                "authored_impact": None,
                "effort": 3,
                "effort_source": "assumed",
                "pain_points": p["id"],
                "evidence": p["description"],
                "owner": None,
                "status": "idea",
            }
        )
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    impact = out["data_impact_score"].fillna(out["authored_impact"]).astype(int)
    placed = [quadrant(i, e) for i, e in zip(impact, out["effort"].astype(int), strict=True)]
    out["impact_used"] = impact
    out["quadrant"] = [q for q, _, _ in placed]
    out["phase"] = [p for _, p, _ in placed]
    out["when"] = [w for _, _, w in placed]
    out = out.sort_values(["phase", "data_impact"], ascending=[True, False], kind="stable")
    return out.reset_index(drop=True)


def roadmap(opportunities: pd.DataFrame) -> pd.DataFrame:
    """The opportunities grouped by phase, in order: phase, when, quadrant, titles."""
    if opportunities.empty:
        return pd.DataFrame(columns=["phase", "when", "quadrant", "count", "titles"])
    g = opportunities.groupby(["phase", "when", "quadrant"], sort=True)
    return g["title"].agg(count="size", titles=lambda s: list(s)).reset_index()


def _stage(spec: Any, tp: str | None) -> str | None:
    for t in getattr(spec, "touchpoints", []) or []:
        if t.id == tp:
            return t.stage
    return None
