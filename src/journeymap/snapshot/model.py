"""The data-backed journey map as one plain, JSON-serialisable object.

Every renderer (HTML, SVG, PNG, PDF, charts) and the web app read a
:class:`JourneySnapshot` and nothing else, so nothing below this layer knows about
drawing and nothing above it knows about Ibis. Every number is a :class:`Metric` that
carries the count (``n``) it was computed from, because a 60% conversion over 5 customers
and over 5,000 are different facts. Fractions are 0..1, times are seconds, emotion is
-2..+2; a value is ``None`` (never NaN) when there is no data, so the JSON stays valid.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

KpiStatus = Literal["met", "not_met", "unknown"]
Health = Literal["good", "mixed", "poor", "unknown"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Metric(_Model):
    """One number and the count behind it (with a 95% interval when one is known)."""

    value: float | None = None
    n: int = 0
    ci_low: float | None = None
    ci_high: float | None = None


class KpiResult(_Model):
    """An authored KPI target against the computed value."""

    metric: str
    target: float
    direction: Literal["above", "below"] = "above"
    actual: Metric = Field(default_factory=Metric)
    status: KpiStatus = "unknown"


class PersonaView(_Model):
    """The persona the snapshot is filtered to (authored text only)."""

    id: str
    name: str
    description: str | None = None
    goals: list[str] = Field(default_factory=list)
    frustrations: list[str] = Field(default_factory=list)


class StageView(_Model):
    """A stage column of the map: authored text plus its computed metrics."""

    id: str
    name: str
    goal: str | None = None
    owner: str | None = None
    description: str | None = None
    touchpoints: list[str] = Field(default_factory=list)
    metrics: dict[str, Metric] = Field(default_factory=dict)
    channel_mix: dict[str, Metric] = Field(default_factory=dict)
    emotion: Metric | None = None


class TouchpointView(_Model):
    """A touchpoint card: authored text, computed metrics, scores, emotion and KPIs."""

    id: str
    name: str
    stage: str
    channel: str | None = None
    owner: str | None = None
    expectation: str | None = None
    description: str | None = None
    metrics: dict[str, Metric] = Field(default_factory=dict)
    channel_mix: dict[str, Metric] = Field(default_factory=dict)
    scores: dict[str, Metric] = Field(default_factory=dict)
    emotion: Metric | None = None
    kpis: list[KpiResult] = Field(default_factory=list)
    health: Health = "unknown"


class EmotionPoint(_Model):
    """One point of the emotion curve (per touchpoint, in journey order)."""

    key: str
    label: str
    stage: str
    level: Literal["touchpoint", "stage"] = "touchpoint"
    emotion: Metric = Field(default_factory=Metric)


class PainPointView(_Model):
    """A pain point, authored in journey.yaml or detected from data."""

    id: str | None = None
    title: str
    touchpoint: str | None = None
    stage: str | None = None
    description: str | None = None
    severity: str = "medium"
    origin: Literal["authored", "detected"] = "authored"
    evidence: dict[str, Metric] = Field(default_factory=dict)


class OpportunityView(_Model):
    """An improvement idea with authored impact and effort (1..5)."""

    id: str | None = None
    title: str
    touchpoint: str | None = None
    stage: str | None = None
    description: str | None = None
    impact: int = 3
    effort: int = 3
    owner: str | None = None
    status: str = "idea"


class FunnelStep(_Model):
    """One funnel step; ``customers.n`` is the number who entered step 1."""

    step: int
    key: str
    name: str
    customers: Metric = Field(default_factory=Metric)
    conversion: Metric = Field(default_factory=Metric)
    conversion_previous: Metric = Field(default_factory=Metric)
    dropped: Metric = Field(default_factory=Metric)
    dropoff: Metric = Field(default_factory=Metric)
    median_time_to_convert_s: Metric = Field(default_factory=Metric)


class FlowEdge(_Model):
    """A Sankey edge: customers moving from ``source`` at ``step`` to ``target``."""

    step: int
    source: str
    target: str
    customers: Metric = Field(default_factory=Metric)


class TransitionEdge(_Model):
    """A directly-follows edge between touchpoints with its timing."""

    source: str
    target: str
    count: Metric = Field(default_factory=Metric)
    customers: Metric = Field(default_factory=Metric)
    median_s: Metric = Field(default_factory=Metric)
    p90_s: Metric = Field(default_factory=Metric)


class SnapshotMeta(_Model):
    """Where the numbers come from: workspace, filters, data version and totals."""

    workspace: str
    journey: str
    filters: dict[str, Any] = Field(default_factory=dict)
    data_version: int | None = None
    generated_at: str
    totals: dict[str, int] = Field(default_factory=dict)
    persona: PersonaView | None = None
    goal_touchpoint: str | None = None
    notes: list[str] = Field(default_factory=list)


class JourneySnapshot(_Model):
    """The whole data-backed map. Build with :func:`journeymap.snapshot.build_snapshot`."""

    meta: SnapshotMeta
    stages: list[StageView] = Field(default_factory=list)
    touchpoints: list[TouchpointView] = Field(default_factory=list)
    emotion_curve: list[EmotionPoint] = Field(default_factory=list)
    pain_points: list[PainPointView] = Field(default_factory=list)
    detected_pain_points: list[PainPointView] = Field(default_factory=list)
    opportunities: list[OpportunityView] = Field(default_factory=list)
    funnel: list[FunnelStep] = Field(default_factory=list)
    flows: list[FlowEdge] = Field(default_factory=list)
    transitions: list[TransitionEdge] = Field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (no NaN, no numpy types)."""
        return self.model_dump(mode="json")

    def to_json(self, indent: int | None = None) -> str:
        """The snapshot as JSON text; :meth:`from_json` reads it back unchanged."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JourneySnapshot:
        """Validate plain data back into a snapshot (pydantic names any bad field)."""
        return cls.model_validate(data)

    @classmethod
    def from_json(cls, text: str) -> JourneySnapshot:
        """Parse :meth:`to_json` output."""
        return cls.model_validate_json(text)

    def touchpoint(self, touchpoint_id: str) -> TouchpointView:
        """The touchpoint card with this id (KeyError naming the known ids otherwise)."""
        for tp in self.touchpoints:
            if tp.id == touchpoint_id:
                return tp
        known = ", ".join(t.id for t in self.touchpoints) or "none"
        raise KeyError(f"touchpoint {touchpoint_id!r} is not in the snapshot (known: {known})")

    def stage(self, stage_id: str) -> StageView:
        """The stage column with this id (KeyError naming the known ids otherwise)."""
        for st in self.stages:
            if st.id == stage_id:
                return st
        known = ", ".join(s.id for s in self.stages) or "none"
        raise KeyError(f"stage {stage_id!r} is not in the snapshot (known: {known})")

    def label(self, key: str) -> str:
        """Display name of a touchpoint or stage id (the id itself when unknown)."""
        for item in (*self.touchpoints, *self.stages):
            if item.id == key:
                return item.name
        return key

    def _repr_html_(self) -> str:
        from journeymap.render.journey_map import map_svg

        return map_svg(self)
