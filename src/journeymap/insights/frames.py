"""The analysis' journeys as every insight reads them: integer arrays, and pandas frames.

Insights ask many different questions of the same ordered journeys. They read them once,
from the engine's own :class:`~journeymap.engine.journeys.Journeys` (mapped events at
touchpoint level, in the order rule of the engine ``ts, event, event_id``), as

- ``journeys``: the flat integer arrays (touchpoint, stage and channel codes, times),
  which the pain-point detectors scan with numpy: at 10M events a pandas pass over string
  columns costs seconds, a numpy pass over codes tens of milliseconds;
- ``customers``: one row per customer journey (converted, persona, revenue);
- ``events``: the same events as a pandas frame with names (built on first use), for the
  analyses whose arithmetic is clearest as a few lines of pandas (personas, compare).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from journeymap.engine.journeys import Journeys, ids_to_arrow
from journeymap.workspace.backend import memory_at_most, release_cached_blocks


@dataclass
class JourneyFrames:
    """Mapped events in journey order (arrays, and a frame on demand) and one row per
    customer."""

    journeys: Journeys  # mapped, touchpoint level, one journey per customer (jid = index)
    customers: pd.DataFrame  # index jid: customer, converted, persona, revenue
    goal: str | None
    stage_order: list[str]
    stage_of: dict[str, str]
    value: float  # mean revenue per converted customer (1.0 without revenue)
    _events: pd.DataFrame | None = field(default=None, repr=False)

    def stage_rank(self, stage: str | None) -> int:
        return self.stage_order.index(stage) if stage in self.stage_order else -1

    @property
    def events(self) -> pd.DataFrame:
        """jid, customer, pos, touchpoint, stage, channel, ts_s: one row per mapped event."""
        if self._events is None:
            self._events = _events_frame(self.journeys)
        return self._events


def _events_frame(j: Journeys) -> pd.DataFrame:
    jid = j.journey_of_event
    return pd.DataFrame(
        {
            "jid": jid,
            "customer": j.customers[jid],
            "pos": np.arange(j.n_events) - j.offsets[:-1][jid],
            "touchpoint": _names_of(j, "touchpoint"),
            "stage": _names_of(j, "stage"),
            "channel": _names_of(j, "channel"),
            "ts_s": j.ts / 1e6,
        }
    )


def _names_of(j: Journeys, kind: str) -> np.ndarray:
    """The name of each event's ``kind`` (object array, None where the code is -1)."""
    table = np.append(j.names[kind].astype(object), None)
    codes = j.codes[kind]
    return table[np.where(codes >= 0, codes, len(table) - 1)]


def journey_frames(analysis: Any) -> JourneyFrames:
    """Read the analysis' customer journeys at touchpoint level into :class:`JourneyFrames`."""
    a = analysis
    if a.filters.level != "touchpoint" or a.filters.sessions:
        a = analysis.filtered(level="touchpoint", sessions=False)
    j = a.journeys(mapped=True)
    spec = a.spec
    goal = getattr(getattr(spec, "goal", None), "touchpoint", None)
    stage_order = list(getattr(spec, "stage_order", None) or [])
    stage_of = {tp.id: tp.stage for tp in getattr(spec, "touchpoints", [])} if spec else {}
    if not stage_of:
        stage_of = _stage_of_events(j)
    # Arrow strings, not the object column pandas makes of numpy ids: 1.4 GB of Python
    # str at the 17.8M customers of the 100M benchmark, against 0.3 GB
    customers = pd.DataFrame({"customer": pd.arrays.ArrowStringArray(ids_to_arrow(j.customers))})
    goal_code = j.code_of(goal, "touchpoint") if goal else -1
    if goal_code >= 0:
        goal_events = j.journey_of_event[j.codes["touchpoint"] == goal_code]
        customers["converted"] = np.bincount(goal_events, minlength=len(j)) > 0
    else:
        customers["converted"] = False
    customers["persona"] = _personas(a, customers["customer"])
    customers["revenue"] = _revenue(a, customers["customer"])
    converted = customers.loc[customers["converted"]]
    value = float(converted["revenue"].mean()) if len(converted) else float("nan")
    if not np.isfinite(value) or value <= 0:
        value = 1.0
    return JourneyFrames(j, customers, goal, stage_order, stage_of, value)


def _stage_of_events(j: Journeys) -> dict[str, str]:
    """Touchpoint -> stage of its first event with a stage (without a journey map)."""
    tp, st = j.codes["touchpoint"], j.codes["stage"]
    both = np.flatnonzero((tp >= 0) & (st >= 0))
    codes, first = np.unique(tp[both], return_index=True)
    return {
        str(j.names["touchpoint"][c]): str(j.names["stage"][st[both[i]]])
        for c, i in zip(codes, first, strict=True)
    }


#: Rows hashed or checked at a time by :func:`_lookup` (lowered in tests).
LOOKUP_ROWS = 1 << 18


def _lookup(ids: pd.Series, table: pa.Table, column: str) -> pa.ChunkedArray:
    """``table[column]`` of the row whose ``customer_id`` is each id (null where none; the
    last row wins among duplicates).

    Matched by 64-bit hashes of the ids (pandas' ``hash_array``, vectorised), sorted once
    and searched, then every match checked on the strings themselves, so the answer is
    exact; a hash collision (about one chance in 10**7 at 10**6 customers) falls back to
    Arrow's hash lookup. Memory: 8-byte hashes and positions per customer, strings
    converted :data:`LOOKUP_ROWS` at a time, where Arrow's hash table of the strings and
    the ids converted to Arrow took about 140 bytes a customer (250 MB at 1.8M customers,
    2.5 GB at 100M events). A Python dict per customer cost about a second at 500,000."""
    keys = table["customer_id"].combine_chunks()
    values = table[column]
    del table  # (the caller's temporary: its chunked keys go now)
    if not len(keys):
        return pa.chunked_array([pa.nulls(len(ids), values.type)])
    hashes = np.empty(len(keys), dtype=np.uint64)
    for lo in range(0, len(keys), LOOKUP_ROWS):
        some = keys[lo : lo + LOOKUP_ROWS].to_numpy(zero_copy_only=False)
        hashes[lo : lo + len(some)] = pd.util.hash_array(some, categorize=False)
    order = np.argsort(hashes, kind="stable")  # equal hashes in row order: the last wins
    hashes = hashes[order]
    rows = np.empty(len(ids), dtype=np.int64)
    hit = np.empty(len(ids), dtype=bool)
    for lo in range(0, len(ids), LOOKUP_ROWS):
        mine = ids.iloc[lo : lo + LOOKUP_ROWS].to_numpy(dtype=object)  # (str, a chunk at once)
        probe = pd.util.hash_array(mine, categorize=False)
        # needles in increasing order: each binary search starts where the last one ended
        # and the table is walked forward (random probes: 58 s of cache misses at 100M)
        by_hash = np.argsort(probe)
        at = np.empty(len(probe), dtype=np.int64)
        at[by_hash] = np.searchsorted(hashes, probe[by_hash], side="right") - 1
        found = (at >= 0) & (hashes[np.maximum(at, 0)] == probe)
        row = np.where(found, order[np.maximum(at, 0)], 0)
        same = keys.take(pa.array(row)).to_numpy(zero_copy_only=False) == mine
        if not (same | ~found).all():  # two ids with one hash: Arrow's exact lookup
            return _lookup_by_arrow(pa.array(ids, keys.type), keys, values)
        rows[lo : lo + len(mine)], hit[lo : lo + len(mine)] = row, found
    return values.take(pa.array(rows, mask=~hit))


def _lookup_by_arrow(ids: pa.Array, keys: pa.Array, values: pa.ChunkedArray) -> pa.ChunkedArray:
    """:func:`_lookup` by Arrow's hash table of the key strings (140 bytes a customer)."""
    last_first = keys.take(pa.array(np.arange(len(keys) - 1, -1, -1)))  # the last row wins
    found = pc.index_in(ids, value_set=last_first)
    rows = pc.subtract(pa.scalar(len(keys) - 1, pa.int64()), found.cast(pa.int64()))
    return values.take(rows)


#: DuckDB's memory while :func:`_fetch` reads (the store read-back uses the same cap).
FETCH_DUCKDB_BYTES = 512 * 2**20


def _fetch(analysis: Any, expr: Any) -> pa.Table:
    """The rows of an ibis table expression as Arrow, read as a stream of batches: the
    same table, where ``to_pyarrow`` held the result twice over (at 1.3M customers 260
    MB at its peak for a 50 MB table, against 100 MB). DuckDB then lets go of the blocks
    its scan read: they would stay cached beside the journeys (the revenue sums scan the
    events: at 100M events 2.5 GB of RSS stayed after the journey frames), and while it
    reads it caches at most ``FETCH_DUCKDB_BYTES``: the scan streams, and its cache would
    otherwise grow to the workspace's cap beside the journeys' arrays."""
    with memory_at_most(analysis.con, FETCH_DUCKDB_BYTES):
        table = expr.to_pyarrow_batches().read_all()
        release_cached_blocks(analysis.con)
    return table


def _personas(analysis: Any, ids: pd.Series) -> pd.Series:
    table = analysis.customers()
    if table is None or "persona" not in table.columns:
        return pd.Series([None] * len(ids), index=ids.index, dtype=object)
    found = _lookup(ids, _fetch(analysis, table.select("customer_id", "persona")), "persona")
    return pd.Series(found.to_pandas().to_numpy(dtype=object), index=ids.index, dtype=object)


def _revenue(analysis: Any, ids: pd.Series) -> pd.Series:
    ev = analysis.events()
    if "revenue" not in ev.columns:
        return pd.Series(0.0, index=ids.index)
    # only rows with a revenue (mostly few): the same sums, customers without one get 0 below
    ev = ev.filter(ev.revenue.notnull())
    sums = ev.group_by("customer_id").aggregate(revenue=ev.revenue.sum())
    found = pc.fill_null(_lookup(ids, _fetch(analysis, sums), "revenue").cast(pa.float64()), 0.0)
    return pd.Series(found.to_numpy(), index=ids.index, dtype=float)
