"""The snapshot's fast pain-point arithmetic equals the plain computation it replaced.

The slow-step detector tests each step a -> b against every other move of its kind. It
ranks and sorts the moves once per kind (``_MovePool``: rank sums of all steps from one
sort, each step's sorted positions from a counting sort of the step ids); here each answer
is checked, as exact floats, against scipy's Mann-Whitney U and pandas' median / 90th
percentile on the norm built the plain way (the pool without the step's moves), on data
with many ties, with the pool's work done in one range and in many small ones
(``RANGE_EVENTS``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from journeymap.insights import pains
from journeymap.insights.pains import _MovePool


def _moves(seed: int, size: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    # whole seconds from a small range: many ties in both the gaps and their logs
    gap = rng.integers(0, 400, size).astype(float) * rng.choice([1.0, 60.0], size)
    return pd.DataFrame(
        {
            "step": rng.integers(0, 12, size),
            "cross": rng.random(size) < 0.4,
            "gap_s": gap,
            "gap_us": (gap * 1e6).astype(np.int64),
            "log_gap": np.log10(np.clip(gap, 1e-3, None)),
        }
    )


def _pool(moves: pd.DataFrame, kind: bool) -> _MovePool:
    same_kind = moves.loc[moves["cross"] == kind]
    gap_us = same_kind["gap_us"].to_numpy(dtype=np.int64, copy=True)  # (sorted in place)
    return _MovePool(gap_us, same_kind["step"].to_numpy().astype(np.int16), 12)


@pytest.mark.parametrize("range_events", [None, 7], ids=["one range", "ranges of 7"])
@pytest.mark.parametrize(("seed", "size"), [(1, 61), (2, 600), (3, 5000)])
def test_pool_equals_scipy_and_pandas_on_the_norm(
    seed: int, size: int, range_events: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if range_events:
        monkeypatch.setattr(pains, "RANGE_EVENTS", range_events)
    moves = _moves(seed, size)
    checked = 0
    for kind in (False, True):
        pool = _pool(moves, kind)
        same_kind = moves.loc[moves["cross"] == kind]
        assert pool.size == len(same_kind)
        for step, grp in same_kind.groupby("step"):
            norm = same_kind.drop(index=grp.index)
            if len(norm) < 2:
                continue
            expected_p = float(
                sps.mannwhitneyu(
                    grp["log_gap"].to_numpy(), norm["log_gap"].to_numpy(), alternative="greater"
                ).pvalue
            )
            assert pool.mann_whitney_greater(step) == expected_p
            assert np.array_equal(pool.gaps_of(step), np.sort(grp["gap_s"].to_numpy()))
            med0, p90 = pool.norm_median_p90(step)
            assert med0 == float(norm["gap_s"].median())
            assert p90 == float(norm["gap_s"].quantile(0.9))
            checked += 1
    assert checked >= 10


def test_pool_of_one_kind_without_moves_of_that_kind() -> None:
    moves = _moves(4, 50).assign(cross=False)
    pool = _pool(moves, True)
    assert pool.size == 0
    assert pool.mann_whitney_greater(0) == 1.0
