"""The emotion curve: mean emotion (-2..+2) per stage or touchpoint, with n and 95% CI.

Per-response emotion is :func:`journeymap.voice.formulas.emotion_expr`; here it is
averaged per group in the database, with a Student-t interval clipped to [-2, 2]. Every
stage (or touchpoint) of the spec gets a row, in spec order, even with no feedback
(n = 0, NaN values), so a curve never silently skips a step; unattached feedback is a
final row with a NULL stage/touchpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis.expr.types as ir
import pandas as pd

from journeymap.voice.formulas import emotion_expr
from journeymap.voice.groups import check_by, order_rows, with_persona, with_stage
from journeymap.voice.settings import voice_settings
from journeymap.voice.spec_view import stage_of, stage_order, touchpoint_ids
from journeymap.voice.stats import mean_interval


def with_emotion(feedback: ir.Table, settings: Mapping[str, Any] | None) -> ir.Table:
    """``feedback`` plus the per-response ``emotion`` column (NULL when neither score nor
    text exists)."""
    return feedback.mutate(emotion=emotion_expr(feedback, voice_settings(settings)))


def emotion_table(
    feedback: ir.Table,
    *,
    by: str = "stage",
    spec: Any | None = None,
    customers: ir.Table | None = None,
    persona: str | None = None,
    by_persona: bool = False,
    settings: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Columns: [persona], stage, [touchpoint], n, emotion, ci_low, ci_high, low_n.

    ``persona`` keeps only that persona's customers; ``by_persona`` gives one curve per
    persona.
    """
    check_by(by, ("stage", "touchpoint"))
    vs = voice_settings(settings)
    fb = with_stage(with_emotion(feedback, vs), spec)
    if persona is not None or by_persona:
        fb = with_persona(fb, customers)
        if persona is not None:
            fb = fb.filter(fb.persona == persona)
    fb = fb.filter(fb.emotion.notnull())
    keys = (["persona"] if by_persona else []) + (
        ["stage", "touchpoint"] if by == "touchpoint" else ["stage"]
    )
    agg = (
        fb.group_by(keys)
        .aggregate(n=fb.count(), emotion=fb.emotion.mean(), sd=fb.emotion.std(how="sample"))
        .to_pandas()
    )
    agg = _with_empty_groups(agg, keys, by, spec)
    lows, highs = [], []
    for rec in agg.itertuples(index=False):
        low, high = mean_interval(float(rec.emotion), float(rec.sd), int(rec.n))
        lows.append(max(-2.0, low) if low == low else low)
        highs.append(min(2.0, high) if high == high else high)
    agg = agg.assign(ci_low=lows, ci_high=highs, low_n=agg["n"] < vs.min_n).drop(columns="sd")
    agg["n"] = agg["n"].astype("int64")
    agg = order_rows(agg, by, spec)
    if by_persona:
        agg = agg.sort_values("persona", kind="stable", na_position="last").reset_index(drop=True)
    return agg[[*keys, "n", "emotion", "ci_low", "ci_high", "low_n"]]


def _with_empty_groups(agg: pd.DataFrame, keys: list[str], by: str, spec: Any) -> pd.DataFrame:
    """Add n = 0 rows for spec stages/touchpoints without any emotion value."""
    if by == "stage":
        wanted = [{"stage": s} for s in stage_order(spec)]
    else:
        stages = stage_of(spec)
        wanted = [{"stage": stages[t], "touchpoint": t} for t in touchpoint_ids(spec)]
    personas = agg["persona"].drop_duplicates().tolist() if "persona" in keys else [None]
    extra = []
    have = {tuple(r) for r in agg[keys].itertuples(index=False, name=None)}
    for p in personas:
        for w in wanted:
            row = ({"persona": p} if "persona" in keys else {}) | w
            if tuple(row[k] for k in keys) not in have:
                extra.append(row | {"n": 0, "emotion": float("nan"), "sd": float("nan")})
    if not extra:
        return agg
    return pd.concat([agg, pd.DataFrame(extra)], ignore_index=True)
