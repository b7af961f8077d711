"""The Spark edge: a PySpark session from journeymap.toml, mapped tables, temp views.

What runs where (docs/spark.md): with ``[warehouse] backend = "pyspark"`` the workspace's
own state (settings, ``workspace_meta``, quarantine, batches, the sentiment cache, the web
app's database) stays in the DuckDB file; the ``events``, ``feedback`` and ``customers``
tables live in Spark, as existing tables mapped by name in ``[warehouse.tables]``. Each is
exposed in the Spark session as a temp view with the canonical name, so every Ibis
expression of journeymap (``con.table("events")``) reads it unchanged. journeymap never
writes to the mapped tables: what it derives (stitched ids, the mapping, sessions, the
journey store) replaces the *views* for this session only (:func:`write_view`).

Settings (all optional except ``backend``)::

    [warehouse]
    backend = "pyspark"
    master = "local[2]"              # or "spark://host:7077", "yarn"; ignored with remote
    remote = ""                      # Spark Connect, e.g. "sc://host:15002" (Databricks:
                                     # databricks-connect builds the session instead)
    [warehouse.tables]
    events = "sales.web_events"      # default: a table named events in the current db
    [warehouse.spark_conf]
    "spark.driver.memory" = "4g"
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from journeymap.workspace.schemas import CANONICAL

#: Tables of the warehouse that may live in Spark (the rest is workspace state in DuckDB).
SPARK_TABLES: tuple[str, ...] = ("events", "feedback", "customers")
#: Columns a mapped table must have; the other canonical columns are added as NULLs.
REQUIRED: dict[str, tuple[str, ...]] = {
    "events": ("customer_id", "ts", "event"),
    "feedback": ("customer_id", "ts"),
    "customers": ("customer_id",),
}
#: Session settings journeymap relies on: UTC session time (timestamps are UTC
#: everywhere), Arrow transfers, no web UI. The user's ``spark_conf`` may add to them.
BASE_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}


class SparkSetupError(ValueError):
    """PySpark is missing, or a mapped table cannot be used (names the table and column)."""


def _pyspark():
    try:
        import pyspark.sql
    except ImportError as exc:
        raise SparkSetupError(
            "[warehouse] backend = 'pyspark' needs PySpark and Java 17: "
            "pip install 'journeymap[spark]' (and e.g. apt-get install openjdk-17-jre-headless)"
        ) from exc
    return pyspark.sql


def session_from_settings(warehouse: Mapping[str, Any], app_name: str = "journeymap"):
    """A SparkSession (the active one is reused) configured from ``[warehouse]``."""
    sql = _pyspark()
    builder = sql.SparkSession.builder.appName(app_name)
    remote = str(warehouse.get("remote") or "")
    if remote:
        builder = builder.remote(remote)
    else:
        builder = builder.master(str(warehouse.get("master") or "local[2]"))
    conf = {**BASE_CONF, **{str(k): str(v) for k, v in (warehouse.get("spark_conf") or {}).items()}}
    for key, value in conf.items():
        if remote and key.startswith("spark.ui"):
            continue  # a Connect server owns its UI settings
        builder = builder.config(key, value)
    return builder.getOrCreate()


def connect(session=None, warehouse: Mapping[str, Any] | None = None) -> ibis.BaseBackend:
    """An Ibis PySpark connection on ``session`` (or one built from ``[warehouse]``)."""
    if session is None:
        session = session_from_settings(warehouse or {})
    con = ibis.pyspark.connect(session)
    session.conf.set("spark.sql.session.timeZone", "UTC")
    return con


def _session(con: ibis.BaseBackend):
    return con._session


def map_tables(
    con: ibis.BaseBackend, tables: Mapping[str, str] | None = None, *, where: str | Path = ""
) -> dict[str, str]:
    """Expose mapped Spark tables as temp views named ``events``, ``feedback``, ``customers``.

    ``tables`` maps a canonical name to a Spark table name (``"db.table"``); a canonical
    table not mapped is looked up under its own name and skipped when absent. Columns are
    passed through; missing canonical columns are added as typed NULLs; a missing required
    column (``customer_id``, ``ts``, ``event``...) is an error naming the table. Returns
    canonical name -> the Spark table it reads.
    """
    tables = dict(tables or {})
    unknown = sorted(set(tables) - set(SPARK_TABLES))
    if unknown:
        raise SparkSetupError(
            f"{where}[warehouse.tables]: unknown table(s) {unknown}; "
            f"known: {', '.join(SPARK_TABLES)}"
        )
    session = _session(con)
    mapped: dict[str, str] = {}
    for canonical in SPARK_TABLES:
        source = tables.get(canonical)
        if source is None:
            if not session.catalog.tableExists(canonical):
                continue
            source = canonical
        elif not session.catalog.tableExists(source):
            raise SparkSetupError(
                f"{where}[warehouse.tables] {canonical} = {source!r}: no such table in Spark"
            )
        frame = session.table(source)
        have = set(frame.columns)
        missing = [c for c in REQUIRED[canonical] if c not in have]
        if missing:
            raise SparkSetupError(
                f"Spark table {source!r} (mapped as {canonical}) has no column(s) "
                f"{', '.join(missing)}; its columns: {', '.join(frame.columns)}"
            )
        add = [
            f"CAST(NULL AS {_spark_type(dtype)}) AS `{name}`"
            for name, dtype in CANONICAL[canonical].items()
            if name not in have
        ]
        if add:
            frame = frame.selectExpr("*", *add)
        if source != canonical:
            frame.createOrReplaceTempView(canonical)
        elif add:
            materialise(session, frame).createOrReplaceTempView(canonical)
        mapped[canonical] = source
    return mapped


def _spark_type(dtype: Any) -> str:
    """Spark SQL type name of an Ibis type (the canonical schemas use a handful)."""
    dtype = ibis.dtype(dtype)
    if dtype.is_timestamp():
        return "TIMESTAMP"
    if dtype.is_integer():
        return "BIGINT"
    if dtype.is_floating():
        return "DOUBLE"
    if dtype.is_boolean():
        return "BOOLEAN"
    if dtype.is_date():
        return "DATE"
    return "STRING"


def write_view(con: ibis.BaseBackend, name: str, obj: ibis.Table | pa.Table) -> ibis.Table:
    """Temp view ``name`` over ``obj`` (an Ibis expression or Arrow table), materialised.

    The rows are computed once and the lineage cut (:func:`materialise`), so the view no
    longer depends on the views it was computed from: ``events`` can be rewritten from
    ``events``, and iterations do not pile up plans.
    """
    session = _session(con)
    materialise(session, _frame(con, session, obj)).createOrReplaceTempView(name)
    return con.table(name)


def _frame(con: ibis.BaseBackend, session, obj: ibis.Table | pa.Table):
    """A Spark DataFrame of ``obj`` (an Ibis expression or Arrow table)."""
    if isinstance(obj, pa.Table):
        return session.createDataFrame(obj) if obj.num_rows else _empty_frame(session, obj)
    con._run_pre_execute_hooks(obj)  # registers memtables the expression reads
    return session.sql(con.compile(obj))


def materialise(session, frame):
    """``frame`` computed once (``localCheckpoint``), as a plan that keeps no size estimate.

    A checkpoint keeps the optimiser's size estimate of the plan it came from, and Spark
    estimates a join as the *product* of its inputs' sizes: label propagation rewrites a
    view from joins of itself, so the estimate's digits tripled at every iteration (a
    BigInteger of millions of digits after a dozen), and planning each later query over
    those views took minutes (the stitch of 1M events: 35 minutes, almost all planning).
    Re-wrapping the checkpointed rows as a new DataFrame drops the estimate (Spark then
    assumes "large", as for any table without statistics). On Spark Connect, which has
    no JVM handle, the checkpoint is used as it is.
    """
    checkpointed = frame.localCheckpoint(eager=True)
    jsession = getattr(session, "_jsparkSession", None)
    if jsession is None:
        return checkpointed
    from pyspark.sql import DataFrame

    jdf = checkpointed._jdf  # rows read from the checkpoint's blocks, one pass each query
    fresh = jsession.internalCreateDataFrame(jdf.queryExecution().toRdd(), jdf.schema(), False)
    return DataFrame(fresh, session)


def _empty_frame(session, table: pa.Table):
    """An empty DataFrame with the Arrow table's schema (createDataFrame needs rows)."""
    from ibis.backends.pyspark.datatypes import PySparkSchema

    schema = ibis.Schema.from_pyarrow(table.schema)
    return session.createDataFrame([], schema=PySparkSchema.from_ibis(schema))


def append_view(con: ibis.BaseBackend, name: str, rows: ibis.Table | pa.Table) -> None:
    """Add ``rows`` (an Ibis expression or Arrow table) to the temp view ``name`` (by
    column name)."""
    session = _session(con)
    combined = session.table(name).unionByName(_frame(con, session, rows))
    materialise(session, combined).createOrReplaceTempView(name)


def drop_view(con: ibis.BaseBackend, name: str) -> None:
    """Drop the temp view ``name`` (journeymap never drops a table it did not create)."""
    _session(con).catalog.dropTempView(name)


def move_view(con: ibis.BaseBackend, old: str, new: str) -> None:
    """Point temp view ``new`` at what ``old`` holds, then drop ``old``."""
    session = _session(con)
    session.table(old).createOrReplaceTempView(new)
    session.catalog.dropTempView(old)


#: Workspaces refreshed in a live Spark session: (id of the session, workspace folder).
#: Their canonical views hold derived data (stitched ids, mapping, sessions, the store),
#: so opening the workspace again in the same session reuses them (``journeymap serve``
#: in a notebook, a second ``journeymap.open``) instead of re-mapping the raw tables.
_REFRESHED: set[tuple[int, str]] = set()


def open_warehouse(warehouse: Mapping[str, Any], *, where: str | Path = "") -> ibis.BaseBackend:
    """The Spark side of a workspace: a connection from ``[warehouse]`` with the tables of
    ``[warehouse.tables]`` mapped to their canonical names (:func:`map_tables`), unless
    this session already holds the workspace's refreshed views (:func:`is_refreshed`)."""
    con = connect(None, warehouse)
    if not is_refreshed(con, where):
        remap(con, warehouse, where=where)
    return con


def remap(con: ibis.BaseBackend, warehouse: Mapping[str, Any], *, where: str | Path = "") -> None:
    """Point the canonical views at the raw mapped tables again (a full refresh starts
    here, so it re-reads what the user's pipeline wrote since)."""
    _REFRESHED.discard((id(_session(con)), str(where)))
    map_tables(con, warehouse.get("tables") or {}, where=f"{where}: " if where else "")


def mark_refreshed(con: ibis.BaseBackend, where: str | Path) -> None:
    """Record that this session's canonical views hold workspace ``where``'s refresh."""
    _REFRESHED.add((id(_session(con)), str(where)))


def is_refreshed(con: ibis.BaseBackend, where: str | Path) -> bool:
    """Whether this session holds workspace ``where``'s refreshed views (still there)."""
    session = _session(con)
    return (id(session), str(where)) in _REFRESHED and session.catalog.tableExists("events")


def analyze_table(
    con: ibis.BaseBackend,
    table: str,
    *,
    customer: str = "customer_id",
    event: str = "event",
    ts: str = "ts",
    channel: str | None = None,
    event_id: str | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Any:
    """An :class:`~journeymap.engine.Analysis` of one table of events on an Ibis connection.

    The counterpart of ``journeymap.analyze_events`` for events that already sit in a
    database. On Spark the events stay there: ``table`` (``"db.table"`` allowed) becomes
    the session's canonical ``events`` temp view (event names stand for touchpoints, as
    in ``analyze_events``), the journey store is built by the same ``build_store`` as a
    workspace refresh, and the questions run as on a Spark workspace. The user's table is
    never written. On any other backend the named columns are fetched once into
    ``analyze_events``' own temporary database (its tie rule and checks).

    Without ``event_id`` Spark numbers the rows with ``monotonically_increasing_id``:
    only events of one customer with the same time *and* name are ordered by it, and
    those are the same step, so no answer depends on it.
    """
    columns = {"customer_id": customer, "event": event, "ts": ts}
    if channel:
        columns["channel"] = channel
    if event_id:
        columns["event_id"] = event_id
    if con.name != "pyspark":
        from journeymap.engine import analyze_events

        rows = con.table(table).select(*dict.fromkeys(columns.values())).to_pyarrow()
        return analyze_events(
            rows,
            customer=customer,
            event=event,
            ts=ts,
            channel=channel,
            event_id=event_id,
            settings=dict(settings or {}),
        )
    from types import SimpleNamespace

    from journeymap.engine import Analysis
    from journeymap.engine.store import build_store

    session = _session(con)
    if not session.catalog.tableExists(table):
        raise SparkSetupError(f"analyze_table: no table {table!r} in the Spark session")
    frame = session.table(table)
    missing = [f"{name}={given!r}" for name, given in columns.items() if given not in frame.columns]
    if missing:
        raise SparkSetupError(
            f"analyze_table: Spark table {table!r} has no column(s) {', '.join(missing)}; "
            f"its columns: {', '.join(frame.columns)}"
        )

    def col(name: str) -> str:
        return "`" + columns[name].replace("`", "``") + "`"

    source = str(table).replace("'", "\\'")
    canonical = frame.selectExpr(
        f"CAST({col('event_id')} AS STRING) AS event_id"
        if event_id
        else "lpad(CAST(monotonically_increasing_id() AS STRING), 20, '0') AS event_id",
        f"CAST({col('customer_id')} AS STRING) AS customer_id",
        f"CAST({col('ts')} AS TIMESTAMP) AS ts",
        f"CAST({col('event')} AS STRING) AS event",
        f"CAST({col('channel')} AS STRING) AS channel"
        if channel
        else "CAST(NULL AS STRING) AS channel",
        f"CAST({col('event')} AS STRING) AS touchpoint",
        "CAST(NULL AS STRING) AS stage",
        "CAST(NULL AS STRING) AS session_id",
        f"'{source}' AS source",
    ).localCheckpoint(eager=True)
    empty = canonical.selectExpr(
        "count_if(customer_id IS NULL OR customer_id = '') AS customer_id",
        "count_if(ts IS NULL) AS ts",
        "count_if(event IS NULL OR event = '') AS event",
    ).first()
    bad = {name: int(empty[name]) for name in ("customer_id", "ts", "event") if empty[name]}
    if bad:
        raise SparkSetupError(
            f"analyze_table: Spark table {table!r}: "
            + "; ".join(f"{n} row(s) with an empty {columns[k]!r} ({k})" for k, n in bad.items())
            + " (a time that does not parse as a timestamp is empty too); "
            "filter or fill them first, nothing is dropped silently"
        )
    canonical.createOrReplaceTempView("events")
    settings = dict(settings or {})
    build_store(SimpleNamespace(con=con, spec=None, settings=settings))
    return Analysis(con, None, settings)
