"""NPS, CSAT and CES per group, with n, a 95% interval and a low-n flag.

Counts and moments are aggregated in the database (Ibis); the interval formulas then run
on the small aggregated table (:mod:`journeymap.voice.stats`). Metric definitions are in
:mod:`journeymap.voice.formulas`. Nothing is ignored silently: rows with a NULL score are
counted in ``missing``, scores outside their kind's scale (``[voice.scales]``, e.g. an
NPS of 11) in ``out_of_scale``; neither enters ``n`` or the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from journeymap.voice.formulas import DETRACTOR_MAX, PROMOTER_MIN, SCORED_KINDS, top2box_min
from journeymap.voice.groups import check_by, order_rows, with_persona, with_stage
from journeymap.voice.settings import voice_settings
from journeymap.voice.stats import mean_interval, nps_interval, wilson_interval

SCORE_COLUMNS = [
    "kind", "metric", "n", "value", "ci_low", "ci_high", "method", "low_n", "missing",
    "out_of_scale",
]  # fmt: skip


def score_table(
    feedback: ir.Table,
    *,
    by: str | None = None,
    kind: str | None = None,
    spec: Any | None = None,
    customers: ir.Table | None = None,
    settings: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """One row per (group, kind): NPS in points, CSAT mean or top-2-box (%), CES mean.

    ``by`` is ``"touchpoint"``, ``"stage"``, ``"persona"`` or None (overall); ``kind``
    limits to one of nps, csat, ces. ``low_n`` is True below ``[voice] min_n`` answers.
    """
    check_by(by)
    if kind is not None and kind not in SCORED_KINDS:
        raise ValueError(f"kind={kind!r}: expected one of {', '.join(SCORED_KINDS)} or None")
    vs = voice_settings(settings)
    kinds = [kind] if kind else list(SCORED_KINDS)
    fb = feedback.filter(feedback.kind.isin(kinds))
    if by == "stage":
        fb = with_stage(fb, spec)
    elif by == "persona":
        fb = with_persona(fb, customers)
    keys = [by, "kind"] if by else ["kind"]
    raw = fb.score.cast("float64")
    in_scale = ibis.cases(
        *[(fb.kind == k, raw.between(*vs.scale(k))) for k in kinds], else_=False
    ).fill_null(False)
    score = ibis.ifelse(in_scale, raw, ibis.null("float64"))
    answered = score.notnull()
    agg = (
        fb.group_by(keys)
        .aggregate(
            n=answered.sum(),
            missing=raw.isnull().sum(),
            out_of_scale=(raw.notnull() & ~in_scale).sum(),
            mean=score.mean(),
            sd=score.std(how="sample"),
            promoters=(score >= PROMOTER_MIN).sum(),
            detractors=(score <= DETRACTOR_MAX).sum(),
            top2=(score >= top2box_min(vs)).sum(),
        )
        .to_pandas()
    )
    rows = []
    for rec in agg.to_dict("records"):
        n = int(rec["n"] or 0)
        out = {k: rec[k] for k in keys}
        out.update(_metric(rec, n, vs.csat_mode))
        out.update(
            n=n,
            low_n=n < vs.min_n,
            missing=int(rec["missing"] or 0),
            out_of_scale=int(rec["out_of_scale"] or 0),
        )
        rows.append(out)
    df = pd.DataFrame(rows, columns=[*([by] if by else []), *SCORE_COLUMNS])
    # kinds in the fixed order nps, csat, ces; order_rows keeps it within each group
    df = df.sort_values("kind", key=lambda k: k.map(SCORED_KINDS.index), kind="stable")
    return order_rows(df, by, spec)


def _metric(rec: dict, n: int, csat_mode: str) -> dict:
    """Value and interval of one aggregated row (see the formulas module)."""
    kind = rec["kind"]
    nan = float("nan")
    mean = float(rec["mean"]) if n else nan
    if kind == "nps":
        p, d = float(rec["promoters"] or 0), float(rec["detractors"] or 0)
        low, high = nps_interval(p, d, n)
        value = 100.0 * (p - d) / n if n else nan
        return dict(metric="nps", value=value, ci_low=low, ci_high=high,
                    method="trinomial variance, normal approximation")  # fmt: skip
    if kind == "csat" and csat_mode == "top2box":
        k = float(rec["top2"] or 0)
        low, high = wilson_interval(k, n)
        return dict(metric="csat_top2box", value=100.0 * k / n if n else nan,
                    ci_low=100.0 * low, ci_high=100.0 * high, method="wilson")  # fmt: skip
    sd = float(rec["sd"]) if rec["sd"] is not None else nan
    low, high = mean_interval(mean, sd, n)
    return dict(metric=f"{kind}_mean", value=mean, ci_low=low, ci_high=high, method="student t")
