"""Directly-follows pairs (transitions) and whole-journey variants.

Both are numpy passes over :class:`~journeymap.engine.journeys.Journeys` (already in
tie-rule order), so they give the same result from the journey store and from the events
table. Unmapped events (no name at the analysed level) are left out of the paths.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from journeymap.engine.journeys import Journeys, journey_numbers
from journeymap.engine.metrics import RANGE_EVENTS, stable_order

START, END = "(start)", "(end)"


def transitions(journeys: Journeys, *, markers: bool = False) -> pd.DataFrame:
    """Directly-follows pairs: ``source, target, count, customers, median_s, p90_s, mean_s``.

    A pair (a, b) is counted each time b is the next event after a in one journey.
    ``customers`` counts distinct customers (not sessions). Times are seconds between the
    two events; median and p90 use linear interpolation (numpy's default). With
    ``markers`` each journey also contributes ``(start) -> first`` and ``last -> (end)``
    (times left empty). Rows are sorted by count (desc), then source and target names.
    """
    j = journeys.mapped()
    names = np.append(j.step_names.astype(object), [START, END])
    width = len(names)
    out = _pair_stats(j, _pair_keys(j, width, markers), width)
    out.insert(0, "s", out.index // len(names))
    out.insert(1, "t", out.index % len(names))
    out = out.reset_index(drop=True)
    out.insert(0, "source", names[out.pop("s").to_numpy()].astype(str))
    out.insert(1, "target", names[out.pop("t").to_numpy()].astype(str))
    out["count"] = out["count"].astype("int64")
    out["customers"] = out["customers"].astype("int64")
    return _sorted(out, ["count"], ["source", "target"])


def _pair_keys(j: Journeys, width: int, markers: bool) -> np.ndarray:
    """Key ``source * width + target`` of each pair of adjacent events (row i: events i and
    i + 1; a pair across two journeys gets the spare key ``width**2``, dropped after
    grouping: cheaper than filtering), then with ``markers`` one row per journey for
    ``(start) -> first`` and one for ``last -> (end)``. In the narrowest integer type
    (uint16 for up to 255 names: 2 bytes an event, and numpy's radix sort)."""
    steps = j.steps
    spare = width * width
    dtype = np.uint16 if spare < 2**16 else np.int32 if spare < 2**31 else np.int64
    key = steps[:-1].astype(dtype)
    key *= dtype(width)
    key += steps[1:].astype(dtype, copy=False)
    key[j.offsets[1:-1] - 1] = spare  # the last event of a journey + the next one
    if markers and len(j):
        start_code, end_code = width - 2, width - 1
        firsts = steps[j.offsets[:-1]].astype(dtype)
        firsts += dtype(start_code * width)
        lasts = steps[j.offsets[1:] - 1].astype(dtype)
        lasts *= dtype(width)
        lasts += dtype(end_code)
        key = np.concatenate([key, firsts, lasts])
    return key


def _pair_stats(j: Journeys, key: np.ndarray, width: int) -> pd.DataFrame:
    """count, distinct customers, median, p90 and mean of the seconds per ``key`` (rows as
    :func:`_pair_keys` lays them out; the spare key is left out).

    One stable sort by key (:func:`.metrics.stable_order`, int32 rows) keeps each key's
    rows in event order, so journeys, and customers, are non-decreasing inside a key:
    distinct customers are the changes of the customer code there. Customers and times
    are gathered key by key from the rows (quantiles by numpy's linear interpolation).
    Memory: the key (2 bytes a pair at up to 255 names), the sorted rows (4) and the
    seconds in event order (8), against 8-byte orders, gaps and sorted gaps and customers
    before (about 30 bytes a pair): 1.4 GB at 100M events instead of 3.
    """
    cols = ["count", "customers", "median_s", "p90_s", "mean_s"]
    if len(key) == 0:
        return pd.DataFrame(columns=cols, index=pd.Index([], dtype="int64"))
    order, sizes = stable_order(key, np.int32 if len(key) < 2**31 else np.int64)
    del key
    present = np.flatnonzero(sizes[: width * width])  # (not the spare key)
    ends = np.cumsum(sizes)[present]
    starts = ends - sizes[present]
    n_pairs, n_journeys = max(j.n_events - 1, 0), len(j)
    ts = j.ts
    # the journey of each event, for this pass only (``journey_of_event`` would keep it in
    # the journeys' cache: 4 bytes an event, 0.4 GB at 100M, the store's for good once the
    # store holds only mapped events)
    jid = journey_numbers(j.offsets)
    # seconds between the events of each pair, in event order (read sequentially, without
    # a copy per chunk: gathering two times per pair key by key is twice as slow)
    seconds = np.empty(n_pairs)
    for lo in range(0, n_pairs, RANGE_EVENTS):
        hi = min(lo + RANGE_EVENTS, n_pairs)
        np.divide(ts[lo + 1 : hi + 1] - ts[lo:hi], 1e6, out=seconds[lo:hi])
    per_customer = bool((j.keys is j.customers) or len(j) == len(set(j.customers)))
    codes = None if per_customer else j.customer_codes()
    customers = np.empty(len(present), dtype=np.int64)
    stats = np.full((len(present), 3), np.nan)
    for i, (a, b) in enumerate(zip(starts, ends, strict=True)):
        rows = order[a:b].astype(np.intp)  # (once: numpy casts int32 indices per gather)
        if rows[0] >= n_pairs:  # a marker: its journey, and no time
            journey = rows - n_pairs
            journey %= n_journeys
        else:
            journey = jid[rows]
            chunk = seconds[rows]
            stats[i, :2] = np.quantile(chunk, [0.5, 0.9])
            stats[i, 2] = chunk.mean()
        who = journey if codes is None else codes[journey]
        customers[i] = 1 + np.count_nonzero(who[1:] != who[:-1])
    return pd.DataFrame(
        {
            "count": (ends - starts).astype("int64"),
            "customers": customers,
            "median_s": stats[:, 0],
            "p90_s": stats[:, 1],
            "mean_s": stats[:, 2],
        },
        index=present,
    )


def variants(
    journeys: Journeys, *, top: int | None = None, collapse_repeats: bool = False
) -> pd.DataFrame:
    """Whole-journey paths: ``path`` (tuple of names), ``customers``, ``share``.

    One path per journey (per customer, or per session at session level); ``customers``
    counts journeys with that exact path and ``share`` divides by all journeys. With
    ``collapse_repeats`` consecutive repeats of one step count once (a a b -> a b).
    Sorted by customers (desc), then path; ``top`` keeps the first ``top`` rows.

    How (fast at 10M events): each journey's codes are viewed, without copying, as one
    Arrow binary value; Arrow groups, counts and sorts those in C++, and name tuples are
    built only for the paths returned. Codes are fixed-width big-endian and the
    dictionaries are sorted, so byte order == name order (a prefix sorts first, as with
    tuples).
    """
    j = journeys.mapped()
    if collapse_repeats and j.n_events:
        jid, steps = j.journey_of_event, j.steps
        keep = np.ones(j.n_events, dtype=bool)
        keep[1:] = (jid[1:] != jid[:-1]) | (steps[1:] != steps[:-1])
        j = j.select(keep)
    if top is not None and top < 0:
        raise ValueError(f"variants: top must be a non-negative number of paths, got {top}")
    counted = _path_counts(j)
    keys = [("customers", "descending"), ("path", "ascending")]
    if top is not None and top < counted.num_rows:
        chosen = counted.take(pc.select_k_unstable(counted, top, sort_keys=keys))
        chosen = chosen.sort_by(keys)  # select_k returns them in order; keys are unique
    else:
        chosen = counted.sort_by(keys)
    out = pd.DataFrame(
        {
            "path": _decode_paths(chosen["path"], j.step_names),
            "customers": chosen["customers"].to_numpy().astype("int64"),
        }
    )
    out["share"] = out["customers"] / max(len(j), 1)
    return out


def _code_width(n_names: int) -> np.dtype:
    """The narrowest big-endian unsigned code type for a dictionary of ``n_names``."""
    if n_names <= 2**8:
        return np.dtype("u1")
    return np.dtype(">u2") if n_names <= 2**16 else np.dtype(">u4")


def _path_counts(j: Journeys) -> pa.Table:
    """Distinct paths (Arrow binary of fixed-width codes) and the journeys on each."""
    width = _code_width(len(j.step_names))
    data = np.ascontiguousarray(j.steps.astype(width))
    offsets = np.ascontiguousarray(j.offsets.astype(np.int64) * width.itemsize)
    blobs = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(j), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    counts = pc.value_counts(blobs)
    return pa.table({"path": counts.field("values"), "customers": counts.field("counts")})


def _decode_paths(blobs: pa.ChunkedArray, names: np.ndarray) -> np.ndarray:
    """Name tuples of the code paths ``blobs`` (as written by :func:`_path_counts`), as an
    object array (so pandas takes it without converting 355k tuples again)."""
    arr = blobs.combine_chunks() if blobs.num_chunks else pa.array([], pa.large_binary())
    if len(arr) == 0:
        return np.empty(0, dtype=object)
    width = _code_width(len(names))
    start = arr.offset
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[start : start + len(arr) + 1]
    bounds = offsets // width.itemsize
    raw = np.frombuffer(arr.buffers()[2], dtype=width)
    labels = np.asarray([str(n) for n in names], dtype=object)
    paths: list[tuple] = []
    step = 1 << 16  # paths per chunk: the name lists of one chunk at a time (100M events:
    for first in range(0, len(arr), step):  # all paths at once would be 1.2 GB of lists)
        edges = bounds[first : first + step + 1]
        chunk = labels[raw[edges[0] : edges[-1]]].tolist()
        cuts = (edges - edges[0]).tolist()
        paths.extend(tuple(chunk[a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True))
    return np.fromiter(paths, dtype=object, count=len(paths))


def _sorted(frame: pd.DataFrame, desc: list[str], asc: list[str]) -> pd.DataFrame:
    """Deterministic order: ``desc`` columns descending, ties by ``asc`` ascending."""
    order = frame.sort_values(
        desc + asc, ascending=[False] * len(desc) + [True] * len(asc), kind="stable"
    )
    return order.reset_index(drop=True)
