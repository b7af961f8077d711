"""The data-backed journey map: one plain, JSON-serialisable object every renderer reads.

``build_snapshot(ws, **filters)`` (what ``ws.snapshot`` delegates to),
``snapshot_from_analysis(analysis)`` without a workspace, and the model classes.
"""

from journeymap.snapshot.adapter import EngineOutputError, EngineOutputs, collect_outputs
from journeymap.snapshot.build import (
    build_snapshot,
    build_snapshots,
    snapshot_from_analysis,
    snapshot_from_outputs,
)
from journeymap.snapshot.model import (
    EmotionPoint,
    FlowEdge,
    FunnelStep,
    JourneySnapshot,
    KpiResult,
    Metric,
    OpportunityView,
    PainPointView,
    PersonaView,
    SnapshotMeta,
    StageView,
    TouchpointView,
    TransitionEdge,
)

__all__ = [
    "EmotionPoint",
    "EngineOutputError",
    "EngineOutputs",
    "FlowEdge",
    "FunnelStep",
    "JourneySnapshot",
    "KpiResult",
    "Metric",
    "OpportunityView",
    "PainPointView",
    "PersonaView",
    "SnapshotMeta",
    "StageView",
    "TouchpointView",
    "TransitionEdge",
    "build_snapshot",
    "build_snapshots",
    "collect_outputs",
    "snapshot_from_analysis",
    "snapshot_from_outputs",
]
