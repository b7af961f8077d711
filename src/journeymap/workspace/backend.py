"""The backend edge of the workspace: everything Ibis does not express portably.

Ibis creates and reads the canonical tables; the few operations it has no portable form
for (transactions, adding or widening a column, scanning an Arrow batch in place, column
types as the database sees them) are DuckDB's and live here. So do the portable table
forms at the end of the module (:func:`write_table` and friends): the one place that
knows how DuckDB and Spark each write a table (Spark's side: journeymap.workspace.spark).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import duckdb
import ibis
import pyarrow as pa


def connect(path: str) -> ibis.BaseBackend:
    """An Ibis DuckDB connection to the warehouse file (the session time zone is UTC)."""
    con = ibis.duckdb.connect(path)
    raw(con).execute("SET TimeZone = 'UTC'")
    raw(con).execute("SET enable_progress_bar = false")  # journeymap draws its own
    return con


def raw(con: ibis.BaseBackend) -> duckdb.DuckDBPyConnection:
    """The DuckDB connection under an Ibis backend."""
    return con.con


def quote(name: str) -> str:
    """A quoted SQL identifier (column names come from user files)."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str | None) -> str:
    """A quoted SQL string literal, or NULL."""
    if value is None:
        return "NULL"
    return "'" + str(value).replace("'", "''") + "'"


@contextmanager
def duckdb_settings(con: ibis.BaseBackend, **values: str | bool) -> Iterator[None]:
    """Set DuckDB settings for a block and restore the previous values after it.

    Nothing happens on other backends (Spark has its own configuration, set when the
    session starts). Used for ``memory_limit`` (DuckDB spills to its temp directory beyond
    it) and ``preserve_insertion_order`` (off, large writes need far less memory).
    """
    if is_spark(con):
        yield
        return
    settings = _SETTINGS.setdefault(id(raw(con)), {})
    previous = {name: _setting_now(con, name, settings.setdefault(name, {})) for name in values}
    try:
        for name, value in values.items():
            settings[name].setdefault("stack", []).append(value)
            raw(con).execute(f"SET {name} = ?", [value])
        yield
    finally:
        for name, value in previous.items():
            raw(con).execute(f"SET {name} = ?", [value])
            state = settings[name]
            state["stack"].pop()
            state["restored"] = (_shown(con, name), value)


#: Per raw connection and setting name: the values enclosing :func:`duckdb_settings`
#: blocks set (``stack``), and what the last block restored, as shown and as set
#: (``restored``). DuckDB shows ``memory_limit`` rounded ("4.6 GiB" for 5GB), so
#: restoring what it shows would lower the cap a little at every block: 5GB came back as
#: 4.5 GiB after a nested block, and a server's default sank with every refresh.
_SETTINGS: dict[int, dict[str, dict]] = {}


def _shown(con: ibis.BaseBackend, name: str) -> Any:
    return raw(con).execute("SELECT current_setting(?)", [name]).fetchone()[0]


def _setting_now(con: ibis.BaseBackend, name: str, state: dict) -> Any:
    """The exact value of setting ``name`` now: the innermost block's, else the one last
    restored if DuckDB still shows it (nobody set it since), else what DuckDB shows."""
    if state.get("stack"):
        return state["stack"][-1]
    shown = _shown(con, name)
    restored = state.get("restored")
    return restored[1] if restored is not None and restored[0] == shown else shown


def memory_limit(con: ibis.BaseBackend, limit: str) -> AbstractContextManager[None]:
    """Cap DuckDB's memory for a block (it spills to its temp directory beyond it)."""
    return duckdb_settings(con, memory_limit=limit)


_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}  # fmt: skip


@contextmanager
def memory_at_most(con: ibis.BaseBackend, limit_bytes: int) -> Iterator[None]:
    """Lower DuckDB's ``memory_limit`` to ``limit_bytes`` for a block, never raise it.

    For steps whose own Python arrays are large while their queries stream (the journey
    store build at 100M events): DuckDB keeps buffers up to its limit, and both must fit.
    """
    if is_spark(con):
        yield
        return
    text = str(raw(con).execute("SELECT current_setting('memory_limit')").fetchone()[0])
    number, _, unit = text.strip().partition(" ")
    current = float(number) * _UNITS.get(unit.upper(), 1)
    if current <= limit_bytes:
        yield
        return
    with memory_limit(con, f"{limit_bytes // 2**20}MiB"):
        yield


#: The memory limit :func:`release_cached_blocks` sets for an instant.
RELEASE_FLOOR_BYTES = 16 * 2**20


def release_cached_blocks(con: ibis.BaseBackend) -> None:
    """Make DuckDB let go now of the database blocks it keeps cached. It keeps every block
    a scan read, up to its memory limit, until it needs the room: 0.5 GB after reading the
    100M-event journey store back, beside arrays that need it. Setting the limit to a
    floor for an instant evicts them (nothing on other backends)."""
    with memory_at_most(con, RELEASE_FLOOR_BYTES):
        pass


def begin(con: ibis.BaseBackend) -> None:
    raw(con).execute("BEGIN TRANSACTION")


def commit(con: ibis.BaseBackend) -> None:
    raw(con).execute("COMMIT")


def rollback(con: ibis.BaseBackend) -> None:
    raw(con).execute("ROLLBACK")


def execute(con: ibis.BaseBackend, sql: str, params: list[Any] | None = None) -> list[tuple]:
    """Run one statement and return its rows (empty for statements without a result)."""
    cur = raw(con).execute(sql, params or [])
    try:
        return cur.fetchall()
    except duckdb.InvalidInputException:
        return []


def column_types(con: ibis.BaseBackend, table: str) -> dict[str, str]:
    """Column name -> database type name (upper case), in table order."""
    rows = raw(con).execute(f"DESCRIBE {quote(table)}").fetchall()
    return {row[0]: str(row[1]).upper() for row in rows}


def add_column(con: ibis.BaseBackend, table: str, column: str, sql_type: str) -> None:
    raw(con).execute(f"ALTER TABLE {quote(table)} ADD COLUMN {quote(column)} {sql_type}")


def set_column_type(con: ibis.BaseBackend, table: str, column: str, sql_type: str) -> None:
    raw(con).execute(f"ALTER TABLE {quote(table)} ALTER COLUMN {quote(column)} TYPE {sql_type}")


def register_arrow(con: ibis.BaseBackend, name: str, data: pa.Table | pa.RecordBatch) -> None:
    """Expose an Arrow batch to SQL under ``name`` without copying it."""
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    raw(con).register(name, data)


def unregister(con: ibis.BaseBackend, name: str) -> None:
    raw(con).unregister(name)


def arrow_sql_type(arrow_type: pa.DataType) -> str:
    """The DuckDB type an Arrow column arrives as (used to pick SQL per input type)."""
    if pa.types.is_boolean(arrow_type):
        return "BOOLEAN"
    if pa.types.is_integer(arrow_type):
        return "BIGINT"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "DOUBLE"
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMPTZ" if arrow_type.tz else "TIMESTAMP"
    if pa.types.is_date(arrow_type):
        return "DATE"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "VARCHAR"
    if pa.types.is_dictionary(arrow_type):
        return arrow_sql_type(arrow_type.value_type)
    return "OTHER"


def replace_table(con: ibis.BaseBackend, name: str, expr: ibis.Table) -> None:
    """Rewrite a table from an Ibis expression over it, inside the caller's transaction.

    Column order and types come from the expression (``mutate`` keeps them); Ibis's own
    ``create_table(overwrite=True)`` is avoided because it manages its own statements.
    On Spark the table is a temp view (:func:`write_table`).
    """
    if is_spark(con):
        write_table(con, name, expr)
        return
    sql = ibis.to_sql(expr, dialect="duckdb")
    raw(con).execute(f"CREATE OR REPLACE TABLE {quote(name)} AS {sql}")


# -- Portable table forms: the one place that knows how each backend writes a table. -------
#
# DuckDB writes real tables (temporary ones for scratch) inside the caller's transaction.
# Spark has no temporary tables through Ibis and no transactions; journeymap never writes
# to a user's Spark tables either. There every table it derives is a session-scoped temp
# view over a *materialised* DataFrame (``localCheckpoint``: computed once, lineage cut,
# so an iterative job such as label propagation does not re-run its whole history on
# every step). See journeymap.workspace.spark and docs/spark.md.


def is_spark(con: ibis.BaseBackend) -> bool:
    """Whether ``con`` is Ibis's PySpark backend (the only non-DuckDB one supported)."""
    return con.name == "pyspark"


def write_table(
    con: ibis.BaseBackend, name: str, obj: ibis.Table | pa.Table, *, temp: bool = False
) -> ibis.Table:
    """Create or replace table ``name`` from an Ibis expression or an Arrow table.

    ``temp`` asks for scratch (DuckDB: a temporary table, gone with the connection); on
    Spark every written table is a temp view anyway. The expression may read ``name``
    itself (a rewrite): DuckDB computes it before replacing, Spark materialises it first.
    """
    if is_spark(con):
        from journeymap.workspace.spark import write_view

        return write_view(con, name, obj)
    con.create_table(name, obj, temp=temp, overwrite=True)
    return con.table(name)


def append_rows(con: ibis.BaseBackend, name: str, rows: ibis.Table | pa.Table) -> None:
    """Append ``rows`` (an Ibis expression or Arrow table) to a table written by
    :func:`write_table`, matching columns by name.

    DuckDB: Arrow is registered, inserted and unregistered on the raw connection. Ibis's
    ``insert`` of an Arrow table keeps a reference to every table it was given (measured:
    +1 GB of Arrow per 4M-event slice of the 100M store build, killed above 10 GB); an
    expression is inserted by Ibis (``INSERT ... SELECT``, nothing fetched).
    """
    if is_spark(con):
        from journeymap.workspace.spark import append_view

        append_view(con, name, rows)
        return
    if isinstance(rows, ibis.Table):
        con.insert(name, rows)
        return
    view = "__jm_append_rows"
    raw(con).register(view, rows)
    try:
        raw(con).execute(f"INSERT INTO {quote(name)} BY NAME SELECT * FROM {view}")
    finally:
        raw(con).unregister(view)


def drop_table(con: ibis.BaseBackend, name: str) -> None:
    """Drop table (or Spark temp view) ``name`` if it exists."""
    if is_spark(con):
        from journeymap.workspace.spark import drop_view

        drop_view(con, name)
    else:
        con.drop_table(name, force=True)


def move_table(con: ibis.BaseBackend, old: str, new: str) -> None:
    """Replace table ``new`` by table ``old`` (``old`` is gone afterwards)."""
    if is_spark(con):
        from journeymap.workspace.spark import move_view

        move_view(con, old, new)
        return
    con.drop_table(new, force=True)
    con.raw_sql(f"ALTER TABLE {quote(old)} RENAME TO {quote(new)}")


@contextmanager
def atomic(con: ibis.BaseBackend) -> Iterator[None]:
    """All-or-nothing writes on a bare connection (a workspace brings its own transaction).

    DuckDB: one transaction. Spark has none; its writes are session temp views that the
    caller's tables never depend on, so a failure part-way leaves the user's tables as
    they were (a failed stitch may leave some views rewritten: re-run it).
    """
    if is_spark(con):
        yield
        return
    begin(con)
    try:
        yield
    except BaseException:
        rollback(con)
        raise
    commit(con)
