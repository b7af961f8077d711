"""The significance tests and effect sizes insights rely on, written once.

Every finding states which test it used, so the functions here return plain numbers and
the caller names the test in words:

- two-proportion z-test (pooled standard error for the p-value, unpooled for the 95% CI
  of the difference), one- or two-sided;
- Welch's t-test for a difference of means (unequal variances), with Cohen's d;
- Mann-Whitney U (one-sided) for "slower than the norm" on skewed durations;
- a percentile bootstrap for NPS, whose sampling distribution is not normal in small n;
- Benjamini-Hochberg false-discovery-rate correction across all candidates tested.
"""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054


def two_proportion_test(
    x1: float, n1: float, x2: float, n2: float, alternative: str = "greater"
) -> dict[str, float]:
    """Compare x1/n1 with x2/n2: difference, its 95% CI, z and p-value.

    ``alternative``: "greater" (p1 > p2), "less" or "two-sided".
    """
    if n1 <= 0 or n2 <= 0:
        return {"p1": math.nan, "p2": math.nan, "diff": math.nan, "ci_low": math.nan,
                "ci_high": math.nan, "z": math.nan, "p_value": 1.0}  # fmt: skip
    p1, p2 = x1 / n1, x2 / n2
    pooled = (x1 + x2) / (n1 + n2)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    diff = p1 - p2
    z = diff / se0 if se0 > 0 else (0.0 if diff == 0 else math.copysign(math.inf, diff))
    p = _p_from_z(z, alternative)
    return {
        "p1": p1,
        "p2": p2,
        "diff": diff,
        "ci_low": diff - Z95 * se,
        "ci_high": diff + Z95 * se,
        "z": z,
        "p_value": p,
    }


def _p_from_z(z: float, alternative: str) -> float:
    # scipy.stats.norm.cdf(z) is special.ndtr(z) and norm.sf(z) is ndtr(-z): the same
    # floats, without importing scipy.stats (~1 s) on the snapshot's path
    from scipy import special

    if alternative == "greater":
        return float(special.ndtr(-z))
    if alternative == "less":
        return float(special.ndtr(z))
    if alternative == "two-sided":
        return float(2 * special.ndtr(-abs(z)))
    raise ValueError(f"alternative must be greater, less or two-sided, got {alternative!r}")


def welch_test(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Mean of ``a`` minus mean of ``b``: Welch t, two-sided p, 95% CI and Cohen's d."""
    from scipy import stats as sps  # here: scipy.stats costs ~1 s to import

    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) < 2 or len(b) < 2:
        return {"diff": math.nan, "ci_low": math.nan, "ci_high": math.nan, "t": math.nan,
                "p_value": 1.0, "effect_size": math.nan}  # fmt: skip
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    diff = float(a.mean() - b.mean())
    se = math.sqrt(va + vb)
    if se == 0:
        t, df, p = (0.0 if diff == 0 else math.inf), 1.0, (1.0 if diff == 0 else 0.0)
    else:
        t = diff / se
        df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
        p = float(2 * sps.t.sf(abs(t), df))
    crit = float(sps.t.ppf(0.975, df)) if se > 0 else 0.0
    sd = math.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1))
                   / (len(a) + len(b) - 2))  # fmt: skip
    return {
        "diff": diff,
        "ci_low": diff - crit * se,
        "ci_high": diff + crit * se,
        "t": float(t),
        "p_value": p,
        "effect_size": diff / sd if sd > 0 else math.nan,
    }


def mann_whitney_greater(a: np.ndarray, b: np.ndarray) -> float:
    """One-sided p-value that values in ``a`` tend to exceed those in ``b``."""
    from scipy import stats as sps  # here: scipy.stats costs ~1 s to import

    if len(a) == 0 or len(b) == 0:
        return 1.0
    return float(sps.mannwhitneyu(a, b, alternative="greater").pvalue)


def nps_of(scores: np.ndarray) -> float:
    """NPS in points: % promoters (9-10) minus % detractors (0-6)."""
    s = np.asarray(scores, dtype=float)
    if len(s) == 0:
        return math.nan
    return float(100 * ((s >= 9).mean() - (s <= 6).mean()))


def bootstrap_nps_difference(
    a: np.ndarray, b: np.ndarray, n_boot: int = 2000, seed: int = 0
) -> dict[str, float]:
    """NPS(a) - NPS(b) with a percentile-bootstrap 95% CI and a two-sided bootstrap p.

    The p-value is twice the smaller share of resampled differences on either side of 0
    (the percentile-interval inversion), floored at 1 / n_boot.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        return {"diff": math.nan, "ci_low": math.nan, "ci_high": math.nan, "p_value": 1.0}
    rng = np.random.default_rng(seed)
    # Resample the per-answer contributions (+1 promoter, -1 detractor, 0 passive).
    ca = np.where(a >= 9, 1.0, np.where(a <= 6, -1.0, 0.0))
    cb = np.where(b >= 9, 1.0, np.where(b <= 6, -1.0, 0.0))
    ra = ca[rng.integers(0, len(ca), (n_boot, len(ca)))].mean(axis=1)
    rb = cb[rng.integers(0, len(cb), (n_boot, len(cb)))].mean(axis=1)
    d = 100 * (ra - rb)
    p = 2 * min((d <= 0).mean(), (d >= 0).mean())
    return {
        "diff": 100 * (ca.mean() - cb.mean()),
        "ci_low": float(np.percentile(d, 2.5)),
        "ci_high": float(np.percentile(d, 97.5)),
        "p_value": float(min(1.0, max(p, 1.0 / n_boot))),
    }


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """BH-adjusted p-values (q-values), same order as the input."""
    p = np.asarray(p_values, dtype=float)
    n = len(p)
    if n == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * n / np.arange(1, n + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(q, 1.0)
    return out


def confidence_level(n_smaller: float) -> str:
    """Confidence from the size of the smaller group compared: high / medium / low.

    At n = 300 a proportion's 95% margin is at most ±5.7 points; at n = 50, ±14 points.
    """
    if n_smaller >= 300:
        return "high"
    if n_smaller >= 50:
        return "medium"
    return "low"
