"""``analyze_events``: the engine for an analyst with only a table of events.

No workspace, no journey map: the events are loaded into an in-memory DuckDB database as
the canonical ``events`` table, each event name standing for a touchpoint (stage empty),
sessions and the journey store are built as in a workspace refresh, and the usual
:class:`~journeymap.engine.analysis.Analysis` is returned.

Without an ``event_id`` column, ids are the input row numbers (zero-padded, so their text
order is the row order): events of one customer with the same timestamp and name then
keep their input order. Naive timestamps are read as UTC. Rows with an empty customer,
event or timestamp are an error naming the rows (nothing is dropped silently).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from journeymap.engine.analysis import Analysis
from journeymap.engine.store import build_store


def _read(data) -> tuple[pa.Table, str]:
    """The input as an Arrow table, and how to name it in errors."""
    if isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False), "DataFrame"
    if isinstance(data, pa.Table):
        return data, "Arrow table"
    path = Path(data)
    if not path.exists():
        raise FileNotFoundError(f"analyze_events: no such file {path}")
    suffixes = "".join(path.suffixes).lower()
    if ".parquet" in suffixes or path.is_dir():
        return pq.read_table(path), str(path)
    if ".jsonl" in suffixes or ".ndjson" in suffixes:
        frame = pd.read_json(path, lines=True, dtype=False)
    elif ".csv" in suffixes or ".tsv" in suffixes:
        sep = "\t" if ".tsv" in suffixes else ","
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=[""])
    else:
        raise ValueError(f"analyze_events: {path}: expected .csv, .tsv, .parquet or .jsonl")
    return pa.Table.from_pandas(frame, preserve_index=False), str(path)


def _timestamps(values: pa.ChunkedArray, where: str, field: str) -> pa.Array:
    """Timestamps as UTC microseconds; an error names the first unreadable row."""
    if pa.types.is_timestamp(values.type):
        if values.type.tz is None:
            return values.cast(pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))
        return values.cast(pa.timestamp("us", tz="UTC"))
    text = values.to_pandas()
    parsed = pd.to_datetime(text, utc=True, errors="coerce", format="mixed")
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{where}: row {row + 1}, field {field!r}: expected a timestamp, got {text.iloc[row]!r}"
        )
    return pa.array(parsed.dt.as_unit("us"), pa.timestamp("us", tz="UTC"))


def canonical_events(
    data, *, customer="customer_id", event="event", ts="ts", channel=None, event_id=None
) -> pa.Table:
    """The input as canonical ``events`` columns; errors name the source, row and field."""
    raw, where = _read(data)
    wanted = {"customer": customer, "event": event, "ts": ts}
    if channel:
        wanted["channel"] = channel
    if event_id:
        wanted["event_id"] = event_id
    for role, column in wanted.items():
        if column not in raw.column_names:
            raise ValueError(
                f"{where}: no column {column!r} for {role} (columns: {', '.join(raw.column_names)})"
            )
    for role in ("customer", "event", "ts"):
        missing = pc.is_null(raw[wanted[role]]).to_numpy(zero_copy_only=False)
        if missing.any():
            rows = (np.flatnonzero(missing)[:5] + 1).tolist()
            raise ValueError(
                f"{where}: field {wanted[role]!r} ({role}) is empty on row(s) {rows}"
                f"{' and more' if missing.sum() > 5 else ''}; every event needs a value"
            )
    n = raw.num_rows
    width = max(len(str(n)), 1)
    names = raw[event].cast(pa.string())
    nulls = pa.nulls(n, pa.string())
    return pa.table(
        {
            "event_id": raw[event_id].cast(pa.string())
            if event_id
            else pc.utf8_lpad(pa.array(np.arange(1, n + 1)).cast(pa.string()), width, "0"),
            "customer_id": raw[customer].cast(pa.string()),
            "ts": _timestamps(raw[ts], where, ts),
            "event": names,
            "channel": raw[channel].cast(pa.string()) if channel else nulls,
            "touchpoint": names,
            "stage": nulls,
            "session_id": nulls,
            "source": pa.repeat(pa.scalar(where, pa.string()), n),
        }
    )


def analyze_events(
    data,
    *,
    customer="customer_id",
    event="event",
    ts="ts",
    channel=None,
    event_id=None,
    settings: dict | None = None,
) -> Analysis:
    """An :class:`Analysis` of a DataFrame, Arrow table or file of events (no workspace)."""
    events = canonical_events(
        data, customer=customer, event=event, ts=ts, channel=channel, event_id=event_id
    )
    con = ibis.duckdb.connect()
    settings = dict(settings or {})
    build_store(SimpleNamespace(con=con, settings=settings), source=ibis.memtable(events))
    return Analysis(con, None, settings)
