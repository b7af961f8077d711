"""Ranges of whole customers, so a step over a very large log holds one range at a time.

DuckDB runs in this process under one memory cap; a sort, window or as-of join over
100M events does not fit in it, but the same query over each range of customers does,
and every journeymap step that works per customer gives the same rows either way. The
journey store build (:mod:`journeymap.engine.store`) and feedback attachment
(:mod:`journeymap.voice.attach`) cut their input here, with the same rule.

Ranges follow ``ORDER BY customer_id``: the first ends before the first bound, the last
starts at the last bound and also holds a NULL customer (ingest never writes one, but
feedback may carry one). So the ranges, applied to any table with a ``customer_id``
column, split it into disjoint pieces that together are the whole table.
"""

from __future__ import annotations

from collections.abc import Iterator

import ibis
import ibis.expr.types as ir
import numpy as np


def customer_bounds(con: ibis.BaseBackend, table: ir.Table, total: int, rows: int) -> list:
    """The customer ids where ranges of about ``rows`` rows of ``table`` start (a range
    ends after a whole customer); ``[]`` when ``total`` rows fit in one range.

    One grouped scan of ``table``; its per-customer counts are freed on return (at 100M
    events they are about 0.5 GB of strings).
    """
    if total <= rows:
        return []
    sizes = con.to_pyarrow(
        table.group_by("customer_id").agg(n=table.count()).order_by("customer_id")
    )
    cumulative = np.cumsum(sizes["n"].to_numpy())
    cuts = np.searchsorted(cumulative, np.arange(rows, total, rows))
    cuts = np.unique(cuts[(cuts + 1) < len(cumulative)] + 1)  # a range starts after a cut
    customers = sizes["customer_id"]
    bounds = [customers[int(i)].as_py() for i in cuts]
    return [b for b in bounds if b is not None]


def in_ranges(table: ir.Table, bounds: list) -> Iterator[ir.Table]:
    """``table`` filtered to each range that ``bounds`` (from :func:`customer_bounds`)
    starts, in customer order; ``table`` itself when there are no bounds."""
    cid = table.customer_id
    lower = None
    for bound in bounds:
        yield (
            table.filter(cid < bound)
            if lower is None
            else table.filter((cid >= lower) & (cid < bound))
        )
        lower = bound
    yield table if lower is None else table.filter((cid >= lower) | cid.isnull())
