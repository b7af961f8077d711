"""The journey store: sessions filled in, and every customer's events sorted once.

Step 3 of the workspace refresh pipeline (docs/contracts.md). ``build_store(ws)``

1. sorts the events once by customer and the tie rule ``(ts, event, event_id)``, one range
   of customers (about ``PARTITION_ROWS`` events) at a time, so memory holds one slice;
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

from journeymap.engine.backend import TIE_ORDER, rename_table
from journeymap.engine.journeys import KINDS, ROW_COLUMNS, Journeys, dictionary

STORE = "journey_store"
STORE_DICT = "journey_store_dict"
STORE_META = "journey_store_meta"
DEFAULT_INACTIVITY_MINUTES = 30.0
#: Events per slice of the store build (see :func:`build_store`): bounds its memory. Measured
#: at 10M events: 2M-event slices cut the peak by about 0.9 GB but cost about 2 CPU s more
#: (a filtered scan per slice), so logs up to this size are still built in one slice.
PARTITION_ROWS = 16_000_000
_BUILDING = "events__journey_store_build"

#: Journeys of the store per connection, with the ``built_at`` they were built at: a store
#: is read from the database once per process, and a build leaves its own result here, so
#: the first question after ``analyze_events`` or a refresh does not read it back.
_LOADED: dict[int, tuple[datetime, Journeys]] = {}


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
    ws, source: ibis.Table | None = None, partition_rows: int = PARTITION_ROWS
) -> StoreReport:
    """Fill ``events.session_id`` and (re)build the sorted journey store of workspace ``ws``.

    ``ws`` needs ``.con`` (Ibis backend) and ``.settings``; anything with those works.
    ``source`` replaces the events table as input (``analyze_events`` passes its Arrow
    rows as a memtable, so they are copied into the database once, already sorted).

    Memory: the events are sorted and fetched one range of customers at a time (about
    ``partition_rows`` events each, ranges in customer order), so only one slice of the
    log is held in Python at once; the rewritten ``events`` table is filled slice by slice
    and swapped in at the end. Ranges follow ``ORDER BY customer_id``, so the slices
    back to back are exactly the globally sorted log.
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
    parts, written = [], 0
    for part in _customer_ranges(con, events, total, partition_rows):
        rows = con.to_pyarrow(part.order_by(["customer_id", *TIE_ORDER]))
        journeys = Journeys.from_rows(
            rows.select(ROW_COLUMNS), inactivity_us=inactivity_us, names=names
        )
        session_id = pc.binary_join_element_wise(
            rows["customer_id"].cast(pa.string()),
            pa.array(journeys.session).cast(pa.string()),
            "#",
        )
        index = rows.schema.get_field_index("session_id")
        rows = rows.set_column(index, "session_id", session_id).cast(schema)
        if written == 0:
            con.create_table(_BUILDING, rows, overwrite=True)
        else:
            con.insert(_BUILDING, rows)
        written += rows.num_rows
        parts.append(journeys)
        del rows
    if written != total:  # a customer range missed rows: never drop events silently
        con.drop_table(_BUILDING, force=True)
        raise RuntimeError(f"journey store build: read {written} of {total} events rows")
    con.drop_table("events", force=True)
    rename_table(con, _BUILDING, "events")
    journeys = Journeys.concat(parts)
    built = write_store(con, journeys, minutes)
    _LOADED[id(con)] = (built, journeys)
    return StoreReport(
        events=journeys.n_events,
        customers=len(journeys),
        sessions=_count_sessions(journeys),
        inactivity_minutes=minutes,
        seconds=time.perf_counter() - started,
    )


def _customer_ranges(con, events: ibis.Table, total: int, partition_rows: int):
    """``events`` cut into ranges of whole customers of about ``partition_rows`` events,
    in ``ORDER BY customer_id`` order (a NULL customer, which ingest never writes, would
    sort last and goes with the last range)."""
    if total <= partition_rows:
        yield events
        return
    sizes = con.to_pyarrow(
        events.group_by("customer_id").agg(n=events.count()).order_by("customer_id")
    )
    cumulative = np.cumsum(sizes["n"].to_numpy())
    cuts = np.searchsorted(cumulative, np.arange(partition_rows, total, partition_rows))
    cuts = np.unique(cuts[(cuts + 1) < len(cumulative)] + 1)  # a range starts after a cut
    bounds = [sizes["customer_id"][int(i)].as_py() for i in cuts]
    bounds = [b for b in bounds if b is not None]
    cid = events.customer_id
    lower = None
    for bound in bounds:
        yield (
            events.filter(cid < bound)
            if lower is None
            else events.filter((cid >= lower) & (cid < bound))
        )
        lower = bound
    yield events if lower is None else events.filter((cid >= lower) | cid.isnull())


def _count_sessions(journeys: Journeys) -> int:
    """Number of (customer, session) runs."""
    if journeys.n_events == 0:
        return 0
    jid, session = journeys.journey_of_event, journeys.session
    return int(1 + np.sum((jid[1:] != jid[:-1]) | (session[1:] != session[:-1])))


def _list_column(values: np.ndarray, offsets: np.ndarray) -> pa.ListArray:
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(values))


def write_store(con, journeys: Journeys, minutes: float) -> datetime:
    """Write the three store tables for ``journeys`` (customer level); returns ``built_at``."""
    offsets = journeys.offsets
    columns = {
        "customer_id": pa.array(journeys.customers.astype(str), type=pa.string()),
        "ts": _list_column(journeys.ts, offsets),
        **{k: _list_column(journeys.codes[k], offsets) for k in KINDS},
        "session": _list_column(journeys.session, offsets),
    }
    con.create_table(STORE, pa.table(columns), overwrite=True)
    dictionary = pa.table(
        {
            "kind": [k for k in KINDS for _ in journeys.names[k]],
            "code": pa.array(
                [i for k in KINDS for i in range(len(journeys.names[k]))], type=pa.int32()
            ),
            "name": pa.array([str(n) for k in KINDS for n in journeys.names[k]], pa.string()),
        }
    )
    con.create_table(STORE_DICT, dictionary, overwrite=True)
    built = datetime.now(UTC)  # microseconds: the value read back from the table is equal
    meta = pa.table(
        {
            "events_rows": pa.array([journeys.n_events], pa.int64()),
            "inactivity_minutes": pa.array([minutes], pa.float64()),
            "built_at": pa.array([built], pa.timestamp("us", tz="UTC")),
        }
    )
    con.create_table(STORE_META, meta, overwrite=True)
    return built


def store_is_fresh(con) -> bool:
    """True when the store exists and was built from the current ``events`` table."""
    tables = set(con.list_tables())
    if not {STORE, STORE_DICT, STORE_META, "events"} <= tables:
        return False
    built = con.table(STORE_META).events_rows.max().to_pyarrow().as_py()
    return built == con.table("events").count().to_pyarrow().as_py()


def loaded_store(con) -> Journeys:
    """The store's journeys, read from the database only when this process has not got
    them for the store's current ``built_at`` (callers check :func:`store_is_fresh`)."""
    built = con.table(STORE_META).built_at.max().to_pyarrow().as_py()
    cached = _LOADED.get(id(con))
    if cached is None or cached[0] != built:
        cached = (built, load_store(con))
        _LOADED[id(con)] = cached
    return cached[1]


def forget_loaded_stores() -> None:
    """Drop the in-process copies (the benchmark uses this to time a fresh process)."""
    _LOADED.clear()


def load_store(con) -> Journeys:
    """The customer-level journeys held in the store."""
    table = con.table(STORE).to_pyarrow().combine_chunks()
    offsets = (
        table["ts"].chunk(0).offsets.to_numpy().astype(np.int64)
        if table.num_rows
        else (np.zeros(1, dtype=np.int64))
    )

    def flat(name: str, dtype) -> np.ndarray:
        if not table.num_rows:
            return np.zeros(0, dtype=dtype)
        chunk = table[name].chunk(0)
        return chunk.flatten().to_numpy(zero_copy_only=False).astype(dtype, copy=False)

    dictionary = con.table(STORE_DICT).to_pyarrow().to_pydict()
    names = {k: [] for k in KINDS}
    for kind, code, name in zip(
        dictionary["kind"], dictionary["code"], dictionary["name"], strict=True
    ):
        names[kind].append((code, name))
    customers = np.array(table["customer_id"].to_pylist(), dtype=object)
    return Journeys(
        customers=customers,
        keys=customers,
        offsets=offsets - offsets[0] if len(offsets) else offsets,
        ts=flat("ts", np.int64),
        codes={k: flat(k, np.int32) for k in KINDS},
        names={k: np.array([n for _, n in sorted(v)], dtype=object) for k, v in names.items()},
        session=flat("session", np.int32),
    )
