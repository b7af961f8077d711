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
            frame.localCheckpoint(eager=True).createOrReplaceTempView(canonical)
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

    ``localCheckpoint(eager=True)`` computes the rows once and cuts the lineage, so the view
    no longer depends on the views it was computed from: ``events`` can be rewritten from
    ``events``, and iterations do not pile up plans.
    """
    session = _session(con)
    if isinstance(obj, pa.Table):
        frame = session.createDataFrame(obj) if obj.num_rows else _empty_frame(session, obj)
    else:
        con._run_pre_execute_hooks(obj)  # registers memtables the expression reads
        frame = session.sql(con.compile(obj))
    frame.localCheckpoint(eager=True).createOrReplaceTempView(name)
    return con.table(name)


def _empty_frame(session, table: pa.Table):
    """An empty DataFrame with the Arrow table's schema (createDataFrame needs rows)."""
    from ibis.backends.pyspark.datatypes import PySparkSchema

    schema = ibis.Schema.from_pyarrow(table.schema)
    return session.createDataFrame([], schema=PySparkSchema.from_ibis(schema))


def append_view(con: ibis.BaseBackend, name: str, rows: pa.Table) -> None:
    """Add Arrow ``rows`` to the temp view ``name`` (by column name)."""
    session = _session(con)
    combined = session.table(name).unionByName(session.createDataFrame(rows))
    combined.localCheckpoint(eager=True).createOrReplaceTempView(name)


def drop_view(con: ibis.BaseBackend, name: str) -> None:
    """Drop the temp view ``name`` (journeymap never drops a table it did not create)."""
    _session(con).catalog.dropTempView(name)


def move_view(con: ibis.BaseBackend, old: str, new: str) -> None:
    """Point temp view ``new`` at what ``old`` holds, then drop ``old``."""
    session = _session(con)
    session.table(old).createOrReplaceTempView(new)
    session.catalog.dropTempView(old)


def open_warehouse(warehouse: Mapping[str, Any], *, where: str | Path = "") -> ibis.BaseBackend:
    """The Spark side of a workspace: a connection from ``[warehouse]`` with the tables of
    ``[warehouse.tables]`` mapped to their canonical names (:func:`map_tables`)."""
    con = connect(None, warehouse)
    map_tables(con, warehouse.get("tables") or {}, where=f"{where}: " if where else "")
    return con
