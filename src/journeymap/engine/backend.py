"""Backend-specific fragments of the engine, kept in this one small module.

Everything else in the engine is either a portable Ibis expression or a numpy pass over
arrays fetched as Arrow. If a backend (DuckDB, PySpark) needs a different form of an
engine operation, the change belongs here and nowhere else; how a table is written on
each backend is :mod:`journeymap.workspace.backend`'s (``write_table``, ``move_table``).

Tie rule (the same everywhere in journeymap): events of one customer are ordered by
``(ts, event, event_id)``. Two events with an equal timestamp are therefore ordered by
event name, then by event id, so every run gives the same journeys.
"""

from __future__ import annotations

from datetime import UTC, datetime

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


def as_utc(value: datetime | None) -> datetime | None:
    """A timestamp read back from the database, as an aware UTC datetime.

    DuckDB's TIMESTAMPTZ comes back aware; Ibis reads Spark's TIMESTAMP (a UTC session)
    without a zone. Compared as they come, equal instants would differ (the store's
    ``built_at`` check would reload the store on every question on Spark).
    """
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
