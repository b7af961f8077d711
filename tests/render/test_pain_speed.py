"""The snapshot's fast pain-point arithmetic equals the plain computation it replaced.

The slow-step detector tests each step a -> b against every other move of its kind. It now
ranks and sorts the moves once per kind (``_MovePool``); here each answer is checked, as
exact floats, against scipy's Mann-Whitney U and pandas' median / 90th percentile on the
norm built the plain way (the pool without the step's moves), on data with many ties.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

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
            "log_gap": np.log10(np.clip(gap, 1e-3, None)),
        }
    )


@pytest.mark.parametrize(("seed", "size"), [(1, 61), (2, 600), (3, 5000)])
def test_pool_equals_scipy_and_pandas_on_the_norm(seed: int, size: int) -> None:
    moves = _moves(seed, size)
    checked = 0
    for kind in (False, True):
        pool = _MovePool(moves, kind)
        same_kind = moves.loc[moves["cross"] == kind]
        assert pool.size == len(same_kind)
        for _, grp in same_kind.groupby("step"):
            norm = same_kind.drop(index=grp.index)
            if len(norm) < 2:
                continue
            rows = grp.index.to_numpy()
            expected_p = float(
                sps.mannwhitneyu(
                    grp["log_gap"].to_numpy(), norm["log_gap"].to_numpy(), alternative="greater"
                ).pvalue
            )
            assert pool.mann_whitney_greater(rows) == expected_p
            med0, p90 = pool.norm_median_p90(rows)
            assert med0 == float(norm["gap_s"].median())
            assert p90 == float(norm["gap_s"].quantile(0.9))
            checked += 1
    assert checked >= 10


def test_pool_of_one_kind_without_moves_of_that_kind() -> None:
    moves = _moves(4, 50).assign(cross=False)
    pool = _MovePool(moves, True)
    assert pool.size == 0
    assert pool.mann_whitney_greater(np.array([], dtype=np.int64)) == 1.0
