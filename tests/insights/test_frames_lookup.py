"""``frames._lookup``: each customer's row of a customers table, against a plain dict.

The lookup matches 64-bit hashes of the ids and checks every match on the strings, a
range of :data:`~journeymap.insights.frames.LOOKUP_ROWS` rows at a time; the answers must
be a dict's: the last row wins among duplicates, null for ids without a row (or whose
only key is null), in the ids' order, with ranges of any size and by the Arrow fallback.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from journeymap.insights import frames


def _case(seed: int) -> tuple[pd.Series, pa.Table, list]:
    rng = np.random.default_rng(seed)
    keys = [f"c{int(i)}" for i in rng.integers(0, 300, 400)]  # many duplicates
    keys[::37] = [None] * len(keys[::37])  # null keys never match
    personas = [None if rng.random() < 0.1 else f"p{int(i)}" for i in rng.integers(0, 4, 400)]
    table = pa.table({"customer_id": keys, "persona": personas})
    table = pa.concat_tables([table.slice(0, 150), table.slice(150)])  # two chunks
    ids = pd.Series([f"c{int(i)}" for i in rng.permutation(350)], dtype=object)  # some absent
    last = {}
    for k, p in zip(keys, personas, strict=True):
        if k is not None:
            last[k] = p  # the last row wins
    return ids, table, [last.get(i) for i in ids]


@pytest.mark.parametrize("arrow", [False, True], ids=["object", "arrow"])
@pytest.mark.parametrize("rows", [None, 1, 7])
@pytest.mark.parametrize("seed", [1, 2])
def test_lookup_equals_a_dict(seed: int, rows: int | None, arrow: bool, monkeypatch):
    """Ids as an object column, or as the Arrow strings journey_frames gives."""
    if rows:
        monkeypatch.setattr(frames, "LOOKUP_ROWS", rows)
    ids, table, expected = _case(seed)
    if arrow:
        ids = pd.Series(pd.arrays.ArrowStringArray(pa.array(ids.tolist(), pa.string())))
    assert frames._lookup(ids, table, "persona").to_pylist() == expected


def test_arrow_fallback_equals_a_dict():
    ids, table, expected = _case(3)
    keys = table["customer_id"].combine_chunks()
    found = frames._lookup_by_arrow(pa.array(ids, pa.string()), keys, table["persona"])
    assert found.to_pylist() == expected


def test_lookup_in_an_empty_table():
    table = pa.table(
        {"customer_id": pa.array([], pa.string()), "revenue": pa.array([], pa.float64())}
    )
    assert frames._lookup(pd.Series(["a", "b"], dtype=object), table, "revenue").to_pylist() == [
        None,
        None,
    ]
