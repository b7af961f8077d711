"""The statistics helpers against textbook formulas and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from journeymap.insights import stats


def test_two_proportion_z_matches_the_textbook_formula():
    t = stats.two_proportion_test(30, 100, 20, 100, "greater")
    pooled = 50 / 200
    z = 0.1 / math.sqrt(pooled * (1 - pooled) * (2 / 100))
    assert t["z"] == pytest.approx(z)
    assert t["p_value"] == pytest.approx(1 - sps.norm.cdf(z))
    se = math.sqrt(0.3 * 0.7 / 100 + 0.2 * 0.8 / 100)
    assert (t["ci_low"], t["ci_high"]) == pytest.approx(
        (0.1 - 1.96 * se, 0.1 + 1.96 * se), rel=1e-3
    )
    two = stats.two_proportion_test(30, 100, 20, 100, "two-sided")
    assert two["p_value"] == pytest.approx(2 * t["p_value"])
    with pytest.raises(ValueError, match="alternative"):
        stats.two_proportion_test(1, 2, 1, 2, "sideways")


def test_benjamini_hochberg_by_hand():
    q = stats.benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.005]))
    # sorted 0.005 0.01 0.03 0.04 -> x4/rank: 0.02 0.02 0.04 0.04 (then running minimum)
    assert q == pytest.approx([0.02, 0.04, 0.04, 0.02])


def test_welch_matches_scipy():
    rng = np.random.default_rng(1)
    a, b = rng.normal(1.0, 1.0, 80), rng.normal(0.6, 2.0, 50)
    t = stats.welch_test(a, b)
    ref = sps.ttest_ind(a, b, equal_var=False)
    assert t["t"] == pytest.approx(ref.statistic)
    assert t["p_value"] == pytest.approx(ref.pvalue)
    assert t["ci_low"] < a.mean() - b.mean() < t["ci_high"]


def test_nps_and_bootstrap():
    a = np.array([10] * 50 + [8] * 30 + [3] * 20, dtype=float)  # NPS 30
    b = np.array([10] * 30 + [8] * 30 + [3] * 40, dtype=float)  # NPS -10
    assert stats.nps_of(a) == pytest.approx(30)
    t = stats.bootstrap_nps_difference(a, b)
    assert t["diff"] == pytest.approx(40)
    assert t["ci_low"] < 40 < t["ci_high"]
    assert t["ci_low"] > 0 and t["p_value"] < 0.01
    same = stats.bootstrap_nps_difference(a, a)
    assert same["p_value"] > 0.5


def test_confidence_levels():
    assert [stats.confidence_level(n) for n in (10, 60, 400)] == ["low", "medium", "high"]
