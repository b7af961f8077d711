"""Confidence intervals, as small pure functions on counts and moments.

All intervals are two-sided 95% (``z = 1.959963984540054``). Each function returns NaNs
rather than raising when there is too little data, so one empty group does not stop a
table of many groups.
"""

from __future__ import annotations

import math

Z95 = 1.959963984540054
NAN = float("nan")


def wilson_interval(successes: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion ``successes / n``.

    ``(p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)``. Chosen over the normal
    (Wald) interval because it stays inside [0, 1] and is honest at small n and at p near
    0 or 1, which is exactly where survey subgroups live. NaNs when n = 0.
    """
    if n <= 0:
        return (NAN, NAN)
    p = successes / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    denom = 1 + z2 / n
    return (max(0.0, (centre - half) / denom), min(1.0, (centre + half) / denom))


def mean_interval(mean: float, sd: float, n: float) -> tuple[float, float]:
    """Student-t interval for a mean: ``mean ± t(0.975, n-1) · sd / sqrt(n)``.

    ``sd`` is the sample standard deviation (ddof = 1). NaNs when n < 2, where no spread
    can be estimated.
    """
    if n < 2 or sd is None or math.isnan(sd):
        return (NAN, NAN)
    # scipy.stats.t.ppf(q, df) is special.stdtrit(df, q): the same float, without
    # importing scipy.stats (~1 s) on the snapshot's path
    from scipy import special

    half = float(special.stdtrit(n - 1, 0.975)) * sd / math.sqrt(n)
    return (mean - half, mean + half)


def nps_interval(promoters: float, detractors: float, n: float) -> tuple[float, float]:
    """95% interval for NPS (in points, -100..100) from promoter and detractor counts.

    Each answer is a trinomial draw scored +1 (promoter), 0 (passive) or -1 (detractor);
    NPS is the mean of that score. Its variance is
    ``Var = (p_p + p_d - (p_p - p_d)²) / n``, and the interval is the normal approximation
    ``NPS ± z·sqrt(Var)``, times 100 and clipped to [-100, 100]. NaNs when n = 0.
    """
    if n <= 0:
        return (NAN, NAN)
    pp, pd_ = promoters / n, detractors / n
    nps = pp - pd_
    half = Z95 * math.sqrt(max(0.0, (pp + pd_ - nps * nps) / n))
    return (max(-100.0, 100 * (nps - half)), min(100.0, 100 * (nps + half)))


def fisher_z_interval(r: float, n: float, *, spearman: bool = False) -> tuple[float, float]:
    """95% interval for a correlation through Fisher's z = atanh(r).

    Standard error ``1/sqrt(n-3)`` for Pearson (and point-biserial); for Spearman the
    Bonett-Wright correction ``sqrt(1.06/(n-3))``. NaNs when n <= 3 or r is NaN; an
    r of exactly ±1 gives the degenerate interval (r, r).
    """
    if n <= 3 or r is None or math.isnan(r):
        return (NAN, NAN)
    if abs(r) >= 1.0:
        return (float(r), float(r))
    se = math.sqrt((1.06 if spearman else 1.0) / (n - 3))
    z = math.atanh(r)
    return (math.tanh(z - Z95 * se), math.tanh(z + Z95 * se))
