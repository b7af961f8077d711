"""The journey store: sessions filled in, and every customer's events sorted once.

Step 3 of the workspace refresh pipeline (docs/contracts.md). ``build_store(ws)``

1. sorts the events once by customer and the tie rule ``(ts, event, event_id)``;
2. numbers sessions on the sorted rows (setting ``sessions.inactivity_minutes``, default
   30; see :func:`.journeys.session_numbers`) and rewrites ``events`` from those rows with
   ``session_id = "<customer_id>#<n>"`` filled, stored in journey order;
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

from journeymap.engine.backend import TIE_ORDER
from journeymap.engine.journeys import KINDS, ROW_COLUMNS, Journeys

STORE = "journey_store"
STORE_DICT = "journey_store_dict"
STORE_META = "journey_store_meta"
DEFAULT_INACTIVITY_MINUTES = 30.0


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


def build_store(ws, source: ibis.Table | None = None) -> StoreReport:
    """Fill ``events.session_id`` and (re)build the sorted journey store of workspace ``ws``.

    ``ws`` needs ``.con`` (Ibis backend) and ``.settings``; anything with those works.
    ``source`` replaces the events table as input (``analyze_events`` passes its Arrow
    rows as a memtable, so they are copied into the database once, already sorted).
    """
    started = time.perf_counter()
    con = ws.con
    minutes = inactivity_minutes(getattr(ws, "settings", None))
    # Sort once: the rows come back in journey order, sessions are numbered on them
    # (journeys.session_numbers), the events table is rewritten from the same rows with
    # session_id filled (stored in journey order), and the store is cut from them too.
    events = con.table("events") if source is None else source
    rows = con.to_pyarrow(events.order_by(["customer_id", *TIE_ORDER]))
    journeys = Journeys.from_rows(
        rows.select(ROW_COLUMNS), inactivity_us=int(round(minutes * 60 * 1_000_000))
    )
    session_id = pc.binary_join_element_wise(
        rows["customer_id"].cast(pa.string()),
        pa.array(journeys.session).cast(pa.string()),
        "#",
    )
    rows = rows.set_column(rows.schema.get_field_index("session_id"), "session_id", session_id)
    con.create_table("events", rows.cast(events.schema().to_pyarrow()), overwrite=True)
    del rows
    write_store(con, journeys, minutes)
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


def _list_column(values: np.ndarray, offsets: np.ndarray) -> pa.ListArray:
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(values))


def write_store(con, journeys: Journeys, minutes: float) -> None:
    """Write the three store tables for ``journeys`` (customer level)."""
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
    meta = pa.table(
        {
            "events_rows": pa.array([journeys.n_events], pa.int64()),
            "inactivity_minutes": pa.array([minutes], pa.float64()),
            "built_at": pa.array([datetime.now(UTC)], pa.timestamp("us", tz="UTC")),
        }
    )
    con.create_table(STORE_META, meta, overwrite=True)


def store_is_fresh(con) -> bool:
    """True when the store exists and was built from the current ``events`` table."""
    tables = set(con.list_tables())
    if not {STORE, STORE_DICT, STORE_META, "events"} <= tables:
        return False
    built = con.table(STORE_META).events_rows.max().to_pyarrow().as_py()
    return built == con.table("events").count().to_pyarrow().as_py()


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
