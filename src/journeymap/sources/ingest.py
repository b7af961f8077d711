"""Ingest: load events, feedback or customer records into the workspace warehouse.

One call is one transaction: every input is read in bounded Arrow batches, each batch is
checked and transformed by one DuckDB statement (:mod:`journeymap.sources.fields`), bad
rows go to ``quarantine`` and good rows to a temporary stage; at the end the stage is
merged into the canonical table without duplicates, a ``batches`` row is written and
``data_version`` bumps, then everything commits at once. An unreadable file, an unknown
mapping or a killed process therefore leaves the warehouse exactly as it was.

Duplicates: events and feedback are keyed by ``event_id``/``feedback_id`` from the data,
else by an MD5 content hash of the canonical fields (customer id as derived from the
input, UTC time in microseconds, name/kind, channel, revenue/score, text, properties,
identifiers; not the source or file), so the same rows loaded again, from any file, add
nothing. Within one call the first occurrence wins. Customers are upserted by
``customer_id``: new ids are inserted; for known ids each non-empty input value
replaces the stored one (an empty value never erases), the last row of an id winning.
A row whose identifiers (normalised as the stitch does: given customer id, crm_id,
e-mail trimmed and lower-cased, phone E.164, ...) are known to ``identities`` resolves to
its stitched customer, the strongest identifier deciding, so re-loading a CRM file after
stitching updates, never duplicates, however the file spells them.

Customer attribute columns: every input column except customer_id/email/phone/crm_id
(identifiers such as device_id are kept as attributes too); names that journeymap fills
itself (persona, source, batch_id) are stored as ``<name>_given``. Types are inferred
over the whole call (BOOLEAN, BIGINT, DOUBLE, else VARCHAR; mixed -> VARCHAR) and an
existing column is widened when new values need it.

Quarantine is per call: bad rows read again by a later call are quarantined again
under that call's ``batch_id``, so each batch's counts stand on their own.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from journeymap.sources import quarantine
from journeymap.sources.errors import IngestError
from journeymap.sources.fields import (
    CUSTOMER_ID_COLUMNS,
    RULES,
    BatchColumns,
    TableRules,
    checked_batch_sql,
    raw_sql,
)
from journeymap.sources.readers import InputSource, resolve_inputs
from journeymap.workspace import backend
from journeymap.workspace.backend import quote
from journeymap.workspace.schemas import CUSTOMERS, IDENTIFIERS
from journeymap.workspace.settings import timezone

STAGE = "__jm_stage"
VIEW = "__jm_in"
STITCHED = "__jm_stitched"
DEFAULT_MEMORY_LIMIT = "2GB"
#: Staged rows per pass of the events/feedback merge (see :func:`_merge_rows`). Measured:
#: a 5.2M-row call merged in one pass peaked at the DuckDB cap plus 0.8 GB (Python, Arrow);
#: the 52M-row call of the 100M benchmark takes 7 passes.
MERGE_PASS_ROWS = 8_000_000
_SEQ_FILE_SHIFT = 1 << 40  # __seq = file index * 2**40 + row: input order across files


@dataclass
class IngestReport:
    """What one ingest call did; ``rows_read == loaded + duplicates + quarantined``."""

    table: str
    batch_id: int
    files: list[str]
    rows_read: int = 0
    loaded: int = 0
    duplicates: int = 0
    quarantined: int = 0
    #: customers only: how many of ``loaded`` updated an existing customer
    updated: int = 0
    top_reasons: list[tuple[str, str, int]] = field(default_factory=list)
    #: customers only: attribute columns added to the table by this call
    new_columns: list[str] = field(default_factory=list)
    #: feedback only: input columns with no place in the feedback table (not loaded)
    ignored_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0
    refresh: Any = None

    def lines(self) -> list[str]:
        out = [
            f"{self.table}: read {self.rows_read}, loaded {self.loaded}"
            + (f" ({self.updated} updated)" if self.updated else "")
            + f", duplicates {self.duplicates}, quarantined {self.quarantined}"
            + f" in {self.seconds:.1f} s (batch {self.batch_id})"
        ]
        out += [f"  {n} x {f}: {r}" for f, r, n in self.top_reasons]
        if self.new_columns:
            out.append(f"  new customer attributes: {', '.join(self.new_columns)}")
        if self.ignored_columns:
            out.append(f"  columns not loaded: {', '.join(self.ignored_columns)}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def ingest(
    ws: Any,
    table: str,
    data: Any,
    mapping: dict[str, str] | None = None,
    source: str | None = None,
    *,
    refresh: bool = True,
    progress: bool | None = None,
) -> IngestReport:
    """Load ``data`` into ``table`` (events | feedback | customers) of workspace ``ws``.

    ``mapping`` maps canonical fields to input columns; unmapped fields are taken from
    same-named columns. ``source`` names where the data comes from (default: each
    file's name up to the first dot, ``dataframe`` or ``arrow``). With ``refresh`` the
    refresh pipeline runs after the commit and its report is ``report.refresh``.
    Raises :class:`IngestError` (nothing loaded) for input that cannot be read.
    """
    if table not in RULES:
        raise ValueError(f"table {table!r}: expected one of {', '.join(RULES)}")
    rules = RULES[table]
    mapping = check_mapping(rules, mapping)
    inputs = resolve_inputs(data)
    tz = timezone(ws.settings)
    scales: dict[str, tuple[float, float]] = {}
    if table == "feedback":
        from journeymap.voice.settings import voice_settings

        scales = dict(voice_settings(ws.settings).scales)
    started, clock = datetime.now(UTC), time.perf_counter()
    con = ws.con
    limit = ingest_memory_limit(ws.settings)
    with backend.memory_limit(con, limit), _batches_by_name(con), ws.transaction():
        batch_id = int(
            backend.execute(con, "SELECT coalesce(max(batch_id), 0) + 1 FROM batches")[0][0]
        )
        report = IngestReport(table, batch_id, [src.name for src in inputs])
        _drop_temp(con)
        ignored: dict[str, None] = {}
        with _progress_bar(inputs, table, progress) as advance:
            for index, src in enumerate(inputs):
                seen: dict[str, None] = {}
                for batch in src.batches():
                    cols = batch_columns(rules, batch.data.schema, mapping)
                    seen.update(dict.fromkeys(batch.data.schema.names))
                    if src.fmt != "jsonl" and len(seen) == batch.data.num_columns:
                        check_columns(rules, src, list(seen), mapping)
                    if table == "feedback":
                        ignored.update(dict.fromkeys(cols.extras))
                    row_src = source or src.source
                    _load_batch(
                        con, table, src, batch, index, cols, row_src, tz, scales, batch_id, report
                    )
                    advance(batch.data.num_rows)
                if src.fmt == "jsonl" and seen:
                    check_columns(rules, src, list(seen), mapping)
            advance(0, f"merge into {table}")
            if table == "customers":
                _merge_customers(con, batch_id, report, ws.settings)
            else:
                _merge_rows(con, table, rules.id_field or "", batch_id, report)
        report.ignored_columns = list(ignored)
        report.top_reasons = quarantine.top_reasons(con, batch_id)
        _drop_temp(con)
        sources = source or ",".join(dict.fromkeys(src.source for src in inputs))
        backend.execute(
            con,
            "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                batch_id,
                table,
                sources,
                json.dumps(report.files),
                report.rows_read,
                report.loaded,
                report.duplicates,
                report.quarantined,
                started,
                datetime.now(UTC),
            ],
        )
        ws.bump_data_version()
    report.seconds = time.perf_counter() - clock
    if refresh:
        report.refresh = ws.refresh()
    return report


def ingest_memory_limit(settings: dict[str, Any]) -> str:
    """``[ingest] memory_limit`` (default 2GB): DuckDB spills to disk beyond it.

    Bounds the memory of a load whatever its size; the staged rows and the
    de-duplication spill to ``.journeymap/warehouse.duckdb.tmp`` instead.
    """
    return str(settings.get("ingest", {}).get("memory_limit", DEFAULT_MEMORY_LIMIT))


def check_mapping(rules: TableRules, mapping: dict[str, str] | None) -> dict[str, str]:
    """The mapping, or a ValueError naming the unknown canonical field."""
    mapping = dict(mapping or {})
    for key, column in mapping.items():
        if key not in rules.fields:
            raise IngestError(
                "--map",
                f"{key!r} is not a field of {rules.name}; "
                f"mappable fields: {', '.join(rules.fields)}",
                field=key,
            )
        if not isinstance(column, str) or not column:
            raise IngestError(
                "--map", f"the column for {key!r} must be a non-empty name", field=key
            )
    return mapping


def batch_columns(rules: TableRules, schema: pa.Schema, mapping: dict[str, str]) -> BatchColumns:
    """Which input column feeds which canonical field in a batch with this schema."""
    types = {f.name: backend.arrow_sql_type(f.type) for f in schema}
    field_map = {f: mapping.get(f, f) for f in rules.fields if mapping.get(f, f) in types}
    if rules.name == "customers":
        stored = {field_map.get(f) for f in ("customer_id", *CUSTOMER_ID_COLUMNS)}
    else:
        stored = set(field_map.values())
    extras = [c for c in types if c not in stored]
    return BatchColumns(types, field_map, extras)


def check_columns(
    rules: TableRules, src: InputSource, columns: list[str], mapping: dict[str, str]
) -> None:
    """Raise IngestError when a file lacks a mapped column, a required field or any id."""
    for key, column in mapping.items():
        if column not in columns:
            raise IngestError(
                src.name,
                f"--map {key}={column}: the file has no column {column!r}; "
                f"its columns are {', '.join(columns)}",
                field=key,
            )
    for name in rules.required:
        if mapping.get(name, name) not in columns:
            raise IngestError(
                src.name,
                f"no column for the required field {name!r}; its columns are "
                f"{', '.join(columns)} (use --map {name}=COLUMN)",
                field=name,
            )
    ids = ("customer_id", *IDENTIFIERS)
    if not any(mapping.get(name, name) in columns for name in ids):
        raise IngestError(
            src.name,
            f"no identifier column: expected one of {', '.join(ids)} (or --map customer_id="
            f"COLUMN); its columns are {', '.join(columns)}",
            field="customer_id",
        )


def _load_batch(
    con: Any,
    table: str,
    src: InputSource,
    batch: Any,
    index: int,
    cols: BatchColumns,
    row_source: str,
    tz: str,
    scales: dict[str, tuple[float, float]],
    batch_id: int,
    report: IngestReport,
) -> None:
    """Check and transform one batch into the stage; copy its bad rows to quarantine."""
    data: pa.RecordBatch = batch.data
    n = data.num_rows
    if n == 0:
        return
    offset = index * _SEQ_FILE_SHIFT
    seq = pa.compute.add(batch.rows, pa.scalar(offset, pa.int64()))
    view = pa.Table.from_batches([data]).append_column("__row", batch.rows)
    view = view.append_column("__seq", seq)
    view = view.append_column("__source", pa.array([row_source] * n, pa.string()))
    view = view.append_column("__file", pa.array([src.name] * n, pa.string()))
    # The SQL reads the batch as ``__jm_in`` (VIEW): DuckDB finds this local variable by
    # name (a replacement scan; see _batches_by_name). Not a registered view: inside the
    # ingest transaction a registered view keeps its Arrow batch alive until the commit,
    # even once unregistered, so a 50M-row call held every batch outside DuckDB's memory
    # limit (measured: +46 MB per 256k-row batch of CRM records).
    __jm_in = view  # noqa: F841
    sql, out = checked_batch_sql(table, cols, tz, scales)
    _append_stage(con, sql, out)
    low, high = offset + batch.rows[0].as_py(), offset + batch.rows[-1].as_py()
    checked = f"(SELECT * FROM {STAGE} WHERE __seq BETWEEN {low} AND {high})"
    bad = quarantine.insert_from(con, checked, VIEW, raw_sql(cols), table, batch_id)
    del __jm_in
    report.rows_read += n
    report.quarantined += bad


@contextmanager
def _batches_by_name(con: Any) -> Iterator[None]:
    """Let DuckDB find the current batch as the local variable ``__jm_in`` of
    :func:`_load_batch`, several Python frames above the call that runs the SQL
    (replacement scans, which Ibis switches off, and ``python_scan_all_frames``); both
    settings are restored afterwards."""
    raw = backend.raw(con)
    names = ("python_enable_replacements", "python_scan_all_frames")
    previous = [raw.execute(f"SELECT current_setting('{n}')").fetchone()[0] for n in names]
    for name in names:
        raw.execute(f"SET {name} = true")
    try:
        yield
    finally:
        for name, value in zip(names, previous, strict=True):
            raw.execute(f"SET {name} = {bool(value)}")


def _append_stage(con: Any, sql: str, out: list[str]) -> None:
    """Append checked rows (good and bad, told apart by ``__reason``) to the stage.

    The stage is a TEMP table: private to this connection, gone on rollback or crash, and
    spilled to ``<warehouse>.tmp/`` beyond the ingest memory limit. (An ordinary table
    inside the transaction was tried: same peak memory at 10M rows, but it left the
    database file three times larger, as DuckDB does not shrink files.)
    """
    if not _stage_exists(con):
        backend.execute(con, f"CREATE TEMP TABLE {STAGE} AS {sql}")
        return
    have = backend.column_types(con, STAGE)
    for column in out:
        if column not in have:  # a customer attribute first seen in this batch
            backend.add_column(con, STAGE, column, "VARCHAR")
    backend.execute(con, f"INSERT INTO {STAGE} BY NAME {sql}")


def _stage_exists(con: Any) -> bool:
    return bool(backend.execute(con, f"SELECT 1 FROM duckdb_tables() WHERE table_name = '{STAGE}'"))


def _merge_rows(
    con: Any,
    table: str,
    id_field: str,
    batch_id: int,
    report: IngestReport,
    pass_rows: int | None = None,
) -> None:
    """Insert the staged rows whose id is new (first occurrence in input order wins).

    Bounded memory: above ``pass_rows`` staged rows (default :data:`MERGE_PASS_ROWS`) the
    merge runs in passes, each over one hash range of the id (``hash(id) % passes``), in
    both the stage and the table, so each pass's group-by and anti-join hold one range.
    Every id falls in exactly one range, so the passes together insert exactly what one
    statement would, and all of them run inside the ingest transaction.
    """
    if not _stage_exists(con):
        return
    columns = [c for c in backend.column_types(con, STAGE) if not c.startswith("__")]
    staged = int(backend.execute(con, f"SELECT count(*) FROM {STAGE} WHERE __reason IS NULL")[0][0])
    passes = max(1, -(-staged // (pass_rows or MERGE_PASS_ROWS)))
    key = quote(id_field)
    cols = ", ".join(quote(c) for c in columns)
    loaded = 0
    for part in range(passes):
        in_range = "" if passes == 1 else f" AND hash(s.{key}) % {passes} = {part}"
        t_range = "" if passes == 1 else f" AND hash(t.{key}) % {passes} = {part}"
        rows = backend.execute(
            con,
            f"INSERT INTO {quote(table)} BY NAME SELECT {cols}, __source AS source, "
            f"CAST({int(batch_id)} AS BIGINT) AS batch_id FROM {STAGE} AS s WHERE __seq IN ("
            f"SELECT min(__seq) FROM {STAGE} AS s WHERE __reason IS NULL{in_range} AND NOT "
            f"EXISTS (SELECT 1 FROM {quote(table)} AS t WHERE t.{key} = s.{key}{t_range}) "
            f"GROUP BY {key}){in_range}",
        )
        loaded += int(rows[0][0]) if rows else 0
    report.loaded = loaded
    report.duplicates = staged - report.loaded


_INT = r"^[+-]?(0|[1-9][0-9]*)$"
_LATTICE = ("BOOLEAN", "BIGINT", "DOUBLE", "VARCHAR")


def _merge_customers(
    con: Any, batch_id: int, report: IngestReport, settings: dict[str, Any]
) -> None:
    """Upsert staged customers; add or widen attribute columns as the data needs."""
    if not _stage_exists(con):
        return
    staged_cols = backend.column_types(con, STAGE)
    attrs = [c for c in staged_cols if c.startswith("__attr_")]
    _resolve_stitched(con, staged_cols, settings)
    staged = int(backend.execute(con, f"SELECT count(*) FROM {STAGE} WHERE __reason IS NULL")[0][0])
    last = ", ".join(
        f"arg_max({quote(c)}, __seq) FILTER (WHERE {quote(c)} IS NOT NULL) AS {quote(c)}"
        for c in (*CUSTOMER_ID_COLUMNS, *attrs)
    )
    backend.execute(
        con,
        f"CREATE OR REPLACE TEMP TABLE __jm_cust AS SELECT "
        f"coalesce(m.customer_id, s.customer_id) AS customer_id, {last}, "
        f"arg_max(__source, __seq) AS __source FROM {STAGE} AS s LEFT JOIN {STITCHED} AS m "
        f"ON m.key = s.__seq WHERE s.__reason IS NULL GROUP BY 1",
    )
    existing = backend.column_types(con, "customers")
    final_types = dict.fromkeys(CUSTOMER_ID_COLUMNS, "VARCHAR")
    inferred = _infer_types(con, attrs)
    stored_names: dict[str, str] = {}
    for attr in attrs:
        name = _stored_name(attr.removeprefix("__attr_"))
        stored_names[attr] = name
        new_type = inferred[attr]
        if name in existing:
            wider = _widen(existing[name], new_type)
            if wider != existing[name]:
                backend.set_column_type(con, "customers", name, wider)
            final_types[attr] = wider
        else:
            final_types[attr] = new_type or "VARCHAR"
            backend.add_column(con, "customers", name, final_types[attr])
            report.new_columns.append(name)
    values = {c: f"CAST(s.{quote(c)} AS {final_types[c]})" for c in (*CUSTOMER_ID_COLUMNS, *attrs)}
    target = {c: stored_names.get(c, c) for c in values}
    changed = " OR ".join(
        f"({v} IS NOT NULL AND {v} IS DISTINCT FROM customers.{quote(target[c])})"
        for c, v in values.items()
    )
    sets = ", ".join(
        f"{quote(target[c])} = coalesce({v}, customers.{quote(target[c])})"
        for c, v in values.items()
    )
    updated = backend.execute(
        con,
        f"UPDATE customers SET {sets}, source = s.__source, batch_id = {int(batch_id)} "
        f"FROM __jm_cust AS s WHERE customers.customer_id = s.customer_id AND ({changed})",
    )
    inserted = backend.execute(
        con,
        "INSERT INTO customers BY NAME SELECT s.customer_id, "
        + ", ".join(f"{v} AS {quote(target[c])}" for c, v in values.items())
        + f", s.__source AS source, CAST({int(batch_id)} AS BIGINT) AS batch_id "
        f"FROM __jm_cust AS s WHERE NOT EXISTS "
        f"(SELECT 1 FROM customers AS t WHERE t.customer_id = s.customer_id)",
    )
    report.updated = int(updated[0][0]) if updated else 0
    report.loaded = report.updated + (int(inserted[0][0]) if inserted else 0)
    report.duplicates = staged - report.loaded


def _resolve_stitched(con: Any, staged_cols: dict[str, str], settings: dict[str, Any]) -> None:
    """Write ``STITCHED`` (staged ``__seq`` -> stitched customer_id) for the staged rows an
    identifier ties to a customer in ``identities``, matched on normalised values
    (:func:`journeymap.sources.identity.lookup.stitched_customers`), so a re-loaded file
    updates the stitched customer whatever its spelling or the kind of its id."""
    from journeymap.sources.identity import identity_settings
    from journeymap.sources.identity.lookup import stitched_customers
    from journeymap.sources.identity.normalize import ID_COLUMNS

    if not backend.execute(con, "SELECT 1 FROM identities LIMIT 1"):
        # never stitched: nothing to resolve, so skip parsing every phone number in Python
        backend.execute(
            con, f"CREATE OR REPLACE TEMP TABLE {STITCHED} (key BIGINT, customer_id VARCHAR)"
        )
        return
    picks = ["__seq AS key", "customer_id"]
    for name in ID_COLUMNS:
        for column in (name, f"__attr_{name}"):
            if column in staged_cols:
                picks.append(f"CAST({quote(column)} AS VARCHAR) AS {quote(name)}")
                break
    rows = con.sql(f"SELECT {', '.join(picks)} FROM {STAGE} WHERE __reason IS NULL")
    region = identity_settings(settings).default_phone_region
    found = stitched_customers(rows, con.table("identities"), region)
    con.create_table(STITCHED, found, temp=True, overwrite=True)


def _stored_name(column: str) -> str:
    """Attribute columns never overwrite columns journeymap fills itself."""
    return f"{column}_given" if column in CUSTOMERS.names else column


def _infer_types(con: Any, attrs: list[str]) -> dict[str, str | None]:
    """BOOLEAN, BIGINT, DOUBLE or VARCHAR per attribute (None when it has no value).

    Text that looks like an integer with leading zeros (a zip code, '007') stays text.
    """
    if not attrs:
        return {}
    parts = []
    for a in attrs:
        c = quote(a)
        parts += [
            f"count({c})",
            f"count(*) FILTER (WHERE lower({c}) IN ('true', 'false'))",
            f"count(*) FILTER (WHERE regexp_full_match({c}, '{_INT}') "
            f"AND TRY_CAST({c} AS BIGINT) IS NOT NULL)",
            f"count(*) FILTER (WHERE isfinite(TRY_CAST({c} AS DOUBLE)) "
            f"AND NOT regexp_full_match({c}, '^[+-]?0[0-9]+$'))",
        ]
    row = backend.execute(con, f"SELECT {', '.join(parts)} FROM __jm_cust")[0]
    out: dict[str, str | None] = {}
    for i, a in enumerate(attrs):
        n, booleans, ints, doubles = row[4 * i : 4 * i + 4]
        if n == 0:
            out[a] = None
        elif booleans == n:
            out[a] = "BOOLEAN"
        elif ints == n:
            out[a] = "BIGINT"
        elif doubles == n:
            out[a] = "DOUBLE"
        else:
            out[a] = "VARCHAR"
    return out


def _widen(existing: str, new: str | None) -> str:
    """The narrowest type holding both; text when they do not mix (bool with numbers)."""
    if new is None or new == existing:
        return existing
    if {existing, new} <= {"BIGINT", "DOUBLE", "INTEGER", "FLOAT"}:
        return "DOUBLE"
    return "VARCHAR"


def _drop_temp(con: Any) -> None:
    for name in (STAGE, "__jm_cust", STITCHED):
        backend.execute(con, f"DROP TABLE IF EXISTS {name}")


@contextmanager
def _progress_bar(inputs: list[InputSource], table: str, enabled: bool | None) -> Iterator[Any]:
    """A Rich progress bar over rows read, then the merge phase.

    Shown on a terminal, or always when ``enabled`` is True; never when it is False.
    """
    console = Console(stderr=True)
    if enabled is None:
        enabled = console.is_terminal
    if not enabled:
        yield lambda rows, description=None: None
        return
    counts = [src.row_count() for src in inputs]
    total = sum(c for c in counts if c is not None) if all(c is not None for c in counts) else None
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(f"read {table}", total=total)

        def advance(rows: int, description: str | None = None) -> None:
            """Count rows read; a description names the phase (e.g. the final merge)."""
            bar.update(task, advance=rows, description=description or f"read {table}")

        yield advance
