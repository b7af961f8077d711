"""compare(): periods and segments against pandas / scipy computations on the raw tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from journeymap.insights.api import compare

from .oracle import Oracle

DATE = "2026-02-15"


def test_conversion_before_and_after_a_date(demo):
    row = compare(demo.analysis(), "conversion", before=DATE).iloc[0]
    ev = Oracle(demo).ev
    cut = pd.Timestamp(DATE, tz="UTC")
    goal = demo.spec.goal.touchpoint
    groups = []
    for part in (ev.loc[ev["ts"] < cut], ev.loc[ev["ts"] >= cut]):
        conv = part.groupby("customer_id")["touchpoint"].agg(lambda s: (s == goal).any())
        groups.append((int(conv.sum()), len(conv)))
    (xa, na), (xb, nb) = groups
    assert (row["n_a"], row["n_b"]) == (na, nb)
    assert row["value_a"] == pytest.approx(xa / na)
    assert row["value_b"] == pytest.approx(xb / nb)
    p = (xa + xb) / (na + nb)
    z = (xb / nb - xa / na) / math.sqrt(p * (1 - p) * (1 / na + 1 / nb))
    assert row["p_value"] == pytest.approx(2 * sps.norm.sf(abs(z)))
    assert row["ci_low"] < row["difference"] < row["ci_high"]
    assert "z-test" in row["test"]


def test_csat_between_two_personas_is_welch_on_the_raw_answers(demo):
    row = compare(
        demo.analysis(),
        "csat",
        segments=({"persona": "loyal_regular"}, {"persona": "bargain_hunter"}),
    ).iloc[0]
    fb = demo.to_pandas("feedback")
    cust = demo.to_pandas("customers")
    fb = fb.loc[fb["kind"] == "csat"]

    def ids(persona: str) -> set:  # a stitched customer may have several rows
        return set(cust.loc[cust["persona"] == persona, "customer_id"])

    a = fb.loc[fb["customer_id"].isin(ids("loyal_regular")), "score"].dropna()
    b = fb.loc[fb["customer_id"].isin(ids("bargain_hunter")), "score"].dropna()
    ref = sps.ttest_ind(b, a, equal_var=False)
    assert (row["n_a"], row["n_b"]) == (len(a), len(b))
    assert row["difference"] == pytest.approx(b.mean() - a.mean())
    assert row["p_value"] == pytest.approx(ref.pvalue)
    assert row["group_a"] == "persona=loyal_regular"


def test_nps_uses_the_bootstrap_and_time_to_convert_is_positive(demo):
    a = demo.analysis()
    nps = compare(a, "nps", before=DATE).iloc[0]
    assert "bootstrap" in nps["test"]
    assert nps["ci_low"] <= nps["difference"] <= nps["ci_high"]
    ttc = compare(a, "time_to_convert", before=DATE).iloc[0]
    assert ttc["value_a"] > 0 and ttc["n_a"] > 100 and "Welch" in ttc["test"]
    emo = compare(a, "emotion", segments=({"persona": "loyal_regular"}, {}))
    assert np.isfinite(emo.iloc[0]["p_value"])


def test_bad_requests_say_what_is_expected(demo):
    a = demo.analysis()
    with pytest.raises(ValueError, match="metric: expected one of conversion"):
        compare(a, "revenue", before=DATE)
    with pytest.raises(ValueError, match="exactly one of before"):
        compare(a, "conversion")
    with pytest.raises(ValueError, match="two dicts"):
        compare(a, "conversion", segments=({"persona": "x"},))
