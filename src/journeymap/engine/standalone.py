"""``analyze_events``: the engine for an analyst with only a table of events.

No workspace, no journey map: each event name stands for a touchpoint (stage empty),
sessions and the journey store are built as in a workspace refresh, and the usual
:class:`~journeymap.engine.analysis.Analysis` is returned.

Everything lives in a temporary directory: a DuckDB database (memory limit
``MEMORY_LIMIT``, spilling to the directory) and, for large logs, Parquet files. The
directory is removed when the last :class:`Analysis` using it is garbage collected, when
one of them is closed (``close()`` or ``with``), or at interpreter exit.

Two ways in, one result (the same journeys, tested):

- up to ``store.PARTITION_ROWS`` events (the common case): the rows are read once into
  Arrow, sorted in numpy (:func:`.store.journeys_in_memory`, the tie rule) and kept in
  memory; ``events`` is a view over them (``session_id`` and, without ids, ``event_id``
  computed on read) and the journey store tables are views over the journeys' arrays,
  so nothing is copied into the database. This is the cold path the benchmark measures.
- larger logs (100M events): the input is read in batches and split by customer into
  slices of about ``SLICE_ROWS`` events (Parquet files); each slice is then sorted in
  numpy and rewritten with its session numbers, and ``events`` is a view over those
  files. Memory holds one batch, then one slice plus the journeys (about 20 bytes per
  event), not the log.

Without an ``event_id`` column, ids are the input row numbers (zero-padded, so their text
order is the row order): events of one customer with the same timestamp and name then
keep their input order. Naive timestamps are read as UTC. Rows with an empty customer,
event or timestamp are an error naming the rows (nothing is dropped silently).
"""

from __future__ import annotations

import shutil
import tempfile
import time
import weakref
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from journeymap.engine.analysis import Analysis
from journeymap.engine.journeys import Journeys
from journeymap.engine.store import (
    PARTITION_ROWS,
    forget_loaded_stores,
    inactivity_minutes,
    journeys_in_memory,
    keep_store,
)
from journeymap.workspace.backend import connect, literal, raw, register_arrow

#: DuckDB's memory cap for an ``analyze_events`` database; beyond it DuckDB spills to the
#: temporary directory. With the journeys held in numpy (about 20 bytes per event) this
#: keeps a 100M-event log under 8 GB in all.
MEMORY_LIMIT = "2GB"
#: Rows per batch when a large log is copied into the database.
BATCH_ROWS = 2_000_000
#: Events per slice of a large log's store build (a range of customers sorted in numpy at
#: a time): about 1 GB of Arrow rows and their sorted copy.
SLICE_ROWS = 5_000_000
_INPUT = "events_input"


def _source(data) -> tuple[object, str, int | None]:
    """The input (Arrow table, or a Parquet path read lazily), its name for errors, and
    its row count when known without reading it."""
    if isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False), "DataFrame", len(data)
    if isinstance(data, pa.Table):
        return data, "Arrow table", data.num_rows
    path = Path(data)
    if not path.exists():
        raise FileNotFoundError(f"analyze_events: no such file {path}")
    suffixes = "".join(path.suffixes).lower()
    if ".parquet" in suffixes or path.is_dir():
        return path, str(path), ds.dataset(path, format="parquet").count_rows()
    if ".jsonl" in suffixes or ".ndjson" in suffixes:
        frame = pd.read_json(path, lines=True, dtype=False)
    elif ".csv" in suffixes or ".tsv" in suffixes:
        sep = "\t" if ".tsv" in suffixes else ","
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=[""])
    else:
        raise ValueError(f"analyze_events: {path}: expected .csv, .tsv, .parquet or .jsonl")
    return pa.Table.from_pandas(frame, preserve_index=False), str(path), len(frame)


def _read(data) -> tuple[pa.Table, str]:
    """The whole input as an Arrow table, and how to name it in errors."""
    source, where, _ = _source(data)
    if isinstance(source, Path):
        return pq.read_table(source), where
    return source, where


def _batches(source, columns: list[str]):
    """The input as Arrow record batches of about ``BATCH_ROWS`` rows."""
    if isinstance(source, Path):
        yield from ds.dataset(source, format="parquet").to_batches(
            columns=columns, batch_size=BATCH_ROWS, batch_readahead=1, fragment_readahead=1
        )  # (the default read-ahead buffers dozens of batches: gigabytes at 100M)
    else:
        yield from source.select(columns).to_batches(max_chunksize=BATCH_ROWS)


def _timestamps(values: pa.ChunkedArray, where: str, field: str, first_row: int = 0) -> pa.Array:
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
            f"{where}: row {first_row + row + 1}, field {field!r}: expected a timestamp, "
            f"got {text.iloc[row]!r}"
        )
    return pa.array(parsed.dt.as_unit("us"), pa.timestamp("us", tz="UTC"))


def _columns(customer, event, ts, channel, event_id) -> dict[str, str]:
    """Canonical role -> input column."""
    wanted = {"customer": customer, "event": event, "ts": ts}
    if channel:
        wanted["channel"] = channel
    if event_id:
        wanted["event_id"] = event_id
    return wanted


def _check_columns(names: list[str], wanted: dict[str, str], where: str) -> None:
    for role, column in wanted.items():
        if column not in names:
            raise ValueError(
                f"{where}: no column {column!r} for {role} (columns: {', '.join(names)})"
            )


def _core(raw_rows, wanted: dict[str, str], where: str, first_row: int = 0) -> pa.Table:
    """customer_id, ts, event, channel (and event_id when given) of ``raw_rows``, checked:
    errors name the source, row (1-based, counted from the start of the input) and field."""
    for role in ("customer", "event", "ts"):
        missing = pc.is_null(raw_rows[wanted[role]]).to_numpy(zero_copy_only=False)
        if missing.any():
            rows = (np.flatnonzero(missing)[:5] + first_row + 1).tolist()
            raise ValueError(
                f"{where}: field {wanted[role]!r} ({role}) is empty on row(s) {rows}"
                f"{' and more' if missing.sum() > 5 else ''}; every event needs a value"
            )
    n = raw_rows.num_rows
    columns = {
        "customer_id": raw_rows[wanted["customer"]].cast(pa.string()),
        "ts": _timestamps(raw_rows[wanted["ts"]], where, wanted["ts"], first_row),
        "event": raw_rows[wanted["event"]].cast(pa.string()),
        "channel": raw_rows[wanted["channel"]].cast(pa.string())
        if "channel" in wanted
        else pa.nulls(n, pa.string()),
    }
    if "event_id" in wanted:
        columns["event_id"] = raw_rows[wanted["event_id"]].cast(pa.string())
    return pa.table(columns)


def _row_ids(first_row: int, n: int, width: int) -> pa.Array:
    """Zero-padded 1-based row numbers: ids whose text order is the row order."""
    numbers = pa.array(np.arange(first_row + 1, first_row + n + 1)).cast(pa.string())
    return pc.utf8_lpad(numbers, width, "0")


def _full(core: pa.Table, where: str, first_row: int, width: int) -> pa.Table:
    """All canonical ``events`` columns of checked rows (the large path writes these)."""
    n = core.num_rows
    nulls = pa.nulls(n, pa.string())
    return pa.table(
        {
            "event_id": core["event_id"]
            if "event_id" in core.column_names
            else _row_ids(first_row, n, width),
            "customer_id": core["customer_id"],
            "ts": core["ts"],
            "event": core["event"],
            "channel": core["channel"],
            "touchpoint": core["event"],
            "stage": nulls,
            "session_id": nulls,
            "source": pa.repeat(pa.scalar(where, pa.string()), n),
        }
    )


def canonical_events(
    data, *, customer="customer_id", event="event", ts="ts", channel=None, event_id=None
) -> pa.Table:
    """The input as canonical ``events`` columns; errors name the source, row and field."""
    raw_rows, where = _read(data)
    wanted = _columns(customer, event, ts, channel, event_id)
    _check_columns(raw_rows.column_names, wanted, where)
    core = _core(raw_rows, wanted, where)
    return _full(core, where, 0, max(len(str(raw_rows.num_rows)), 1))


class _Scratch:
    """The temporary database of one ``analyze_events`` call: removed (connection closed,
    directory deleted) when the last Analysis holding it is collected, on ``close()``, or
    at interpreter exit, whichever comes first."""

    def __init__(self, con, directory: str, keep: object = None) -> None:
        self.directory = directory
        self.keep = keep  # the Arrow rows the events view reads
        self._finalizer = weakref.finalize(self, _remove, con, directory)

    def close(self) -> None:
        self._finalizer()


def _remove(con, directory: str) -> None:
    forget_loaded_stores(con)
    try:
        con.disconnect()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def analyze_events(
    data,
    *,
    customer="customer_id",
    event="event",
    ts="ts",
    channel=None,
    event_id=None,
    settings: dict | None = None,
    partition_rows: int = PARTITION_ROWS,
) -> Analysis:
    """An :class:`Analysis` of a DataFrame, Arrow table or file of events (no workspace).

    ``partition_rows``: logs above it take the large path (module docstring).
    """
    settings = dict(settings or {})
    minutes = inactivity_minutes(settings)
    source, where, n = _source(data)
    wanted = _columns(customer, event, ts, channel, event_id)
    names = source.schema.names if isinstance(source, pa.Table) else None
    _check_columns(names or ds.dataset(source, format="parquet").schema.names, wanted, where)
    directory = tempfile.mkdtemp(prefix="journeymap-analysis-")
    con = connect(str(Path(directory) / "analysis.duckdb"))
    raw(con).execute(f"SET memory_limit = {literal(MEMORY_LIMIT)}")
    raw(con).execute(f"SET temp_directory = {literal(str(Path(directory) / 'spill'))}")
    try:
        if n <= partition_rows:
            keep = _load_in_memory(con, source, wanted, where, minutes)
        else:
            slices = -(-n // min(partition_rows, SLICE_ROWS))
            keep = _load_in_slices(con, source, wanted, where, n, minutes, directory, slices)
    except BaseException:
        _remove(con, directory)
        raise
    return Analysis(con, None, settings, scratch=_Scratch(con, directory, keep))


def _sort_columns(core: pa.Table) -> pa.Table:
    """The columns the store sorts and encodes (events stand for touchpoints, no stages)."""
    return core.select(["customer_id", "ts", "event", "channel"])


def _events_view(con, rows_sql: str, where: str, ids: bool, width: int) -> None:
    """``events`` as a view over checked rows with a ``session`` number (and a ``row``
    number when the input has no ids): canonical columns computed on read."""
    event_id = "event_id" if ids else f"lpad(CAST(\"row\" AS VARCHAR), {width}, '0')"
    raw(con).execute(
        f"""CREATE OR REPLACE TEMP VIEW events AS SELECT
              {event_id} AS event_id, customer_id, ts, event, channel,
              event AS touchpoint, CAST(NULL AS VARCHAR) AS stage,
              customer_id || '#' || CAST(session AS VARCHAR) AS session_id,
              CAST({literal(where)} AS VARCHAR) AS source
            FROM {rows_sql}"""
    )


def _with_row_numbers(core: pa.Table, first_row: int) -> pa.Table:
    """Rows of an input without ids get their 1-based row number (the tie key)."""
    if "event_id" in core.column_names:
        return core
    numbers = np.arange(first_row + 1, first_row + core.num_rows + 1, dtype=np.int64)
    return core.append_column("row", pa.array(numbers))


def _load_in_memory(con, source, wanted: dict[str, str], where: str, minutes: float):
    """Small path: sort in numpy, ``events`` a view over the Arrow rows (nothing copied
    into the database). Returns the rows the view reads (kept alive with the Analysis)."""
    started = time.perf_counter()
    raw_rows = source
    if isinstance(source, Path):
        raw_rows = pq.read_table(source, columns=list(dict.fromkeys(wanted.values())))
    core = _core(raw_rows, wanted, where)
    del raw_rows
    ids = core["event_id"] if "event_id" in core.column_names else None
    journeys, order = journeys_in_memory(_sort_columns(core), _micros(minutes), ids)
    keep_store(con, journeys, minutes, started)
    session = np.empty(len(order), dtype=np.int32)
    session[order] = journeys.session
    kept = _with_row_numbers(core, 0).append_column("session", pa.array(session))
    register_arrow(con, _INPUT, kept)
    _events_view(con, _INPUT, where, ids is not None, max(len(str(core.num_rows)), 1))
    return kept


def _micros(minutes: float) -> int:
    return int(round(minutes * 60 * 1_000_000))


def _bucket(customers: pa.Array, slices: int) -> np.ndarray:
    """Slice number of each row's customer: crc32 of the id (the same in every run), so a
    customer's events all land in one slice and slices are about equal."""
    encoded = pc.dictionary_encode(customers)
    distinct = encoded.dictionary.to_pylist()
    per_value = np.fromiter(
        (zlib.crc32(v.encode()) % slices for v in distinct), dtype=np.int32, count=len(distinct)
    )
    return per_value[encoded.indices.to_numpy(zero_copy_only=False)]


def _load_in_slices(
    con, source, wanted: dict[str, str], where: str, n: int, minutes: float, directory, slices
):
    """Large path, two passes over Parquet files in the temporary directory.

    1. the input is read in batches, checked, and each row appended to the file of its
       customer's slice (customers by hash, so a slice holds whole customers);
    2. each slice is read back, sorted in numpy into journeys, and rewritten with its
       session numbers; ``events`` is a view over those files.

    Memory holds one batch, then one slice plus the journeys (about 20 bytes per event);
    nothing is written to the database itself.
    """
    started = time.perf_counter()
    stage, final = Path(directory) / "stage", Path(directory) / "events"
    stage.mkdir()
    final.mkdir()
    writers: dict[int, pq.ParquetWriter] = {}
    seen: dict[str, set] = {"event": set(), "channel": set()}
    first_row = 0
    try:
        for batch in _batches(source, list(dict.fromkeys(wanted.values()))):
            core = _with_row_numbers(
                _core(pa.Table.from_batches([batch]), wanted, where, first_row), first_row
            )
            for kind, values in seen.items():
                values.update(v for v in pc.unique(core[kind]).to_pylist() if v is not None)
            bucket = _bucket(core["customer_id"].combine_chunks(), slices)
            order = np.argsort(bucket, kind="stable")  # keeps input order within a slice
            bounds = np.searchsorted(bucket[order], np.arange(slices + 1))
            grouped = core.take(pa.array(order))
            for b in np.flatnonzero(np.diff(bounds)):
                if b not in writers:
                    writers[b] = pq.ParquetWriter(stage / f"{b}.parquet", grouped.schema)
                writers[b].write_table(grouped.slice(bounds[b], bounds[b + 1] - bounds[b]))
            first_row += core.num_rows
    finally:
        for writer in writers.values():
            writer.close()
    pa.default_memory_pool().release_unused()  # batches are done: give their memory back
    names = {k: np.array(sorted(v), dtype=object) for k, v in seen.items()}
    files: list[Path] = []

    def sliced():
        """Each slice's journeys; its rows rewritten with their session numbers."""
        for b in sorted(writers):
            rows = pq.read_table(stage / f"{b}.parquet")
            (stage / f"{b}.parquet").unlink()
            ids = rows["event_id"] if "event_id" in rows.column_names else None
            journeys, order = journeys_in_memory(_sort_columns(rows), _micros(minutes), ids, names)
            session = np.empty(len(order), dtype=np.int32)
            session[order] = journeys.session
            del order
            files.append(final / f"{b}.parquet")
            pq.write_table(rows.append_column("session", pa.array(session)), files[-1])
            del rows, session
            pa.default_memory_pool().release_unused()
            yield journeys

    keep_store(con, Journeys.concat(sliced(), n_events=first_row), minutes, started)
    listing = ", ".join(literal(str(f)) for f in files)
    _events_view(con, f"read_parquet([{listing}])", where, "event_id" in wanted, len(str(n)))
