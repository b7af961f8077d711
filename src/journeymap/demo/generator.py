"""``generate()``: write the whole demo workspace, chunk by chunk, then ingest it.

Customers are processed in fixed-size chunks, each with its own random stream seeded by
(seed, chunk number). Memory therefore stays bounded by one chunk whatever the size, and
the bytes written depend only on the seed and the size: the same call writes identical
files on every run.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from journeymap.demo import catalog as cat
from journeymap.demo import ground_truth
from journeymap.demo.behaviour import Journeys, simulate
from journeymap.demo.events import EVENT_NAMES, ID_COLUMNS, EventChunk, build_events
from journeymap.demo.feedback import FeedbackChunk, build_feedback
from journeymap.demo.people import People, attributes, make_people
from journeymap.workspace.settings import write_settings

CHUNK_CUSTOMERS = 20_000
#: Everything generate() writes; ``force`` removes exactly these and nothing else.
GENERATED = ("journey.yaml", "journeymap.toml", "ground_truth.json", "data", "truth", ".journeymap")
_COMPRESSION = "zstd"
_TS = pa.timestamp("ms", tz="UTC")
_S = pa.string()
_ID_FIELDS = [(k, _S) for k in ID_COLUMNS]
EVENT_SCHEMA = pa.schema(
    [("event_id", _S), ("ts", _TS), ("event", _S), ("channel", _S), *_ID_FIELDS]
    + [("revenue", pa.float64()), ("properties", _S)]
)
FEEDBACK_SCHEMA = pa.schema(
    [("feedback_id", _S), ("ts", _TS), ("kind", _S), ("score", pa.float64()), ("text", _S)]
    + [("touchpoint", _S), ("survey", _S), *_ID_FIELDS]
)
CUSTOMER_SCHEMA = pa.schema(
    [("crm_id", _S), ("email", _S), ("phone", _S), ("segment", _S), ("age_band", _S)]
    + [("region", _S), ("signup_channel", _S), ("loyalty_tier", _S)]
    + [("marketing_opt_in", pa.bool_())]
)
TRUTH_CUSTOMER_SCHEMA = pa.schema(
    [("true_customer_id", _S), ("persona", _S), ("has_record", pa.bool_()), ("crm_id", _S)]
    + [("email", _S), ("phone", _S), ("device_id", _S), ("anonymous_ids", pa.list_(_S))]
    + [("events", pa.int64()), ("visits", pa.int64()), ("converted", pa.bool_())]
    + [("orders", pa.int64()), ("revenue", pa.float64()), ("used_chat", pa.bool_())]
    + [("hub_phone", pa.bool_()), ("hub_device_id", pa.bool_()), ("hub_email", pa.bool_())]
)
TRUTH_EVENT_SCHEMA = pa.schema(
    [("event_id", _S), ("true_customer_id", _S), ("persona", _S), ("true_touchpoint", _S)]
    + [("system", _S)]
)
TRUTH_FEEDBACK_SCHEMA = pa.schema(
    [("feedback_id", _S), ("true_customer_id", _S), ("persona", _S), ("true_touchpoint", _S)]
    + [("event_id", _S)]
)
#: What the demo workspace sets in journeymap.toml (the rest are the workspace defaults).
DEMO_SETTINGS: dict[str, dict[str, Any]] = {
    "workspace": {"timezone": "UTC"},
    "identity": {"default_phone_region": "GB"},  # the demo's phone numbers are British
}
SETTINGS_HEADER = "journeymap.toml: settings of the demo workspace (see docs/contracts.md)."


class DemoError(ValueError):
    """The demo cannot be written as asked (bad argument, output folder in use)."""


@dataclass
class DemoResult:
    """What generate() wrote, and the workspace it built (None with ``ingest=False``)."""

    path: Path
    customers: int
    customers_with_record: int
    events: int
    feedback: int
    events_by_system: dict[str, int]
    seconds: float
    workspace: Any = None
    ingest_reports: list[Any] = field(default_factory=list)
    refresh_report: Any = None

    @property
    def ground_truth(self) -> dict[str, Any]:
        return json.loads((self.path / "ground_truth.json").read_text(encoding="utf-8"))


def generate(
    out_dir: str | Path,
    customers: int = 5000,
    seed: int = 7,
    start: str = "2026-01-01",
    days: int = 90,
    ingest: bool = True,
    progress: bool = True,
    force: bool = False,
) -> DemoResult:
    """Write the demo retailer's journey map, data and ground truth into ``out_dir``.

    Journeys start uniformly over ``days`` days from ``start`` (UTC) and may run past the
    window. With ``ingest`` the files are then loaded into the workspace through the
    public API. ``force`` replaces earlier demo output (only the names in GENERATED).
    """
    began = time.perf_counter()
    out = Path(out_dir)
    start_ms = _check_arguments(out, customers, seed, start, days, force)
    (out / "data" / "events").mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    _write_spec_and_settings(out)

    stats = _Stats()
    writers = _Writers(out)
    n_chunks = -(-customers // CHUNK_CUSTOMERS)
    try:
        with _progress(progress) as bar:
            task = bar.add_task("Generating demo data (chunks of customers)", total=n_chunks)
            for chunk in range(n_chunks):
                first = chunk * CHUNK_CUSTOMERS
                size = min(CHUNK_CUSTOMERS, customers - first)
                _one_chunk(out, writers, stats, seed, chunk, first, size, start_ms, days)
                bar.advance(task)
    finally:
        writers.close()
    _write_ground_truth(out, stats, customers, seed, start, days)
    result = DemoResult(
        path=out,
        customers=customers,
        customers_with_record=stats.with_record,
        events=sum(stats.events_by_system.values()),
        feedback=stats.feedback,
        events_by_system=dict(stats.events_by_system),
        seconds=0.0,
    )
    if ingest:
        _ingest(out, result, progress)
    result.seconds = time.perf_counter() - began
    return result


def _check_arguments(
    out: Path, customers: int, seed: int, start: str, days: int, force: bool
) -> int:
    if not isinstance(customers, int) or customers < 1:
        raise DemoError(f"customers: expected a whole number >= 1, got {customers!r}")
    if not isinstance(seed, int) or seed < 0:
        raise DemoError(f"seed: expected a whole number >= 0, got {seed!r}")
    if not isinstance(days, int) or days < 1:
        raise DemoError(f"days: expected a whole number >= 1, got {days!r}")
    try:
        day = dt.date.fromisoformat(start)
    except (TypeError, ValueError):
        raise DemoError(f"start: expected a date as YYYY-MM-DD, got {start!r}") from None
    if out.exists() and not out.is_dir():
        raise DemoError(f"{out}: exists and is not a folder")
    present = [name for name in GENERATED if (out / name).exists()]
    if present and not force:
        raise DemoError(
            f"{out}: already holds demo output ({', '.join(present)}); "
            "pass force=True (--force) to replace it"
        )
    for name in present:
        target = out / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    midnight = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return int(midnight.timestamp() * 1000)


def _write_spec_and_settings(out: Path) -> None:
    spec = resources.files("journeymap.demo").joinpath("journey.yaml").read_text(encoding="utf-8")
    (out / "journey.yaml").write_text(spec, encoding="utf-8")
    write_settings(out, DEMO_SETTINGS, header=SETTINGS_HEADER)


@dataclass
class _Stats:
    with_record: int = 0
    feedback: int = 0
    unmapped: int = 0
    events_by_system: dict[str, int] = field(default_factory=lambda: dict.fromkeys(cat.SYSTEMS, 0))
    personas: dict[str, int] = field(default_factory=lambda: dict.fromkeys(cat.PERSONA_IDS, 0))
    hubs: dict[str, int] = field(default_factory=lambda: {"phone": 0, "device_id": 0, "email": 0})
    feedback_by_kind: dict[str, int] = field(
        default_factory=lambda: {"nps": 0, "csat": 0, "ces": 0}
    )


class _Writers:
    """Single-file outputs, appended one row group per chunk to keep memory bounded."""

    def __init__(self, out: Path) -> None:
        files = {
            "customers": (out / "data" / "customers.parquet", CUSTOMER_SCHEMA),
            "feedback": (out / "data" / "feedback.parquet", FEEDBACK_SCHEMA),
            "truth_customers": (out / "truth" / "customers.parquet", TRUTH_CUSTOMER_SCHEMA),
            "truth_events": (out / "truth" / "event_customers.parquet", TRUTH_EVENT_SCHEMA),
            "truth_feedback": (out / "truth" / "feedback.parquet", TRUTH_FEEDBACK_SCHEMA),
        }
        self._w = {
            k: pq.ParquetWriter(path, schema, compression=_COMPRESSION)
            for k, (path, schema) in files.items()
        }

    def write(self, name: str, columns: dict[str, Any]) -> None:
        writer = self._w[name]
        self._w[name].write_table(_table(columns, writer.schema))

    def close(self) -> None:
        for w in self._w.values():
            w.close()


def _table(columns: dict[str, Any], schema: pa.Schema) -> pa.Table:
    arrays = []
    for f in schema:
        values = columns[f.name]
        if pa.types.is_timestamp(f.type):
            arrays.append(pa.array(values, type=pa.int64()).cast(f.type))
        else:
            arrays.append(pa.array(values, type=f.type, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=schema)


def _one_chunk(
    out: Path,
    writers: _Writers,
    stats: _Stats,
    seed: int,
    chunk: int,
    first: int,
    size: int,
    start_ms: int,
    days: int,
) -> None:
    rng = np.random.default_rng([seed, chunk])
    people = make_people(rng, first, size, start_ms, days)
    journeys = simulate(rng, people.persona, people.start_ms)
    events = build_events(rng, chunk, people, journeys)
    feedback = build_feedback(rng, chunk, people, journeys, events)
    emailed = np.bincount(
        journeys.customer[journeys.tp == cat.TP["promo_email"]], minlength=size
    ).astype(bool)
    attrs = attributes(rng, people, emailed)

    all_events = _table(events.columns, EVENT_SCHEMA)  # converted once, filtered per system
    for s, system in enumerate(cat.SYSTEMS):
        rows = events.system == s
        if rows.any():
            folder = out / "data" / "events" / system
            folder.mkdir(exist_ok=True)
            table = all_events.filter(pa.array(rows))
            pq.write_table(table, folder / f"part-{chunk:04d}.parquet", compression=_COMPRESSION)
            stats.events_by_system[system] += int(rows.sum())
    writers.write("customers", _customer_records(rng, people, attrs))
    writers.write("feedback", feedback.columns)
    _write_truth(writers, people, journeys, events, feedback)

    stats.with_record += int(people.has_record.sum())
    stats.feedback += len(feedback.customer)
    stats.unmapped += int(np.sum(events.true_touchpoint == None))  # noqa: E711
    for p, pid in enumerate(cat.PERSONA_IDS):
        stats.personas[pid] += int(np.sum(people.persona == p))
    for kind in stats.hubs:
        stats.hubs[kind] += int(events.hub_members[kind].sum())
    for kind in stats.feedback_by_kind:
        stats.feedback_by_kind[kind] += int(np.sum(feedback.columns["kind"] == kind))


def _customer_records(
    rng: np.random.Generator, people: People, attrs: dict[str, np.ndarray]
) -> dict[str, Any]:
    """CRM export: customers with a record, e-mails and phones as the CRM holds them."""
    keep = np.flatnonzero(people.has_record)
    k = len(keep)
    email_spelling = rng.choice(4, size=k, p=[0.85, 0.05, 0.1, 0.0])
    phone_spelling = rng.choice(4, size=k, p=[0.4, 0.6, 0.0, 0.0])
    phone = people.phone_variants[keep, phone_spelling]
    phone[rng.random(k) < 0.25] = None  # not every customer gave a phone number
    return {
        "crm_id": people.crm_id[keep],
        "email": people.email_variants[keep, email_spelling],
        "phone": phone,
        **{name: values[keep] for name, values in attrs.items()},
    }


def _write_truth(
    writers: _Writers, people: People, j: Journeys, events: EventChunk, fb: FeedbackChunk
) -> None:
    n = len(people)
    persona_names = np.array(cat.PERSONA_IDS, dtype=object)
    ids = people.customer_id
    writers.write(
        "truth_events",
        {
            "event_id": events.columns["event_id"],
            "true_customer_id": ids[events.customer],
            "persona": persona_names[people.persona[events.customer]],
            "true_touchpoint": events.true_touchpoint,
            "system": np.array(cat.SYSTEMS, dtype=object)[events.system],
        },
    )
    writers.write(
        "truth_feedback",
        {
            "feedback_id": fb.columns["feedback_id"],
            "true_customer_id": ids[fb.customer],
            "persona": persona_names[people.persona[fb.customer]],
            "true_touchpoint": fb.true_touchpoint,
            "event_id": events.columns["event_id"][fb.event_row],
        },
    )
    goal = j.tp == cat.TP[cat.GOAL]
    orders = np.bincount(j.customer[goal], minlength=n)
    revenue = np.bincount(
        events.customer, weights=np.nan_to_num(events.columns["revenue"]), minlength=n
    )
    cookies = [list(people.cookies[i, : people.n_cookies[i]]) for i in range(n)]
    writers.write(
        "truth_customers",
        {
            "true_customer_id": ids,
            "persona": persona_names[people.persona],
            "has_record": people.has_record,
            "crm_id": people.crm_id,
            "email": people.email,
            "phone": people.phone,
            "device_id": people.device_id,
            "anonymous_ids": cookies,
            "events": np.bincount(events.customer, minlength=n),
            "visits": np.bincount(j.customer, minlength=n),
            "converted": orders > 0,
            "orders": orders,
            "revenue": np.round(revenue, 2),
            "used_chat": np.bincount(
                j.customer[j.tp == cat.TP[cat.CHAT_TOUCHPOINT]], minlength=n
            ).astype(bool),
            "hub_phone": events.hub_members["phone"],
            "hub_device_id": events.hub_members["device_id"],
            "hub_email": events.hub_members["email"],
        },
    )


def _write_ground_truth(
    out: Path, stats: _Stats, customers: int, seed: int, start: str, days: int
) -> None:
    truth = {
        "generator": {
            "name": "journeymap.demo",
            "customers": customers,
            "seed": seed,
            "start": start,
            "days": days,
            "chunk_customers": CHUNK_CUSTOMERS,
        },
        "counts": {
            "customers": customers,
            "customers_with_record": stats.with_record,
            "events": sum(stats.events_by_system.values()),
            "events_by_system": stats.events_by_system,
            "unmapped_events": stats.unmapped,
            "feedback": stats.feedback,
            "feedback_by_kind": stats.feedback_by_kind,
            "customers_by_persona": stats.personas,
        },
        "goal_touchpoint": cat.GOAL,
        "unmapped_event_names": list(cat.UNMAPPED_EVENTS),
        "unmapped_note": "email_sent and page_view are unmapped only with the properties "
        "template=newsletter and page=store_locator; other email_sent/page_view events map",
        "event_names": list(EVENT_NAMES),
        "persona_rules": "every customer with a record satisfies the rule of its true "
        "persona first; customers without a record get no persona",
        "scales": {
            "nps": "0-10",
            "csat": "1-5, 5 = very satisfied",
            "ces": "1-7, 7 = very easy (CES 2.0 agreement scale)",
        },
        "planted": {p["id"]: p for p in ground_truth.planted_findings()},
        "hubs": ground_truth.hubs(stats.hubs),
        "files": {
            "events": "data/events/<system>/part-NNNN.parquet",
            "customers": "data/customers.parquet",
            "feedback": "data/feedback.parquet",
            "truth_customers": "truth/customers.parquet",
            "truth_events": "truth/event_customers.parquet",
            "truth_feedback": "truth/feedback.parquet",
        },
    }
    text = json.dumps(truth, indent=2, ensure_ascii=False) + "\n"
    (out / "ground_truth.json").write_text(text, encoding="utf-8")


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not enabled,
    )


def _ingest(out: Path, result: DemoResult, progress: bool) -> None:
    """Build the workspace from the written files through the public workspace API."""
    from journeymap.workspace import Workspace

    ws = Workspace.create(out, exist_ok=True)  # keeps the journey.yaml and toml written above
    reports = [
        ws.ingest_customers(
            str(out / "data" / "customers.parquet"), source="crm", refresh=False, progress=progress
        )
    ]
    for system in cat.SYSTEMS:
        folder = out / "data" / "events" / system
        if folder.is_dir() and any(folder.iterdir()):
            reports.append(
                ws.ingest_events(str(folder), source=system, refresh=False, progress=progress)
            )
    reports.append(
        ws.ingest_feedback(
            str(out / "data" / "feedback.parquet"),
            source="surveys",
            refresh=False,
            progress=progress,
        )
    )
    result.refresh_report = ws.refresh()
    result.workspace = ws
    result.ingest_reports = reports
