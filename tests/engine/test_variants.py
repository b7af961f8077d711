"""Variants (whole-journey paths) against a plain-Python oracle: order, ties, ``top``.

The engine groups paths as Arrow binary values of fixed-width codes; these tests pin the
cases where that could go wrong: more than 256 names (two-byte codes), a path that is a
prefix of another, equal counts broken by path order, ``top`` cutting through a tie,
timestamp ties, unicode names, and an empty selection.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from journeymap.engine import analyze_events

NAMES = [f"ev_{i:03d}" for i in range(300)] + ["ümlaut", "カート", "Zed", "a"]


def _log(seed: int = 5) -> pd.DataFrame:
    """Customers on a few shared paths (ties, prefixes) and many random ones."""
    rng = np.random.default_rng(seed)
    shared = [
        ["ev_001", "ev_002"],
        ["ev_001", "ev_002", "ev_000"],  # the shorter path above is its prefix
        ["ev_001"],
        ["カート", "ümlaut", "a"],
        ["Zed", "ev_299", "ev_299"],
        ["ev_250", "ev_260", "ev_270", "ev_280"],
    ]
    rows = []
    base = pd.Timestamp("2024-05-01", tz="UTC")
    for c in range(600):
        if c % 3 == 0:
            path = list(rng.choice(NAMES, size=int(rng.integers(1, 9))))
        else:
            path = shared[int(rng.integers(0, len(shared)))]
        t = base + pd.Timedelta(minutes=int(rng.integers(0, 10_000)))
        for name in path:
            t += pd.Timedelta(minutes=int(rng.choice([0, 0, 3])))  # frequent ties
            rows.append((f"c{c:04d}", t, str(name)))
    frame = pd.DataFrame(rows, columns=["customer_id", "ts", "event"])
    frame["event_id"] = [f"e{i:05d}" for i in rng.permutation(len(frame))]
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def _oracle(frame: pd.DataFrame) -> list[tuple[tuple[str, ...], int]]:
    """Paths by the tie rule (ts, event, event_id), counted and ordered in plain Python."""
    ordered = frame.sort_values(["customer_id", "ts", "event", "event_id"])
    paths = Counter(tuple(g) for _, g in ordered.groupby("customer_id", sort=False)["event"])
    return sorted(paths.items(), key=lambda item: (-item[1], item[0]))


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    return _log()


@pytest.fixture(scope="module")
def analysis(log):
    return analyze_events(log, event_id="event_id")


def _rows(frame: pd.DataFrame) -> list[tuple[tuple[str, ...], int]]:
    return list(zip(frame["path"], frame["customers"], strict=True))


def test_all_variants_match_oracle_in_order(analysis, log):
    expected = _oracle(log)
    got = analysis.variants()
    assert _rows(got) == expected
    assert all(isinstance(p, tuple) for p in got["path"])
    n_customers = log["customer_id"].nunique()
    assert got["share"].tolist() == [count / n_customers for _, count in expected]
    # the prefix path sorts before the longer one when counts are equal
    assert len(NAMES) > 256  # two-byte codes are exercised


@pytest.mark.parametrize("top", [0, 1, 3, 5, 7, 50])
def test_top_is_the_head_of_the_full_order(analysis, log, top):
    # with 600 customers on 6 shared paths and ~200 random ones, several cuts fall in ties
    expected = _oracle(log)[:top]
    assert _rows(analysis.variants(top=top)) == expected


def test_top_cuts_through_a_tie_by_path_order(analysis, log):
    expected = _oracle(log)
    counts = [c for _, c in expected]
    cut = next(i for i in range(1, len(counts)) if counts[i] == counts[i - 1] == 1)
    assert _rows(analysis.variants(top=cut)) == expected[:cut]


def test_collapse_repeats_matches_oracle(analysis, log):
    ordered = log.sort_values(["customer_id", "ts", "event", "event_id"])
    paths = Counter()
    for _, g in ordered.groupby("customer_id", sort=False)["event"]:
        names = list(g)
        paths[tuple(n for i, n in enumerate(names) if i == 0 or names[i - 1] != n)] += 1
    expected = sorted(paths.items(), key=lambda item: (-item[1], item[0]))
    assert _rows(analysis.variants(collapse_repeats=True)) == expected


def test_empty_selection_gives_an_empty_table(analysis):
    got = analysis.filtered(start="2100-01-01").variants()
    assert list(got.columns) == ["path", "customers", "share"]
    assert len(got) == 0


def test_negative_top_is_an_error(analysis):
    with pytest.raises(ValueError, match="top"):
        analysis.variants(top=-1)
