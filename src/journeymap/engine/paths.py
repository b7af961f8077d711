"""Directly-follows pairs (transitions) and whole-journey variants.

Both are numpy passes over :class:`~journeymap.engine.journeys.Journeys` (already in
tie-rule order), so they give the same result from the journey store and from the events
table. Unmapped events (no name at the analysed level) are left out of the paths.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from journeymap.engine.journeys import Journeys

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
    steps, jid = j.steps, j.journey_of_event
    names = np.append(j.step_names.astype(object), [START, END])
    width = len(names)
    # every adjacent pair of rows; pairs across two journeys get the spare key width**2
    # and are dropped after grouping (cheaper than filtering four 10M-row arrays)
    key = steps[:-1].astype(np.int32) * width + steps[1:]
    if j.n_events > 1:
        key[jid[1:] != jid[:-1]] = width * width
    seconds = np.diff(j.ts).astype(np.float64) / 1e6
    per_customer = bool((j.keys is j.customers) or len(j) == len(set(j.customers)))
    cust = jid[:-1] if per_customer else j.customer_codes()[jid[:-1]]
    src = dst = None
    if markers and len(j):
        start_code, end_code = len(names) - 2, len(names) - 1
        firsts, lasts = j.offsets[:-1], j.offsets[1:] - 1
        src = np.concatenate([np.full(len(j), start_code), steps[lasts]])
        dst = np.concatenate([steps[firsts], np.full(len(j), end_code)])
        key = np.concatenate([key, src * width + dst])
        seconds = np.concatenate([seconds, np.full(2 * len(j), np.nan)])
        codes = j.customer_codes()
        cust = np.concatenate([cust, codes, codes])
    out = _pair_stats(key, seconds, cust)
    out = out[out.index < width * width]
    out.insert(0, "s", out.index // len(names))
    out.insert(1, "t", out.index % len(names))
    out = out.reset_index(drop=True)
    out.insert(0, "source", names[out.pop("s").to_numpy()].astype(str))
    out.insert(1, "target", names[out.pop("t").to_numpy()].astype(str))
    out["count"] = out["count"].astype("int64")
    out["customers"] = out["customers"].astype("int64")
    return _sorted(out, ["count"], ["source", "target"])


def _pair_stats(key: np.ndarray, seconds: np.ndarray, cust: np.ndarray) -> pd.DataFrame:
    """count, distinct customers, median, p90 and mean of ``seconds`` per ``key``.

    One stable sort by key (radix for small ints) keeps each key's rows in journey order,
    so distinct customers are the changes of the (non-decreasing) customer code within a
    key; quantiles use numpy's linear interpolation per key.
    """
    if len(key) == 0:
        cols = ["count", "customers", "median_s", "p90_s", "mean_s"]
        return pd.DataFrame(columns=cols, index=pd.Index([], dtype="int64"))
    small = key.astype(np.uint16) if key.max() < 2**16 else key
    order = np.argsort(small, kind="stable")
    if key.max() < 2**22:  # few distinct pairs possible: sorted keys without a gather
        sizes = np.bincount(key)
        present = np.flatnonzero(sizes)
        k = np.repeat(present, sizes[present])
    else:
        k = key[order]
    sec, c = seconds[order], cust[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    ends = np.r_[starts[1:], len(k)]
    new_customer = np.r_[True, (k[1:] != k[:-1]) | (c[1:] != c[:-1])]
    customers = np.add.reduceat(new_customer.astype(np.int32), starts)
    stats = np.full((len(starts), 3), np.nan)
    for i, (a, b) in enumerate(zip(starts, ends, strict=True)):
        chunk = sec[a:b]
        if not np.isnan(chunk[0]):
            stats[i, :2] = np.quantile(chunk, [0.5, 0.9])
            stats[i, 2] = chunk.mean()
    return pd.DataFrame(
        {
            "count": (ends - starts).astype("int64"),
            "customers": customers.astype("int64"),
            "median_s": stats[:, 0],
            "p90_s": stats[:, 1],
            "mean_s": stats[:, 2],
        },
        index=k[starts],
    )


def variants(
    journeys: Journeys, *, top: int | None = None, collapse_repeats: bool = False
) -> pd.DataFrame:
    """Whole-journey paths: ``path`` (tuple of names), ``customers``, ``share``.

    One path per journey (per customer, or per session at session level); ``customers``
    counts journeys with that exact path and ``share`` divides by all journeys. With
    ``collapse_repeats`` consecutive repeats of one step count once (a a b -> a b).
    Sorted by customers (desc), then path.
    """
    j = journeys.mapped()
    if collapse_repeats and j.n_events:
        jid, steps = j.journey_of_event, j.steps
        keep = np.ones(j.n_events, dtype=bool)
        keep[1:] = (jid[1:] != jid[:-1]) | (steps[1:] != steps[:-1])
        j = j.select(keep)
    # big-endian codes: bytes order == code order == name order (sorted dictionaries), so
    # sorting the byte strings sorts the paths by name without comparing tuples
    steps = j.steps.astype(">i4")
    buffer, bounds = steps.tobytes(), (j.offsets * 4).tolist()
    blobs = [buffer[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    codes, uniques = pd.factorize(pd.Series(blobs, dtype=object), sort=False)
    counts = np.bincount(codes) if len(codes) else np.zeros(0, dtype=np.int64)
    _, first = np.unique(codes, return_index=True)  # one journey standing for each variant
    count_list, blob_list = counts.tolist(), list(uniques)
    order = sorted(range(len(counts)), key=lambda i: (-count_list[i], blob_list[i]))
    if top is not None:
        order = order[:top]
    names = np.asarray([str(n) for n in j.step_names], dtype=object)
    offsets, starts = j.offsets.tolist(), first[order].tolist()
    if len(order) > 1000:  # one list of all labels, then cheap slices
        labels = names[j.steps].tolist() if len(names) else []
        paths = [tuple(labels[offsets[i] : offsets[i + 1]]) for i in starts]
    else:
        paths = [tuple(names[j.steps[offsets[i] : offsets[i + 1]]].tolist()) for i in starts]
    out = pd.DataFrame({"path": paths, "customers": counts[order].astype("int64")})
    out["share"] = out["customers"] / max(len(j), 1)
    return out


def _sorted(frame: pd.DataFrame, desc: list[str], asc: list[str]) -> pd.DataFrame:
    """Deterministic order: ``desc`` columns descending, ties by ``asc`` ascending."""
    order = frame.sort_values(
        desc + asc, ascending=[False] * len(desc) + [True] * len(asc), kind="stable"
    )
    return order.reset_index(drop=True)
