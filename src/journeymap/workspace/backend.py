"""The DuckDB-specific edge of the workspace: everything Ibis does not express.

Ibis creates and reads the canonical tables; the few operations it has no portable form
for (transactions, adding or widening a column, scanning an Arrow batch in place, column
types as the database sees them) live here so that another backend means one new module.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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
def memory_limit(con: ibis.BaseBackend, limit: str) -> Iterator[None]:
    """Cap DuckDB's memory for a block (it spills to its temp directory beyond it)."""
    previous = raw(con).execute("SELECT current_setting('memory_limit')").fetchone()[0]
    raw(con).execute("SET memory_limit = ?", [limit])
    try:
        yield
    finally:
        raw(con).execute("SET memory_limit = ?", [previous])


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
    """
    sql = ibis.to_sql(expr, dialect="duckdb")
    raw(con).execute(f"CREATE OR REPLACE TABLE {quote(name)} AS {sql}")
