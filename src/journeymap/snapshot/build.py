"""Build a :class:`JourneySnapshot` from a workspace, an ``Analysis`` or raw frames.

Three layers, each callable on its own:

- :func:`build_snapshot` (``ws.snapshot(**filters)`` delegates here): opens the analysis.
- :func:`snapshot_from_analysis`: Workspace-free; asks the analysis for its frames.
- :func:`snapshot_from_outputs`: the ONE mapping from engine/voice frames (read through
  :mod:`journeymap.snapshot.adapter`) and the authored spec into the snapshot.

KPI rules (documented here only): a KPI is ``met`` when the computed value is on the
right side of its target (``above``: value >= target, ``below``: value <= target),
``not_met`` otherwise, and ``unknown`` when there is no data (n = 0 or no value).
``reach`` targets up to 1 are shares of all customers, larger ones customer counts;
``dropoff`` is the touchpoint's exit rate; ``median_time_s`` its median time to the next
touchpoint. Health of a card: ``poor`` if any KPI is not met, ``good`` if at least one is
met and none fails; without KPI data, emotion decides (>= +0.5 good, <= -0.5 poor, else
mixed); with neither, ``unknown``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from journeymap.snapshot.adapter import (
    EngineOutputs,
    channel_mix_of,
    collect_outputs,
    column,
    has_column,
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

TOP_TRANSITIONS = 30
# per-row metrics copied from stage_metrics()/touchpoint_metrics(), and what their n is
_COUNT_METRICS = ("customers", "first_touch", "last_touch")  # n = customers in scope
_RATE_METRICS = ("conversion", "exit_rate", "repeat_rate", "median_time_to_next_s")  # n = reached
_KPI_TO_METRIC = {
    "conversion": "conversion",
    "dropoff": "exit_rate",
    "exit_rate": "exit_rate",
    "median_time_s": "median_time_to_next_s",
}


def build_snapshot(
    ws: Any,
    *,
    start: Any = None,
    end: Any = None,
    persona: str | None = None,
    channel: str | None = None,
    where: Any = None,
    funnel_steps: Sequence[str] | None = None,
) -> JourneySnapshot:
    """The data-backed map of a workspace for one set of filters."""
    filters = {"start": start, "end": end, "persona": persona, "channel": channel, "where": where}
    analysis = ws.analysis(**filters)
    return snapshot_from_analysis(
        analysis,
        workspace=_workspace_name(ws),
        data_version=getattr(ws, "data_version", None),
        filters=filters,
        funnel_steps=funnel_steps,
    )


def build_snapshots(
    ws: Any, personas: Sequence[str] | None = None, **filters: Any
) -> list[JourneySnapshot]:
    """All customers first, then one snapshot per persona (all the spec's when None).

    This is what the HTML persona switcher embeds.
    """
    filters.pop("persona", None)
    ids = list(personas) if personas is not None else [p.id for p in ws.spec.personas]
    snaps = [build_snapshot(ws, **filters)]
    snaps += [build_snapshot(ws, persona=pid, **filters) for pid in ids]
    return snaps


def snapshot_from_analysis(
    analysis: Any,
    *,
    workspace: str | None = None,
    data_version: int | None = None,
    filters: dict[str, Any] | None = None,
    funnel_steps: Sequence[str] | None = None,
) -> JourneySnapshot:
    """The snapshot of an engine ``Analysis`` (no Workspace needed)."""
    outputs = collect_outputs(analysis, funnel_steps=funnel_steps)
    if filters is None:
        filters = _filters_of(analysis)
    return snapshot_from_outputs(
        analysis.spec,
        outputs,
        workspace=workspace or "",
        data_version=data_version,
        filters=filters,
    )


def snapshot_from_outputs(
    spec: Any,
    outputs: EngineOutputs,
    *,
    workspace: str = "",
    data_version: int | None = None,
    filters: dict[str, Any] | None = None,
    generated_at: str | None = None,
) -> JourneySnapshot:
    """Map engine/voice frames and the authored spec into one snapshot."""
    filters = {k: _jsonable(v) for k, v in (filters or {}).items() if v is not None}
    total = outputs.customers_total
    notes = list(outputs.notes)
    stage_rows = _rows_by_key(outputs.stage_metrics, "stage", "stage_metrics()")
    tp_rows = _rows_by_key(outputs.touchpoint_metrics, "touchpoint", "touchpoint_metrics()")
    tp_emotion = _emotions(outputs.emotions_by_touchpoint, "touchpoint")
    st_emotion = _emotions(outputs.emotions_by_stage, "stage")
    scores = _scores(outputs.scores)

    stages = [
        StageView(
            id=st.id,
            name=st.name,
            goal=st.goal,
            owner=st.owner,
            description=st.description,
            touchpoints=[t.id for t in spec.touchpoints if t.stage == st.id],
            metrics=_row_metrics(stage_rows.get(st.id), total),
            channel_mix=_mix(stage_rows.get(st.id)),
            emotion=st_emotion.get(st.id),
        )
        for st in spec.stages
    ]
    touchpoints = []
    for tp in spec.touchpoints:
        row = tp_rows.get(tp.id)
        metrics = _row_metrics(row, total)
        card = TouchpointView(
            id=tp.id,
            name=tp.name,
            stage=tp.stage,
            channel=tp.channel,
            owner=tp.owner,
            expectation=tp.expectation,
            description=tp.description,
            metrics=metrics,
            channel_mix=_mix(row),
            scores=scores.get(tp.id, {}),
            emotion=tp_emotion.get(tp.id),
        )
        card.kpis = [_kpi(k, card, total) for k in tp.kpis]
        card.health = _health(card)
        touchpoints.append(card)

    unknown_rows = sorted(set(tp_rows) - {t.id for t in spec.touchpoints})
    if unknown_rows:
        notes.append(f"touchpoint_metrics(): rows for touchpoints not in the spec: {unknown_rows}")

    persona_id = filters.get("persona")
    if isinstance(persona_id, list | tuple):
        persona_id = persona_id[0] if len(persona_id) == 1 else None
    persona = None
    if persona_id:
        p = spec.persona(persona_id)
        persona = PersonaView(
            id=p.id,
            name=p.name,
            description=p.description,
            goals=list(p.goals),
            frustrations=list(p.frustrations),
        )
    goal = getattr(getattr(spec, "goal", None), "touchpoint", None)
    totals: dict[str, int] = {}
    if total is not None:
        totals["customers"] = int(total)
    if goal and goal in tp_rows:
        totals["converted"] = int(_num(_get(tp_rows[goal], "customers")) or 0)
    transitions, left_out = _transitions(outputs.transitions, total)
    if left_out:
        notes.append(
            f"transitions: top {TOP_TRANSITIONS} edges by count shown, {left_out} smaller left out"
        )
    meta = SnapshotMeta(
        workspace=workspace,
        journey=spec.name,
        filters=filters,
        data_version=data_version,
        generated_at=generated_at or datetime.now(UTC).isoformat(timespec="seconds"),
        totals=totals,
        persona=persona,
        goal_touchpoint=goal,
        notes=notes,
    )
    return JourneySnapshot(
        meta=meta,
        stages=stages,
        touchpoints=touchpoints,
        emotion_curve=[
            EmotionPoint(key=t.id, label=t.name, stage=t.stage, emotion=t.emotion or Metric())
            for t in touchpoints
        ],
        pain_points=[
            PainPointView(origin="authored", **p.model_dump(exclude_none=True))
            for p in spec.pain_points
        ],
        detected_pain_points=_detected(outputs.detected_pain_points),
        opportunities=[OpportunityView(**o.model_dump()) for o in spec.opportunities],
        funnel=_funnel(outputs.funnel, spec),
        flows=_flows(outputs.flows),
        transitions=transitions,
    )


# ---------------------------------------------------------------- row helpers


def _num(value: Any) -> float | None:
    """A finite float, or None for missing/NaN/non-numbers (JSON has no NaN)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) or math.isinf(out) else out


def _int(value: Any) -> int:
    out = _num(value)
    return int(round(out)) if out is not None else 0


def _get(row: dict[str, Any] | None, canonical: str) -> Any:
    if row is None:
        return None
    return row.get(canonical)


def _rows_by_key(df: pd.DataFrame | None, key: str, frame: str) -> dict[str, dict[str, Any]]:
    """Rows of an engine frame keyed by id, with canonical column names."""
    if df is None or not len(df):
        return {}
    wanted = (*_COUNT_METRICS, *_RATE_METRICS, "share", "channel_mix", "events")
    cols = {c: column(df, c, frame, required=False) for c in wanted if has_column(df, c)}
    keys = column(df, key, frame)
    raw = df.to_dict("records")
    out: dict[str, dict[str, Any]] = {}
    for i, k in enumerate(keys):
        if k is None or (isinstance(k, float) and math.isnan(k)):
            continue  # unmapped events: counted in totals by the engine, not a map cell
        row = {c: s.iloc[i] for c, s in cols.items()}
        row["_raw"] = raw[i]
        out[str(k)] = row
    return out


def _row_metrics(row: dict[str, Any] | None, total: int | None) -> dict[str, Metric]:
    if row is None:
        return {"customers": Metric(value=0.0, n=total or 0)}
    customers = _int(row.get("customers"))
    metrics = {c: Metric(value=_num(row.get(c)), n=total or 0) for c in _COUNT_METRICS if c in row}
    share = _num(row.get("share"))
    if share is None and total:
        share = customers / total
    metrics["reach"] = Metric(value=share, n=total or 0)
    for c in _RATE_METRICS:
        if c in row:
            metrics[c] = Metric(value=_num(row.get(c)), n=customers)
    return metrics


def _mix(row: dict[str, Any] | None) -> dict[str, Metric]:
    """Channel shares; the engine computes them over the item's events, so n = events
    (customers when the engine gives no event count)."""
    if row is None:
        return {}
    n = _int(row.get("events")) if row.get("events") is not None else _int(row.get("customers"))
    mix = channel_mix_of(row.get("channel_mix"), row["_raw"])
    return {ch: Metric(value=_num(v), n=n) for ch, v in sorted(mix.items())}


def _emotions(df: pd.DataFrame | None, key: str) -> dict[str, Metric]:
    if df is None or not len(df):
        return {}
    frame = f"emotions(by={key!r})"
    keys = column(df, key, frame)
    n = column(df, "n", frame)
    mean = column(df, "mean", frame)
    lo = column(df, "ci_low", frame, required=False)
    hi = column(df, "ci_high", frame, required=False)
    return {
        str(k): Metric(value=_num(m), n=_int(c), ci_low=_num(a), ci_high=_num(b))
        for k, c, m, a, b in zip(keys, n, mean, lo, hi, strict=True)
        if k is not None and not (isinstance(k, float) and math.isnan(k))
    }


def _scores(df: pd.DataFrame | None) -> dict[str, dict[str, Metric]]:
    """Touchpoint -> {nps|csat|ces: Metric}, from a long (kind column) or wide frame."""
    if df is None or not len(df):
        return {}
    frame = "scores(by='touchpoint')"
    keys = column(df, "touchpoint", frame)
    out: dict[str, dict[str, Metric]] = {}
    if has_column(df, "kind"):
        kinds = column(df, "kind", frame)
        val = column(df, "score", frame)
        n = column(df, "n", frame)
        lo = column(df, "ci_low", frame, required=False)
        hi = column(df, "ci_high", frame, required=False)
        for k, kind, v, c, a, b in zip(keys, kinds, val, n, lo, hi, strict=True):
            out.setdefault(str(k), {})[str(kind)] = Metric(
                value=_num(v), n=_int(c), ci_low=_num(a), ci_high=_num(b)
            )
        return out
    for i, k in enumerate(keys):
        row = df.iloc[i]
        for kind in ("nps", "csat", "ces"):
            if kind in df.columns:
                out.setdefault(str(k), {})[kind] = Metric(
                    value=_num(row[kind]),
                    n=_int(row.get(f"{kind}_n")),
                    ci_low=_num(row.get(f"{kind}_ci_low")),
                    ci_high=_num(row.get(f"{kind}_ci_high")),
                )
    return out


def _kpi(kpi: Any, card: TouchpointView, total: int | None) -> KpiResult:
    metric = kpi.metric
    if metric in ("csat", "nps", "ces"):
        actual = card.scores.get(metric, Metric())
    elif metric == "emotion":
        actual = card.emotion or Metric()
    elif metric == "reach":
        key = "reach" if kpi.target <= 1 else "customers"
        actual = card.metrics.get(key, Metric(n=total or 0))
    else:
        actual = card.metrics.get(_KPI_TO_METRIC[metric], Metric())
    if actual.value is None or actual.n <= 0:
        status = "unknown"
    elif kpi.direction == "above":
        status = "met" if actual.value >= kpi.target else "not_met"
    else:
        status = "met" if actual.value <= kpi.target else "not_met"
    return KpiResult(
        metric=metric, target=kpi.target, direction=kpi.direction, actual=actual, status=status
    )


def _health(card: TouchpointView) -> str:
    statuses = {k.status for k in card.kpis}
    if "not_met" in statuses:
        return "poor"
    if "met" in statuses:
        return "good"
    emo = card.emotion
    if emo is not None and emo.value is not None and emo.n > 0:
        if emo.value >= 0.5:
            return "good"
        return "poor" if emo.value <= -0.5 else "mixed"
    return "unknown"


# ---------------------------------------------------------------- journey-level frames


def _funnel(df: pd.DataFrame | None, spec: Any) -> list[FunnelStep]:
    """Funnel steps; drop-off (count and share of the previous step) is derived from the
    customers per step, so it does not depend on which of the two the engine reports."""
    if df is None or not len(df):
        return []
    frame = "funnel()"
    names = {t.id: t.name for t in spec.touchpoints} | {s.id: s.name for s in spec.stages}
    step = column(df, "step", frame)
    name = column(df, "name", frame, required=False)
    cust = [_int(v) for v in column(df, "customers", frame)]
    conv = column(df, "conversion", frame, required=False)
    prev = column(df, "conversion_previous", frame, required=False)
    ttc = column(df, "median_time_to_convert_s", frame, required=False)
    first = cust[0] if cust else 0
    steps = []
    for i in range(len(df)):
        raw_step = step.iloc[i]
        numeric = _num(raw_step) is not None and not isinstance(raw_step, str)
        # the step's id: its name column, else a step column that holds ids, not numbers
        key = str(name.iloc[i]) if name.iloc[i] is not None else str(raw_step)
        before = cust[i - 1] if i else first
        dropped = before - cust[i]
        steps.append(
            FunnelStep(
                step=int(raw_step) if numeric else i + 1,
                key=key,
                name=names.get(key, key),
                customers=Metric(value=float(cust[i]), n=first),
                conversion=Metric(value=_num(conv.iloc[i]), n=first),
                conversion_previous=Metric(value=_num(prev.iloc[i]), n=before),
                dropped=Metric(value=float(dropped), n=before),
                dropoff=Metric(value=dropped / before if before else None, n=before),
                median_time_to_convert_s=Metric(value=_num(ttc.iloc[i]), n=cust[i]),
            )
        )
    return steps


def _flows(df: pd.DataFrame | None) -> list[FlowEdge]:
    if df is None or not len(df):
        return []
    frame = "flows()"
    src = column(df, "source", frame).astype(str)
    dst = column(df, "target", frame).astype(str)
    val = [_int(v) for v in column(df, "value", frame)]
    if has_column(df, "step"):
        step = [_int(v) for v in column(df, "step", frame)]
    else:
        step = _layers(list(src), list(dst))
    out_of: dict[tuple[int, str], int] = {}
    for s, a, v in zip(step, src, val, strict=True):
        out_of[(s, a)] = out_of.get((s, a), 0) + v
    return [
        FlowEdge(step=s, source=a, target=b, customers=Metric(value=float(v), n=out_of[(s, a)]))
        for s, a, b, v in zip(step, src, dst, val, strict=True)
    ]


def _layers(sources: list[str], targets: list[str]) -> list[int]:
    """Step of each edge when the engine gives none: breadth-first depth of its source."""
    depth: dict[str, int] = {}
    roots = [s for s in dict.fromkeys(sources) if s not in set(targets)] or sources[:1]
    frontier = list(roots)
    for r in roots:
        depth[r] = 0
    while frontier:
        nxt = []
        for node in frontier:
            for a, b in zip(sources, targets, strict=True):
                if a == node and b not in depth:
                    depth[b] = depth[a] + 1
                    nxt.append(b)
        frontier = nxt
    return [depth.get(a, 0) for a in sources]


def _transitions(df: pd.DataFrame | None, total: int | None) -> tuple[list[TransitionEdge], int]:
    if df is None or not len(df):
        return [], 0
    frame = "transitions()"
    src = column(df, "source", frame).astype(str)
    dst = column(df, "target", frame).astype(str)
    cnt = [_int(v) for v in column(df, "count", frame)]
    cust = column(df, "customers", frame, required=False)
    med = column(df, "median_s", frame, required=False)
    p90 = column(df, "p90_s", frame, required=False)
    out_total: dict[str, int] = {}
    for a, c in zip(src, cnt, strict=True):
        out_total[a] = out_total.get(a, 0) + c
    edges = [
        TransitionEdge(
            source=a,
            target=b,
            count=Metric(value=float(c), n=out_total[a]),
            customers=Metric(value=_num(u), n=total or 0),
            median_s=Metric(value=_num(m), n=c),
            p90_s=Metric(value=_num(p), n=c),
        )
        for a, b, c, u, m, p in zip(src, dst, cnt, cust, med, p90, strict=True)
    ]
    edges.sort(key=lambda e: (-(e.count.value or 0), e.source, e.target))
    return edges[:TOP_TRANSITIONS], max(0, len(edges) - TOP_TRANSITIONS)


def _detected(df: pd.DataFrame | None) -> list[PainPointView]:
    if df is None or not len(df):
        return []
    keep = set(PainPointView.model_fields) - {"origin", "evidence"}
    return [
        PainPointView(
            origin="detected",
            evidence=_pain_evidence(r),
            **{k: v for k, v in r.items() if k in keep and _present(v)},
        )
        for r in df.to_dict("records")
    ]


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and pd.isna(value))


def _pain_evidence(r: dict[str, Any]) -> dict[str, Metric]:
    """The numbers behind a detected pain point (journeymap.insights columns), if any."""
    out: dict[str, Metric] = {}
    if _present(r.get("observed")):
        out["observed"] = Metric(
            value=float(r["observed"]),
            n=int(r.get("n") or 0),
            ci_low=_num(r.get("ci_low")),
            ci_high=_num(r.get("ci_high")),
        )
    if _present(r.get("norm")):
        out["norm"] = Metric(value=float(r["norm"]), n=int(r.get("n_norm") or 0))
    if _present(r.get("impact")):
        out["impact"] = Metric(value=float(r["impact"]), n=int(r.get("customers_affected") or 0))
    if _present(r.get("q_value")):
        out["q_value"] = Metric(value=float(r["q_value"]), n=int(r.get("n") or 0))
    return out


def _filters_of(analysis: Any) -> dict[str, Any]:
    """The analysis's filters that are set (engine ``Filters`` dataclass or a mapping)."""
    raw = getattr(analysis, "filters", None)
    if raw is None:
        return {}
    if dataclasses.is_dataclass(raw):
        raw = {f.name: getattr(raw, f.name) for f in dataclasses.fields(raw)}
    defaults = {"level": "touchpoint", "sessions": False}
    return {
        k: (v[0] if isinstance(v, tuple) and len(v) == 1 else v)
        for k, v in dict(raw).items()
        if v not in (None, {}, ()) and defaults.get(k, object()) != v
    }


def _workspace_name(ws: Any) -> str:
    path = getattr(ws, "path", None)
    return getattr(path, "name", None) or str(path or "")


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
