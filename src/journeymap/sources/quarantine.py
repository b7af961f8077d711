"""The quarantine: every row read but not loaded, with where it came from and why.

One quarantine row per rejected input row: ``file`` and ``row_number`` locate it (row
numbers as :mod:`journeymap.sources.readers` counts them), ``raw`` is the row as read
(JSON object of its columns), ``field`` the input column at fault (or the canonical
field when the column is absent) and ``reason`` the first failed check, in the order
the checks are listed in :mod:`journeymap.sources.fields`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from journeymap.workspace import backend

COLUMNS = (
    "table_name",
    "source",
    "file",
    "row_number",
    "raw",
    "field",
    "reason",
    "batch_id",
    "quarantined_at",
)


def insert_from(
    con: Any, checked: str, raw_view: str, raw_sql: str, table_name: str, batch_id: int
) -> int:
    """Copy the rejected rows of a checked batch into ``quarantine``; returns their count.

    ``raw_sql`` (the row as JSON) is evaluated over the input view ``raw_view`` for the
    rejected rows only, so clean batches pay nothing for it.
    """
    rows = backend.execute(
        con,
        f"INSERT INTO quarantine ({', '.join(COLUMNS)}) "
        f"SELECT {backend.literal(table_name)}, c.__source, c.__file, c.__row, "
        f"(SELECT {raw_sql} FROM {raw_view} WHERE {raw_view}.__row = c.__row), "
        f"c.__field, c.__reason, {int(batch_id)}, now() "
        f"FROM {checked} AS c WHERE c.__reason IS NOT NULL",
    )
    return int(rows[0][0]) if rows else 0


def top_reasons(con: Any, batch_id: int, limit: int = 5) -> list[tuple[str, str, int]]:
    """The most common (field, reason, count) of one batch, most frequent first."""
    rows = backend.execute(
        con,
        "SELECT field, reason, count(*) AS n FROM quarantine WHERE batch_id = ? "
        "GROUP BY field, reason ORDER BY n DESC, field, reason LIMIT ?",
        [int(batch_id), int(limit)],
    )
    return [(str(f), str(r), int(n)) for f, r, n in rows]


def quarantined(
    ws: Any, limit: int | None = 100, batch_id: int | None = None, table_name: str | None = None
) -> pd.DataFrame:
    """Quarantined rows, newest batch first, then by file and row number."""
    t = ws.table("quarantine")
    if batch_id is not None:
        t = t.filter(t.batch_id == batch_id)
    if table_name is not None:
        t = t.filter(t.table_name == table_name)
    t = t.order_by([t.batch_id.desc(), t.file, t.row_number])
    if limit is not None:
        t = t.limit(limit)
    return t.to_pandas()
