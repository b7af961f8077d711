"""The one place that knows the column names of the engine's and voice's frames.

The engine (``Analysis``) and voice frames are written by other areas and their column
names may still change; every other module of the snapshot reads the *canonical* names
defined here. A rename upstream costs one edit: add the new name to :data:`ALIASES`.
Unknown extra columns are kept (they are ignored downstream, never an error); a missing
required column raises :class:`EngineOutputError` naming the frame, the column and the
columns that were found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

# canonical name -> accepted names in the engine / voice frames, first match wins
ALIASES: dict[str, tuple[str, ...]] = {
    "stage": ("stage", "stage_id"),
    "touchpoint": ("touchpoint", "touchpoint_id"),
    "key": ("key", "id", "name", "step_name"),
    "events": ("events", "n_events"),
    "customers": ("customers", "reach", "customers_reached", "n_customers", "reached"),
    "share": ("share", "reach_share", "share_of_customers", "reach_rate"),
    "conversion": ("conversion", "conversion_rate", "conversion_to_goal", "goal_conversion"),
    "exit_rate": ("exit_rate", "exits_rate", "dropoff", "drop_off", "dropoff_rate"),
    "repeat_rate": ("repeat_rate", "repeats_rate"),
    "median_time_to_next_s": (
        "median_time_to_next_s",
        "median_time_to_next_stage_s",
        "median_time_to_next_touchpoint_s",
        "median_next_s",
        "median_s",
    ),
    "first_touch": ("first_touch", "first_touches", "first_touch_count"),
    "last_touch": ("last_touch", "last_touches", "last_touch_count"),
    "channel_mix": ("channel_mix", "channels"),
    "step": ("step", "source_step", "step_index", "position"),
    "name": ("name", "step_name", "touchpoint", "key"),
    "conversion_previous": ("conversion_previous", "conversion_from_previous"),
    "dropoff": ("dropoff", "drop_off", "dropoff_rate"),
    "median_time_to_convert_s": ("median_time_to_convert_s", "median_time_to_convert"),
    "source": ("source", "from", "src"),
    "target": ("target", "to", "dst"),
    "value": ("value", "customers", "count", "n"),
    "count": ("count", "transitions", "n_transitions", "edges"),
    "median_s": ("median_s", "median_time_s"),
    "p90_s": ("p90_s", "p90_time_s"),
    "n": ("n", "responses", "n_responses", "count"),
    "mean": ("mean", "emotion", "mean_emotion", "value"),
    "ci_low": ("ci_low", "lower", "ci_lower", "low"),
    "ci_high": ("ci_high", "upper", "ci_upper", "high"),
    "kind": ("kind", "metric", "score_kind"),
    "score": ("score", "value", "mean"),
    "total": ("total", "customers_total", "n_total"),
}


class EngineOutputError(ValueError):
    """An engine or voice frame lacks a column the snapshot needs."""


def column(df: pd.DataFrame, canonical: str, frame: str, *, required: bool = True) -> pd.Series:
    """The column of ``df`` known as ``canonical``, under whichever alias it carries.

    Missing and required: :class:`EngineOutputError` naming ``frame`` (e.g.
    ``stage_metrics()``), the canonical name, the accepted aliases and the columns found.
    Missing and optional: a column of ``None`` so callers treat it as "no data".
    """
    for name in ALIASES.get(canonical, (canonical,)):
        if name in df.columns:
            return df[name]
    if required:
        accepted = ", ".join(ALIASES.get(canonical, (canonical,)))
        found = ", ".join(map(str, df.columns)) or "none"
        raise EngineOutputError(
            f"{frame}: no column for {canonical!r} (accepted: {accepted}; found: {found})"
        )
    return pd.Series([None] * len(df), index=df.index, dtype=object)


def has_column(df: pd.DataFrame, canonical: str) -> bool:
    """Whether ``df`` carries ``canonical`` under any accepted name."""
    return any(name in df.columns for name in ALIASES.get(canonical, (canonical,)))


def channel_mix_of(row_value: Any, row: Mapping[str, Any]) -> dict[str, float]:
    """Channel -> share from whichever shape the engine used.

    Accepted: a mapping ``{channel: share}``, a list of ``{channel, share|customers}``
    records (customer counts are turned into shares), or wide columns ``channel_<name>``
    on the same row.
    """
    if isinstance(row_value, Mapping):
        return {str(k): float(v) for k, v in row_value.items() if _is_number(v)}
    if isinstance(row_value, Sequence) and not isinstance(row_value, str | bytes):
        records = [r for r in row_value if isinstance(r, Mapping) and "channel" in r]
        if records:
            if all("share" in r for r in records):
                return {str(r["channel"]): float(r["share"]) for r in records}
            counts = {
                str(r["channel"]): float(r.get("customers", r.get("count", 0))) for r in records
            }
            total = sum(counts.values())
            return {k: (v / total if total else 0.0) for k, v in counts.items()}
    if hasattr(row_value, "tolist"):
        return channel_mix_of(row_value.tolist(), row)
    wide = {
        str(k)[len("channel_") :]: float(v)
        for k, v in row.items()
        if str(k).startswith("channel_") and str(k) != "channel_mix" and _is_number(v)
    }
    return wide


def _is_number(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return False
    try:
        return not pd.isna(float(value))
    except (TypeError, ValueError):
        return False


@dataclass
class EngineOutputs:
    """The engine's and voice's frames for one set of filters, as returned by them."""

    stage_metrics: pd.DataFrame
    touchpoint_metrics: pd.DataFrame
    funnel: pd.DataFrame | None = None
    flows: pd.DataFrame | None = None
    transitions: pd.DataFrame | None = None
    emotions_by_touchpoint: pd.DataFrame | None = None
    emotions_by_stage: pd.DataFrame | None = None
    scores: pd.DataFrame | None = None
    detected_pain_points: pd.DataFrame | None = None
    customers_total: int | None = None
    notes: list[str] = field(default_factory=list)


def collect_outputs(
    analysis: Any, *, funnel_steps: Sequence[str] | None = None, flow_steps: int = 5
) -> EngineOutputs:
    """Ask an ``Analysis`` for every frame the snapshot needs.

    Voice frames (emotions, scores) come from ``analysis.emotions``/``analysis.scores``
    when the engine offers them, else from ``journeymap.voice.api``; when neither exists
    the snapshot says so in ``meta.notes`` rather than dropping the lane silently.
    """
    from journeymap.engine.journeys import sharing  # (here: the engine is heavy)

    # Stage metrics first and on their own: their stage-level copy of the mapped events
    # is let go before the touchpoint-level questions. Those all read one mapped copy and
    # one set of (customer, touchpoint) pairs, built once inside ``sharing`` (at 10M
    # events a snapshot held three copies and two sets of pairs, 1 GB, before this).
    stage = analysis.stage_metrics()
    with sharing():
        return _collect(analysis, stage, funnel_steps, flow_steps)


def _collect(
    analysis: Any, stage: pd.DataFrame, funnel_steps: Sequence[str] | None, flow_steps: int
) -> EngineOutputs:
    tps = analysis.touchpoint_metrics()
    out = EngineOutputs(stage_metrics=stage, touchpoint_metrics=tps)
    out.customers_total = _customers_total(analysis, tps)
    steps = list(funnel_steps) if funnel_steps is not None else None
    if steps is None:
        steps = main_touchpoints(analysis.spec, tps)
    if len(steps) >= 2:
        out.funnel = analysis.funnel(steps)
        out.flows = analysis.flows(start=steps[0], steps=flow_steps)
    else:
        out.notes.append("funnel and flows: fewer than two touchpoints with customers")
    out.transitions = analysis.transitions()
    out.emotions_by_touchpoint = _voice(analysis, "emotions", out.notes, by="touchpoint")
    out.emotions_by_stage = _voice(analysis, "emotions", out.notes, by="stage")
    out.scores = _voice(analysis, "scores", out.notes, by="touchpoint")
    out.detected_pain_points = _detected_pains(analysis, out.notes)
    return out


#: How many detected pain points the map shows beside the authored ones.
DETECTED_TOP = 5


def _detected_pains(analysis: Any, notes: list[str]) -> pd.DataFrame | None:
    """The top detected pain points (journeymap.insights), or a note saying why none."""
    try:
        from journeymap.insights.api import pain_points
    except ImportError:
        notes.append("detected pain points: journeymap.insights is not available")
        return None
    try:
        return pain_points(analysis, top=DETECTED_TOP)
    except (AttributeError, KeyError, ValueError) as exc:
        notes.append(f"detected pain points: not computed ({type(exc).__name__}: {exc})")
        return None


def _voice(analysis: Any, name: str, notes: list[str], **kwargs: Any) -> pd.DataFrame | None:
    method = getattr(analysis, name, None)
    if method is None:
        try:
            from journeymap.voice import api as voice_api  # type: ignore[attr-defined]
        except ImportError:
            notes.append(f"{name}: voice analyses are not available (journeymap.voice.api)")
            return None
        fn = getattr(voice_api, name, None)
        if fn is None:
            notes.append(f"{name}: journeymap.voice.api has no {name}()")
            return None
        return fn(analysis, **kwargs)
    return method(**kwargs)


def _customers_total(analysis: Any, tps: pd.DataFrame) -> int | None:
    for attr in ("customers_total", "n_customers", "total_customers"):
        value = getattr(analysis, attr, None)
        value = value() if callable(value) else value
        if _is_number(value):
            return int(value)
    if has_column(tps, "total"):
        totals = column(tps, "total", "touchpoint_metrics()").dropna()
        if len(totals):
            return int(totals.iloc[0])
    if has_column(tps, "share") and has_column(tps, "customers"):
        share = pd.to_numeric(column(tps, "share", "touchpoint_metrics()"), errors="coerce")
        cust = pd.to_numeric(column(tps, "customers", "touchpoint_metrics()"), errors="coerce")
        ok = (share > 0) & cust.notna()
        if ok.any():
            return int(round((cust[ok] / share[ok]).median()))
    return None


def main_touchpoints(spec: Any, touchpoint_metrics: pd.DataFrame) -> list[str]:
    """One touchpoint per stage up to the goal's, the most reached, in journey order; the
    goal ends the list.

    These are the funnel's steps when the caller names none: a funnel over every
    touchpoint would be as long as the journey, one over stages would mix alternatives.
    """
    frame = "touchpoint_metrics()"
    reach: dict[str, float] = {}
    if len(touchpoint_metrics):
        keys = column(touchpoint_metrics, "touchpoint", frame)
        cust = pd.to_numeric(column(touchpoint_metrics, "customers", frame), errors="coerce")
        reach = {str(k): float(v) for k, v in zip(keys, cust.fillna(0), strict=True)}
    goal = getattr(getattr(spec, "goal", None), "touchpoint", None)
    stages = list(spec.stages)
    goal_stage = next((t.stage for t in spec.touchpoints if t.id == goal), None)
    if goal_stage is not None:  # stages after the goal's are not on the way to it
        stages = stages[: [s.id for s in stages].index(goal_stage) + 1]
    steps: list[str] = []
    for stage in stages:
        tps = [t.id for t in spec.touchpoints if t.stage == stage.id and t.id != goal]
        tps = [t for t in tps if reach.get(t, 0) > 0]
        if tps:
            steps.append(max(tps, key=lambda t: reach[t]))
    if goal and reach.get(goal, 0) > 0:
        steps.append(goal)
    return steps
