"""Drivers recover a planted correlation, checked against scipy on a pandas table."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from journeymap.voice.drivers import driver_table

from .helpers import events_frame, feedback_frame, spec, warehouse

SPEC = spec({"aware": ["ad"], "buy": ["checkout", "confirm"]}, goal="confirm")


@pytest.fixture
def planted(tmp_path):
    rng = np.random.default_rng(11)
    n = 400
    checkout = rng.integers(1, 6, n).astype(float)  # drives NPS
    ad = rng.integers(1, 6, n).astype(float)  # unrelated to anything
    nps = np.clip(np.round(2 * checkout - 1 + rng.normal(0, 1.5, n)), 0, 10)
    converted = rng.random(n) < (ad - 0.5) / 5  # ad experience drives conversion
    fb, ev = [], []
    for i in range(n):
        c = f"c{i}"
        fb.append({"customer_id": c, "ts": "2024-02-01 10:00", "touchpoint": "checkout",
                   "kind": "csat", "score": checkout[i]})  # fmt: skip
        fb.append({"customer_id": c, "ts": "2024-02-01 09:00", "touchpoint": "ad",
                   "kind": "csat", "score": ad[i]})  # fmt: skip
        # an older NPS answer that must be ignored, then the overall (latest) one,
        # attached to checkout: it must not count as checkout experience
        fb.append({"customer_id": c, "ts": "2024-01-01", "kind": "nps", "score": 10 - nps[i]})
        fb.append({"customer_id": c, "ts": "2024-03-01", "touchpoint": "checkout",
                   "kind": "nps", "score": nps[i]})  # fmt: skip
        if converted[i]:
            ev.append({"customer_id": c, "ts": "2024-02-02", "touchpoint": "confirm"})
    ev.append({"customer_id": "nobody", "ts": "2024-02-02", "touchpoint": "ad"})
    con = warehouse(tmp_path, feedback=feedback_frame(fb), events=events_frame(ev))
    return con, checkout, ad, nps, converted


def test_planted_drivers(planted):
    con, checkout, ad, nps, converted = planted
    got = driver_table(con.table("feedback"), con.table("events"), spec=SPEC).set_index(
        "touchpoint"
    )
    # oracle: emotion of a csat answer is 2·(2(s-1)/4 - 1), a monotone map of s
    emo = lambda s: 2 * (2 * (s - 1) / 4 - 1)  # noqa: E731
    r_nps = stats.spearmanr(emo(checkout), nps).statistic
    r_conv = stats.pearsonr(emo(ad), converted.astype(float)).statistic
    row = got.loc["checkout"]
    assert row["nps_n"] == 400 and row["nps_r"] == pytest.approx(r_nps)
    assert row["nps_r"] > 0.6  # the planted effect is recovered
    se = math.sqrt(1.06 / (400 - 3))
    assert row["nps_ci_low"] == pytest.approx(math.tanh(math.atanh(r_nps) - 1.959964 * se))
    assert row["mean_emotion"] == pytest.approx(emo(checkout).mean())
    ad_row = got.loc["ad"]
    assert ad_row["conversion_r"] == pytest.approx(r_conv)
    assert ad_row["conversion_r"] > 0.3
    assert ad_row["conversion_ci_low"] < r_conv < ad_row["conversion_ci_high"]
    assert abs(ad_row["nps_r"]) < 0.15  # no planted link: near zero
    assert ad_row["nps_ci_low"] < 0 < ad_row["nps_ci_high"]
    # ranking: importance = mean of the two r's
    assert list(got.sort_values("rank").index[:2]) == (
        ["checkout", "ad"] if row["importance"] > ad_row["importance"] else ["ad", "checkout"]
    )
    assert row["importance"] == pytest.approx(np.nanmean([row["nps_r"], row["conversion_r"]]))
    assert set(got.index) == {"checkout", "ad"}


def test_no_goal_means_no_conversion_driver(planted):
    con, *_ = planted
    got = driver_table(
        con.table("feedback"), con.table("events"), spec=spec({"s": ["ad", "checkout"]})
    )
    assert got["conversion_r"].isna().all() and got["nps_r"].notna().all()
