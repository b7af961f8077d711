"""Impact of a change: one metric in two periods (before / after a date) or two segments.

Each metric is compared at the unit it is measured on, with the test that suits it:

=============== ============================================ ===============================
metric          unit and value                               test, effect size
=============== ============================================ ===============================
conversion      customer: reached the goal (share)           two-proportion z, Cohen's h
time_to_convert converting customer: hours from the first    Welch t, Cohen's d
                event to the first goal event (mean)
csat            CSAT answer: score (mean)                    Welch t, Cohen's d
emotion         answer: emotion -2..+2 (mean, voice formula) Welch t, Cohen's d
nps             NPS answer: 9-10 promoter, 0-6 detractor     percentile bootstrap (2000
                (NPS points)                                 resamples), NPS point difference
=============== ============================================ ===============================

``difference`` is always B minus A (after minus before), with its 95% CI and p-value.
Periods use the engine's filters (``end`` exclusive, ``start`` inclusive), so an event
at exactly the date counts as "after".
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from journeymap.insights import stats
from journeymap.insights.frames import journey_frames

METRICS = ("conversion", "time_to_convert", "csat", "nps", "emotion")


def compare_groups(
    analysis: Any,
    metric: str,
    *,
    before: Any = None,
    segments: tuple[dict, dict] | None = None,
    labels: tuple[str, str] | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """One row comparing ``metric`` between two groups (see the module docstring)."""
    if metric not in METRICS:
        raise ValueError(f"metric: expected one of {', '.join(METRICS)}, got {metric!r}")
    if (before is None) == (segments is None):
        raise ValueError("give exactly one of before=DATE or segments=(filters_a, filters_b)")
    if before is not None:
        a = analysis.filtered(end=before)
        b = analysis.filtered(start=before)
        names = labels or (f"before {before}", f"from {before}")
    else:
        if len(segments) != 2 or not all(isinstance(s, dict) for s in segments):
            raise ValueError("segments: expected two dicts of filters, e.g. ({...}, {...})")
        a, b = analysis.filtered(**segments[0]), analysis.filtered(**segments[1])
        names = labels or (_label(segments[0]), _label(segments[1]))
    va, vb = _values(a, metric), _values(b, metric)
    row = _test(metric, va, vb)
    row.update(
        {
            "metric": metric,
            "group_a": names[0],
            "group_b": names[1],
            "n_a": int(len(va)),
            "n_b": int(len(vb)),
            "significant": bool(row["p_value"] < alpha),
        }
    )
    cols = ["metric", "group_a", "n_a", "value_a", "group_b", "n_b", "value_b", "difference",
            "ci_low", "ci_high", "effect_size", "effect_size_kind", "p_value", "significant",
            "test"]  # fmt: skip
    return pd.DataFrame([row])[cols]


def _label(filters: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in filters.items()) or "all"


def _values(analysis: Any, metric: str) -> np.ndarray:
    """The per-unit values of the metric in one group (see the table above)."""
    if metric in ("conversion", "time_to_convert"):
        f = journey_frames(analysis)
        if metric == "conversion":
            return f.customers["converted"].to_numpy(dtype=float)
        ev = f.events
        start = ev.groupby("jid")["ts_s"].min()
        goal = ev.loc[ev["touchpoint"] == f.goal].groupby("jid")["ts_s"].min()
        return ((goal - start.loc[goal.index]) / 3600.0).to_numpy(dtype=float)
    fb = analysis.feedback()
    if fb is None:
        return np.array([], dtype=float)
    if metric == "emotion":
        from journeymap.voice.formulas import emotion_expr
        from journeymap.voice.settings import voice_settings

        e = fb.select(e=emotion_expr(fb, voice_settings(analysis.settings))).to_pandas()["e"]
        return e.dropna().to_numpy(dtype=float)
    scores = fb.filter(fb.kind == metric).select("score").to_pandas()["score"]
    return scores.dropna().to_numpy(dtype=float)


def _test(metric: str, a: np.ndarray, b: np.ndarray) -> dict:
    if metric == "conversion":
        t = stats.two_proportion_test(b.sum(), len(b), a.sum(), len(a), "two-sided")
        h = (
            2 * math.asin(math.sqrt(t["p1"])) - 2 * math.asin(math.sqrt(t["p2"]))
            if len(a) and len(b)
            else math.nan
        )
        return {"value_a": t["p2"], "value_b": t["p1"], "difference": t["diff"],
                "ci_low": t["ci_low"], "ci_high": t["ci_high"], "effect_size": h,
                "effect_size_kind": "Cohen's h", "p_value": t["p_value"],
                "test": "two-proportion z-test, two-sided"}  # fmt: skip
    if metric == "nps":
        t = stats.bootstrap_nps_difference(b, a)
        return {"value_a": stats.nps_of(a), "value_b": stats.nps_of(b), "difference": t["diff"],
                "ci_low": t["ci_low"], "ci_high": t["ci_high"], "effect_size": t["diff"],
                "effect_size_kind": "NPS points", "p_value": t["p_value"],
                "test": "percentile bootstrap of the NPS difference (2000 resamples)"}  # fmt: skip
    t = stats.welch_test(b, a)
    return {"value_a": float(a.mean()) if len(a) else math.nan,
            "value_b": float(b.mean()) if len(b) else math.nan, "difference": t["diff"],
            "ci_low": t["ci_low"], "ci_high": t["ci_high"], "effect_size": t["effect_size"],
            "effect_size_kind": "Cohen's d", "p_value": t["p_value"],
            "test": "Welch t-test, two-sided"}  # fmt: skip
