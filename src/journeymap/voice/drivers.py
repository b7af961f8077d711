"""Drivers: which touchpoints' experience goes with loyalty and conversion.

For each touchpoint T and each customer c with feedback attached to T:

- ``x`` = c's mean emotion (-2..+2, :mod:`journeymap.voice.formulas`) over that feedback,
  leaving out the answer used as c's overall NPS (else NPS would correlate with itself);
- (a) ``nps`` = c's overall NPS answer: the latest ``kind = nps`` score (ties by
  feedback_id); correlation = **Spearman** rank correlation of x and nps;
- (b) ``converted`` = c has an event at the spec's goal touchpoint; correlation =
  **point-biserial** (Pearson with a 0/1 variable) of x and converted.

Each r has n and a 95% Fisher-z interval (:func:`journeymap.voice.stats.fisher_z_interval`;
Bonett-Wright standard error for Spearman). ``importance`` is the mean of the available
r's, and touchpoints are ranked by it, those with at least ``[voice] min_n`` customers
first: the moments that matter are where a better experience goes most strongly with both
loyalty and conversion. Correlation, not cause.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from journeymap.voice.emotions import with_emotion
from journeymap.voice.groups import touchpoints_by_stage
from journeymap.voice.settings import voice_settings
from journeymap.voice.spec_view import goal_touchpoint, stage_of
from journeymap.voice.stats import fisher_z_interval

DRIVER_COLUMNS = [
    "touchpoint", "stage", "customers", "mean_emotion",
    "nps_n", "nps_r", "nps_ci_low", "nps_ci_high",
    "conversion_n", "conversion_r", "conversion_ci_low", "conversion_ci_high",
    "importance", "rank", "low_n",
]  # fmt: skip


def customer_experience(
    feedback: ir.Table,
    events: ir.Table | None,
    *,
    spec: Any | None,
    settings: Mapping[str, Any] | None,
) -> pd.DataFrame:
    """One row per (customer, touchpoint): x, the customer's overall nps, converted."""
    fb = with_emotion(feedback, settings)
    nps = fb.filter((fb.kind == "nps") & fb.score.notnull() & fb.customer_id.notnull())
    latest = ibis.row_number().over(
        group_by=nps.customer_id, order_by=[ibis.desc(nps.ts), ibis.desc(nps.feedback_id)]
    )
    nps = nps.mutate(_r=latest).filter(lambda t: t._r == 0)
    overall = nps.select(_n_customer=nps.customer_id, _n_id=nps.feedback_id, nps=nps.score)

    exp = fb.filter(fb.touchpoint.notnull() & fb.emotion.notnull() & fb.customer_id.notnull())
    exp = exp.anti_join(overall, exp.feedback_id == overall._n_id)
    exp = exp.group_by(["customer_id", "touchpoint"]).aggregate(x=exp.emotion.mean())
    exp = exp.left_join(overall, exp.customer_id == overall._n_customer).drop(
        "_n_customer", "_n_id"
    )
    goal = goal_touchpoint(spec)
    if goal is not None and events is not None:
        reached = events.filter(events.touchpoint == goal).select(_g_customer=events.customer_id)
        reached = reached.distinct().mutate(converted=ibis.literal(1.0))
        exp = exp.left_join(reached, exp.customer_id == reached._g_customer).drop("_g_customer")
        exp = exp.mutate(converted=exp.converted.fill_null(0.0))
    else:
        exp = exp.mutate(converted=ibis.null("float64"))
    return exp.to_pandas()


def driver_table(
    feedback: ir.Table,
    events: ir.Table | None,
    *,
    spec: Any | None = None,
    settings: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """One row per touchpoint with the two correlations, ranked by importance."""
    vs = voice_settings(settings)
    data = customer_experience(feedback, events, spec=spec, settings=settings)
    stages = stage_of(spec)
    rows = []
    for tp, part in data.groupby("touchpoint", sort=False):
        with_nps = part.dropna(subset=["x", "nps"])
        with_conv = part.dropna(subset=["x", "converted"])
        nps_r = _corr(with_nps["x"], with_nps["nps"], spearman=True)
        conv_r = _corr(with_conv["x"], with_conv["converted"], spearman=False)
        nps_ci = fisher_z_interval(nps_r, len(with_nps), spearman=True)
        conv_ci = fisher_z_interval(conv_r, len(with_conv))
        available = [r for r in (nps_r, conv_r) if not np.isnan(r)]
        rows.append(
            {
                "touchpoint": tp,
                "stage": stages.get(tp),
                "customers": len(part),
                "mean_emotion": float(part["x"].mean()),
                "nps_n": len(with_nps),
                "nps_r": nps_r,
                "nps_ci_low": nps_ci[0],
                "nps_ci_high": nps_ci[1],
                "conversion_n": len(with_conv),
                "conversion_r": conv_r,
                "conversion_ci_low": conv_ci[0],
                "conversion_ci_high": conv_ci[1],
                "importance": float(np.mean(available)) if available else float("nan"),
                "low_n": len(part) < vs.min_n,
            }
        )
    df = pd.DataFrame(rows, columns=[c for c in DRIVER_COLUMNS if c != "rank"])
    order = {t: i for i, t in enumerate(touchpoints_by_stage(spec))}
    df["_spec"] = df["touchpoint"].map(lambda t: order.get(t, len(order)))
    df = df.sort_values(
        ["low_n", "importance", "_spec"], ascending=[True, False, True], na_position="last"
    )
    df["rank"] = np.arange(1, len(df) + 1)
    return df.drop(columns="_spec")[DRIVER_COLUMNS].reset_index(drop=True)


def _corr(x: pd.Series, y: pd.Series, *, spearman: bool) -> float:
    """Spearman or Pearson r; NaN with fewer than 3 pairs or a constant side."""
    if len(x) < 3 or x.nunique() < 2 or y.nunique() < 2:
        return float("nan")
    from scipy import stats as scipy_stats  # here: scipy.stats costs ~1 s to import

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fn = scipy_stats.spearmanr if spearman else scipy_stats.pearsonr
        return float(fn(x.to_numpy(float), y.to_numpy(float))[0])
