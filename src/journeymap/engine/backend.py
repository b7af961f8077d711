"""Backend-specific fragments of the engine, kept in this one small module.

Everything else in the engine is either a portable Ibis expression or a numpy pass over
arrays fetched as Arrow. If a backend (DuckDB today, PySpark with issue 9) needs a
different form of an operation, the change belongs here and nowhere else.

Tie rule (the same everywhere in journeymap): events of one customer are ordered by
``(ts, event, event_id)``. Two events with an equal timestamp are therefore ordered by
event name, then by event id, so every run gives the same journeys.
"""

from __future__ import annotations

import ibis
import pyarrow as pa

#: Columns that order one customer's events; the documented tie rule.
TIE_ORDER: tuple[str, ...] = ("ts", "event", "event_id")


def event_order(table: ibis.Table) -> list[ibis.Value]:
    """The tie-rule ordering keys of ``table`` as Ibis columns."""
    return [table[c] for c in TIE_ORDER]


def sorted_rows(table: ibis.Table, columns: list[str]) -> pa.Table:
    """Fetch ``columns`` of ``table`` sorted by customer, then by the tie rule.

    A global ``ORDER BY`` followed by an Arrow fetch keeps its order on every Ibis
    backend (unlike an ordered ``collect``, which loses its order on Spark), so the numpy
    passes can cut the result into journeys by customer runs.
    """
    keys = ["customer_id", *TIE_ORDER]
    extra = [c for c in keys if c not in columns]
    expr = table.select(*columns, *extra).order_by(keys)
    return expr.to_pyarrow().select(columns)


def rename_table(con, old: str, new: str) -> None:
    """Rename a table (Ibis's DuckDB backend has no ``rename_table``; others use theirs)."""
    if con.name == "duckdb":
        con.raw_sql(f'ALTER TABLE "{old}" RENAME TO "{new}"')  # returns the connection
    else:
        con.rename_table(old, new)
