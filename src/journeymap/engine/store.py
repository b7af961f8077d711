"""The journey store: sessions filled in, and every customer's events sorted once.

Step 3 of the workspace refresh pipeline (docs/contracts.md). ``build_store(ws)``

1. sorts the events once by customer and the tie rule ``(ts, event, event_id)``, one range
   of customers (about ``STORE_SLICE_ROWS`` events) at a time, so memory holds one slice;
   the sort is numpy's on integer codes (:func:`journeys_in_memory`), not the database's;
2. numbers sessions on the sorted rows (setting ``sessions.inactivity_minutes``, default
   30; see :func:`.journeys.session_numbers`) and rewrites ``events`` from those rows with
   ``session_id = "<customer_id>#<n>"`` filled, stored in journey order (built as a new
   table slice by slice and swapped in at the end);
3. writes one row per customer with ordered arrays of codes (event, touchpoint, stage, channel),
   times (int64 microseconds, UTC) and session numbers, plus the code dictionaries.

Tables written: ``journey_store`` (customer_id, ts, event, touchpoint, stage, channel,
session: lists), ``journey_store_dict`` (kind, code, name) and ``journey_store_meta``
(events_rows, inactivity_minutes, built_at). One row per session is not stored: sessions
are cut from the ``session`` array on read (:meth:`Journeys.by_session`), which is cheap
and keeps one copy of the data.

The store is used only while it is fresh: ``journey_store_meta.events_rows`` must equal
the row count of ``events`` (the refresh pipeline rebuilds it after every ingest).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from journeymap.engine.backend import as_utc
from journeymap.engine.journeys import (
    ID_DTYPE,
    KINDS,
    ROW_COLUMNS,
    Journeys,
    as_ids,
    count_per_journey,
    dictionary,
    encode,
    ids_to_arrow,
    micros,
    session_numbers,
)
from journeymap.workspace.backend import (
    append_rows,
    atomic,
    drop_table,
    is_spark,
    memory_at_most,
    move_table,
    quote,
    raw,
    register_arrow,
    release_cached_blocks,
    write_table,
)
from journeymap.workspace.customer_ranges import customer_bounds, in_ranges

STORE = "journey_store"
STORE_DICT = "journey_store_dict"
STORE_META = "journey_store_meta"
DEFAULT_INACTIVITY_MINUTES = 30.0
#: Events that ``analyze_events`` sorts in one piece in memory (:mod:`.standalone`); above
#: it the input is split by customer into sorted slices.
PARTITION_ROWS = 16_000_000
#: Events per slice of a workspace's store build (:func:`build_store`). A slice is fetched
#: with every events column (about 1 GB of Arrow per 4M events, copied twice while it is
#: sorted and given its session ids), so this bounds the build's memory; at 10M events a
#: single 16M slice peaked at 10 GB. Each extra slice costs one filtered scan.
STORE_SLICE_ROWS = 4_000_000
_BUILDING = "events__journey_store_build"
_BUILDING_STORE = "journey_store__build"
#: Above this many events a workspace store build does not keep its journeys in the
#: process (about 28 bytes an event, on top of one slice and DuckDB's own memory): each
#: slice's store rows are written as soon as it is sorted, and the first question reads
#: the store back. At 100M events keeping them would cost 2.8 GB and pass 8 GB.
KEEP_BUILT_ROWS = 32_000_000
#: DuckDB's memory while such a build streams its slices: its queries are scans and
#: filters, and the buffers it would keep up to the refresh's cap (5 GB in the 100M
#: benchmark) came on top of a 4M-event slice copied twice (killed above 10 GB).
STREAMED_DUCKDB_BYTES = 2 * 2**30
#: Events per slice on that streamed path: each slice is held about three times over
#: (fetched, reordered, given session ids) on top of DuckDB's 2 GB, and at 100M 4M-event
#: slices swung the build between 5.5 and 8.3 GB. Each slice costs one more scan.
STREAMED_SLICE_ROWS = 2_000_000
#: Customers per record batch when the store is read back (:func:`load_store`): about
#: 1.4M events, tens of MB, on top of the journeys' own arrays.
LOAD_BATCH_CUSTOMERS = 250_000
#: DuckDB's memory while the store is read back: a scan needs little, and the blocks it
#: reads would otherwise stay cached up to the session's cap beside the journeys.
LOAD_DUCKDB_BYTES = 512 * 2**20

#: What a process holds of the store: every event ("all"), or only the mapped events, those
#: with a touchpoint or a stage ("mapped"): all that paths, funnels, flows, metrics and
#: pain detection read. Unmapped events are a fifth of the 100M-event benchmark: loading
#: without them saves 0.6 GB, and each question's copy of the mapped events (1.5 GB).
SCOPES = ("all", "mapped")

#: Journeys of the store per connection, with the ``built_at`` they were built at and
#: their scope: a store is read from the database once per process (again only to widen
#: "mapped" to "all"), and a build leaves its own result here, so the first question after
#: ``analyze_events`` or a refresh does not read it back.
_LOADED: dict[int, tuple[datetime, str, Journeys]] = {}


@dataclass(frozen=True)
class StoreReport:
    """What ``build_store`` did; printed by the CLI after a refresh."""

    events: int
    customers: int
    sessions: int
    inactivity_minutes: float
    seconds: float

    def __str__(self) -> str:
        return (
            f"journey store: {self.events:,} events, {self.customers:,} customers, "
            f"{self.sessions:,} sessions (gap > {self.inactivity_minutes:g} min) "
            f"in {self.seconds:.1f} s"
        )


def inactivity_minutes(settings: dict | None) -> float:
    """The session gap from workspace settings, validated."""
    value = ((settings or {}).get("sessions") or {}).get(
        "inactivity_minutes", DEFAULT_INACTIVITY_MINUTES
    )
    try:
        minutes = float(value)
    except (TypeError, ValueError):
        minutes = -1.0
    if minutes <= 0:
        raise ValueError(
            f"journeymap.toml [sessions] inactivity_minutes: expected a positive number "
            f"of minutes, got {value!r}"
        )
    return minutes


def build_store(
    ws, source: ibis.Table | None = None, partition_rows: int = STORE_SLICE_ROWS
) -> StoreReport:
    """Fill ``events.session_id`` and (re)build the sorted journey store of workspace ``ws``.

    ``ws`` needs ``.con`` (Ibis backend) and ``.settings``; anything with those works.
    ``source`` replaces the events table as input (an Ibis table with the canonical
    columns; ``analyze_events`` builds its store without the database, see
    :mod:`.standalone`).

    Memory: the events are fetched one range of customers at a time (about
    ``partition_rows`` events each, ranges in customer order) and sorted in numpy
    (:func:`journeys_in_memory`; a database ``ORDER BY`` over the string keys costs twice
    the CPU and spills), so only one slice of the log is held in Python at once; the
    rewritten ``events`` table is filled slice by slice and swapped in at the end. Ranges
    follow ``ORDER BY customer_id``, so the slices back to back are the sorted log.
    """
    started = time.perf_counter()
    con = ws.con
    minutes = inactivity_minutes(getattr(ws, "settings", None))
    inactivity_us = int(round(minutes * 60 * 1_000_000))
    events = con.table("events") if source is None else source
    schema = events.schema().to_pyarrow()
    total = int(con.to_pyarrow(events.count()).as_py())
    names = None  # one slice: dictionaries come from its rows; several: one set for all
    if total > partition_rows:
        names = {k: dictionary(con.to_pyarrow(events.select(k).distinct())[k]) for k in KINDS}
    keep = total <= KEEP_BUILT_ROWS
    parts, written, customers, sessions = [], 0, 0, 0
    # Smaller slices where memory is tight: a streamed build (DuckDB's buffers beside the
    # slice), and Spark, whose rows reach Python through pandas (Ibis's PySpark
    # ``to_pyarrow``) beside the JVM's heap: at 10M, 4M-event slices passed 10 GB.
    small = not keep or is_spark(con)
    slice_rows = min(partition_rows, STREAMED_SLICE_ROWS) if small else partition_rows
    ranges = in_ranges(events, customer_bounds(con, events, total, slice_rows))
    for part in ranges if keep else _with_memory_at_most(con, ranges, STREAMED_DUCKDB_BYTES):
        rows = con.to_pyarrow(part)  # in any order: sorted here, in numpy
        journeys, order = journeys_in_memory(
            rows.select(ROW_COLUMNS[:-1]), inactivity_us, rows["event_id"], names
        )
        rows = rows.take(pa.array(order))
        del order
        session_id = pc.binary_join_element_wise(
            rows["customer_id"].cast(pa.string()),
            pa.array(journeys.session).cast(pa.string()),
            "#",
        )
        index = rows.schema.get_field_index("session_id")
        rows = rows.set_column(index, "session_id", session_id).cast(schema)
        if written == 0:
            write_table(con, _BUILDING, rows)
        else:
            append_rows(con, _BUILDING, rows)
        if keep:
            parts.append(journeys)
        else:  # store rows of this slice now (slices are in customer order)
            store_rows = _store_rows(journeys)
            (write_table if written == 0 else append_rows)(con, _BUILDING_STORE, store_rows)
            customers += len(journeys)
            sessions += _count_sessions(journeys)
            store_names = journeys.names  # the given dictionaries, as in every slice
        written += rows.num_rows
        del rows, journeys
    if written != total:  # a customer range missed rows: never drop events silently
        drop_table(con, _BUILDING)
        drop_table(con, _BUILDING_STORE)
        raise RuntimeError(f"journey store build: read {written} of {total} events rows")
    if keep:
        move_table(con, _BUILDING, "events")
        return keep_store(con, Journeys.concat(parts), minutes, started, in_memory=False)
    with atomic(con):  # the events and their store are swapped in together
        move_table(con, _BUILDING, "events")
        move_table(con, _BUILDING_STORE, STORE)
        _write_store_tables(con, store_names, total, minutes, write_table)
    forget_loaded_stores(con)
    return StoreReport(
        events=total,
        customers=customers,
        sessions=sessions,
        inactivity_minutes=minutes,
        seconds=time.perf_counter() - started,
    )


def _with_memory_at_most(con, items, limit_bytes: int):
    """``items``, with DuckDB's memory lowered to ``limit_bytes`` while they are used
    (the loop body included: the generator is suspended inside the block)."""
    with memory_at_most(con, limit_bytes):
        yield from items


def journeys_in_memory(
    rows: pa.Table,
    inactivity_us: int,
    event_id: pa.ChunkedArray | None = None,
    names: dict[str, np.ndarray] | None = None,
) -> tuple[Journeys, np.ndarray]:
    """Journeys of canonical ``rows`` in any order, sorted here in numpy, and the
    permutation that puts ``rows`` in journey order (``analyze_events``' one-slice path).

    The order is THE tie rule: customer, then ``(ts, event, event_id)``. Customers and
    events are sorted by their dictionary codes (code order == name order); rows still
    tied on (customer, ts, event) are then ordered by ``event_id`` (only those rows are
    sorted by text, a few percent of a log). Without ``event_id`` the input row order
    decides, as zero-padded row-number ids would: the sorts here are stable. Without a
    ``touchpoint`` column events stand for touchpoints; without ``stage`` none has one.
    Measured at 10M events: about 3 CPU s, against about 7 for DuckDB's ``ORDER BY`` over
    the strings.
    """
    customer, customers = encode(rows["customer_id"])
    given, codes, names = names or {}, {}, {}
    for kind in KINDS:
        if kind in rows.column_names:
            codes[kind], names[kind] = encode(rows[kind], given.get(kind))
    if "touchpoint" not in codes:  # events stand for touchpoints (analyze_events)
        codes["touchpoint"], names["touchpoint"] = codes["event"], names["event"]
    if "stage" not in codes:
        codes["stage"] = np.broadcast_to(np.int32(-1), (len(customer),))  # (read-only, no memory)
        names["stage"] = np.array([], object)
    ts = micros(rows["ts"])
    event = codes["event"]
    order = _tie_sort(customer, len(customers), ts, event, len(names["event"]))
    if event_id is not None and len(order) > 1:
        c, t, e = customer[order], ts[order], event[order]
        tied = (c[1:] == c[:-1]) & (t[1:] == t[:-1]) & (e[1:] == e[:-1])
        if tied.any():
            group = np.concatenate([[0], np.cumsum(~tied)])
            inside = np.flatnonzero(np.r_[tied, False] | np.r_[False, tied])
            sub = pa.table({"g": group[inside], "id": event_id.take(pa.array(order[inside]))})
            within = pc.sort_indices(sub, sort_keys=[("g", "ascending"), ("id", "ascending")])
            order[inside] = order[inside][within.to_numpy()]
    counts = np.bincount(customer, minlength=len(customers))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    ts = ts[order]
    customers = as_ids(customers)
    journeys = Journeys(
        customers=customers,
        keys=customers,
        offsets=offsets,
        ts=ts,
        codes=_taken(codes, order),
        names=names,
        session=session_numbers(ts, offsets, inactivity_us),
    )
    return journeys, order


def keep_store(
    con, journeys: Journeys, minutes: float, started: float, *, in_memory: bool = True
) -> StoreReport:
    """Make ``journeys`` (built in this process) the store of ``con`` and keep the
    in-process copy, so the first question does not read it back. ``in_memory`` writes
    views over their arrays (:func:`write_store`) instead of tables."""
    built = write_store(con, journeys, minutes, in_memory=in_memory)
    _LOADED[id(con)] = (built, "all", journeys)
    return StoreReport(
        events=journeys.n_events,
        customers=len(journeys),
        sessions=_count_sessions(journeys),
        inactivity_minutes=minutes,
        seconds=time.perf_counter() - started,
    )


def _count_sessions(journeys: Journeys) -> int:
    """Number of (customer, session) runs."""
    if journeys.n_events == 0:
        return 0
    jid, session = journeys.journey_of_event, journeys.session
    return int(1 + np.sum((jid[1:] != jid[:-1]) | (session[1:] != session[:-1])))


def _mapped_part(
    flat: dict[str, np.ndarray], lengths: np.ndarray, ids: pa.Array
) -> tuple[dict[str, np.ndarray], np.ndarray, pa.Array]:
    """One batch of store rows without its unmapped events (no touchpoint, no stage) and
    without the customers left with none (:func:`load_store`)."""
    keep = (flat["touchpoint"] >= 0) | (flat["stage"] >= 0)
    if keep.all():
        return flat, lengths, ids
    bounds = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=bounds[1:])
    kept = count_per_journey(keep, bounds)
    rows = kept > 0
    return {n: v[keep] for n, v in flat.items()}, kept[rows], ids.filter(pa.array(rows))


def _list_column(values: np.ndarray, offsets: np.ndarray) -> pa.ListArray:
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(values))


def _tie_sort(
    customer: np.ndarray, n_customers: int, ts: np.ndarray, event: np.ndarray, n_events: int
) -> np.ndarray:
    """Stable permutation ordering rows by (customer, ts, event) codes.

    When the three fit in one int64 (customer bits + time bits + event bits <= 63, time
    counted in whole seconds or milliseconds when every timestamp is one, as in most
    logs), one stable argsort of that key; else two (time and event, then customer),
    about twice the CPU.
    """
    if not len(ts):
        return np.zeros(0, dtype=np.int64)
    rel = ts - ts.min()
    unit = 1
    for candidate in (1_000_000, 1_000):
        if not (rel % candidate).any():
            unit = candidate
            break
    if unit > 1:
        rel //= unit
    t_bits = int(rel.max()).bit_length()
    e_bits = (n_events + 1).bit_length()
    if n_customers.bit_length() + t_bits + e_bits <= 63:
        key = customer.astype(np.int64) << t_bits
        key |= rel
        key <<= e_bits
        key |= event + 1
        return np.argsort(key, kind="stable")
    if t_bits + e_bits <= 63:
        rel <<= e_bits
        rel |= event + 1
        order = np.argsort(rel, kind="stable")
        return order[np.argsort(customer[order], kind="stable")]
    return np.lexsort((event, ts, customer))


def _taken(codes: dict[str, np.ndarray], order: np.ndarray) -> dict[str, np.ndarray]:
    """``codes`` permuted by ``order``; kinds sharing one array (touchpoint = event) or
    holding no value at all (every code -1) are not permuted again."""
    done: dict[int, np.ndarray] = {}
    result = {}
    for kind, values in codes.items():
        if id(values) not in done:
            done[id(values)] = values if not (values >= 0).any() else values[order]
        result[kind] = done[id(values)]
    return result


def _arrow_view(con, name: str, table: pa.Table) -> None:
    """Table ``name`` as a temporary view over Arrow rows held by the connection."""
    register_arrow(con, f"{name}__arrow", table)
    raw(con).execute(
        f"CREATE OR REPLACE TEMP VIEW {quote(name)} AS SELECT * FROM {quote(name + '__arrow')}"
    )


def write_store(con, journeys: Journeys, minutes: float, *, in_memory: bool = False) -> datetime:
    """Write the three store tables for ``journeys`` (customer level); returns ``built_at``.

    ``in_memory`` (``analyze_events``' temporary database): the tables are views over
    Arrow tables held by the connection instead of written rows (nothing to write; the
    journeys are in memory anyway)."""
    write = _arrow_view if in_memory else write_table
    write(con, STORE, _store_rows(journeys))
    return _write_store_tables(con, journeys.names, journeys.n_events, minutes, write)


def _store_rows(journeys: Journeys) -> pa.Table:
    """The ``journey_store`` rows of ``journeys``: one per customer, arrays in order."""
    offsets = journeys.offsets
    columns = {
        "customer_id": ids_to_arrow(journeys.customers),
        "ts": _list_column(journeys.ts, offsets),
        **{k: _list_column(journeys.codes[k], offsets) for k in KINDS},
        "session": _list_column(journeys.session, offsets),
    }
    return pa.table(columns)


def _write_store_tables(con, names: dict, n_events: int, minutes: float, write) -> datetime:
    """Write ``journey_store_dict`` and ``journey_store_meta``; returns ``built_at``."""
    dictionary = pa.table(
        {
            "kind": [k for k in KINDS for _ in names[k]],
            "code": pa.array([i for k in KINDS for i in range(len(names[k]))], type=pa.int32()),
            "name": pa.array([str(n) for k in KINDS for n in names[k]], pa.string()),
        }
    )
    write(con, STORE_DICT, dictionary)
    built = datetime.now(UTC)  # microseconds: the value read back from the table is equal
    meta = pa.table(
        {
            "events_rows": pa.array([n_events], pa.int64()),
            "inactivity_minutes": pa.array([minutes], pa.float64()),
            "built_at": pa.array([built], pa.timestamp("us", tz="UTC")),
        }
    )
    write(con, STORE_META, meta)
    return built


def store_is_fresh(con) -> bool:
    """True when the store exists and was built from the current ``events`` table."""
    tables = set(con.list_tables())
    if not {STORE, STORE_DICT, STORE_META, "events"} <= tables:
        return False
    built = con.table(STORE_META).events_rows.max().to_pyarrow().as_py()
    return built == con.table("events").count().to_pyarrow().as_py()


def loaded_store(con, scope: str = "all") -> Journeys:
    """The store's journeys (every event, or with ``scope="mapped"`` only the mapped ones:
    :data:`SCOPES`), read from the database only when this process has not got them for
    the store's current ``built_at`` (callers check :func:`store_is_fresh`). A process
    holds one copy: "all" serves both scopes, and asking "all" after "mapped" replaces it."""
    if scope not in SCOPES:
        raise ValueError(f"store scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    built = as_utc(con.table(STORE_META).built_at.max().to_pyarrow().as_py())
    cached = _LOADED.get(id(con))
    if cached is None or cached[0] != built or (cached[1], scope) == ("mapped", "all"):
        _LOADED.pop(id(con), None)  # (let the old copy go before reading the new one)
        del cached
        cached = (built, scope, load_store(con, mapped_only=scope == "mapped"))
        _LOADED[id(con)] = cached
    return cached[2]


def forget_loaded_stores(con=None) -> None:
    """Drop the in-process copies (the benchmark uses this to time a fresh process), or
    only the one of connection ``con`` (when its database is closed)."""
    if con is None:
        _LOADED.clear()
    else:
        _LOADED.pop(id(con), None)


def load_store(con, *, mapped_only: bool = False) -> Journeys:
    """The customer-level journeys held in the store; with ``mapped_only`` only the events
    that have a touchpoint or a stage, and the customers that have one of those.

    Streamed in record batches (``LOAD_BATCH_CUSTOMERS`` customers each) into arrays
    allocated once from the store's sizes, with DuckDB's memory lowered to
    ``LOAD_DUCKDB_BYTES`` meanwhile, so memory holds the journeys plus one batch. At 100M
    events, fetching the store whole passed 10 GB in 13 s (DuckDB's result, its Arrow
    copy, then the arrays), and streaming alone still did: DuckDB kept the blocks it had
    read, up to its cap (5 GB in the benchmark). One scan, so each row's columns line up.
    With ``mapped_only`` the arrays are filled from the front and shrunk in place at the
    end (``ndarray.resize``, a ``realloc``): their tails are never written, so the
    unmapped events never take memory.
    """
    store = con.table(STORE)
    size = con.to_pyarrow(store.aggregate(customers=store.count(), events=store.ts.length().sum()))
    n_customers = int(size["customers"][0].as_py())
    n_events = int(size["events"][0].as_py() or 0)
    dtypes = {"ts": np.int64, **dict.fromkeys(KINDS, np.int32), "session": np.int32}
    columns = {name: np.empty(n_events, dtype) for name, dtype in dtypes.items()}
    offsets = np.zeros(n_customers + 1, dtype=np.int64)
    customers = np.empty(n_customers, dtype=ID_DTYPE)
    read_rows = read_events = row = event = 0
    with memory_at_most(con, LOAD_DUCKDB_BYTES):  # set before the scan: a SET ends it
        for batch in con.to_pyarrow_batches(store, chunk_size=LOAD_BATCH_CUSTOMERS):
            lengths = batch.column("ts").value_lengths().to_numpy(zero_copy_only=False)
            read_rows, read_events = read_rows + len(lengths), read_events + int(lengths.sum())
            if read_rows > n_customers or read_events > n_events:
                raise RuntimeError("journey store: it changed while it was being read")
            flat = {n: batch.column(n).flatten().to_numpy(zero_copy_only=False) for n in dtypes}
            ids = batch.column("customer_id")
            del batch
            if mapped_only:
                flat, lengths, ids = _mapped_part(flat, lengths, ids)
            n = len(lengths)
            np.cumsum(lengths, out=offsets[row + 1 : row + 1 + n])
            offsets[row + 1 : row + 1 + n] += event
            end = int(offsets[row + n])
            for name, values in flat.items():
                columns[name][event:end] = values
            customers[row : row + n] = ids.to_numpy(zero_copy_only=False)
            row, event = row + n, end
            del flat, ids
        release_cached_blocks(con)  # (what the scan read stays cached otherwise)
    if (read_rows, read_events) != (n_customers, n_events):
        raise RuntimeError(
            f"journey store: read {read_rows} customers and {read_events} events, "
            f"expected {n_customers} and {n_events}"
        )
    if (row, event) != (n_customers, n_events):  # (only with mapped_only: nothing views them)
        for values in columns.values():
            values.resize(event, refcheck=False)
        offsets.resize(row + 1, refcheck=False)
        customers.resize(row, refcheck=False)
    dictionary = con.table(STORE_DICT).to_pyarrow().to_pydict()
    names = {k: [] for k in KINDS}
    for kind, code, name in zip(
        dictionary["kind"], dictionary["code"], dictionary["name"], strict=True
    ):
        names[kind].append((code, name))
    return Journeys(
        customers=customers,
        keys=customers,
        offsets=offsets,
        ts=columns["ts"],
        codes={k: columns[k] for k in KINDS},
        names={k: np.array([n for _, n in sorted(v)], dtype=object) for k, v in names.items()},
        session=columns["session"],
    )
