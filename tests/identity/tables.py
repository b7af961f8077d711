"""Canonical tables (docs/contracts.md schemas) written into a real DuckDB file for tests."""

from __future__ import annotations

from pathlib import Path

import ibis
import pandas as pd

from journeymap.workspace import schemas

#: The canonical schemas (journeymap.workspace.schemas: the one definition) tests build.
SCHEMAS: dict[str, ibis.Schema] = {
    name: schemas.CANONICAL[name] for name in ("events", "feedback", "customers", "quarantine")
}


def connect(folder: Path) -> ibis.BaseBackend:
    """A real DuckDB warehouse file in ``folder``."""
    return ibis.duckdb.connect(str(Path(folder) / "warehouse.duckdb"))


def frame(name: str, rows: list[dict]) -> ibis.Table:
    """Rows as an Ibis memtable with the canonical schema of ``name`` (missing = NULL)."""
    schema = SCHEMAS[name]
    df = pd.DataFrame(rows, columns=list(schema))
    df = df.astype(object).where(df.notna(), None)
    if "ts" in schema or "quarantined_at" in schema:
        for col in ("ts", "quarantined_at"):
            if col in schema:
                df[col] = pd.to_datetime(df[col], utc=True)
    return ibis.memtable(df, schema=schema)


def pre_stitch_id(row: dict) -> str | None:
    """The contract's pre-stitch customer_id: the first present identifier, as type:value."""
    for t in ("crm_id", "email", "phone", "device_id", "anonymous_id", "order_id"):
        if row.get(t) is not None:
            return f"{t}:{row[t]}"
    return None


def write(con: ibis.BaseBackend, name: str, rows: list[dict]) -> None:
    """Create (or replace) canonical table ``name`` holding ``rows``."""
    con.create_table(name, frame(name, rows), overwrite=True)


def append(con: ibis.BaseBackend, name: str, rows: list[dict]) -> None:
    """Insert new, not yet stitched rows (customer_id_given NULL) into an existing table."""
    table = con.table(name)
    new = frame(name, rows)
    extra = {c: ibis.null(table[c].type()) for c in table.columns if c not in new.columns}
    new = new.mutate(**extra).select(*table.columns)
    con.insert(name, new)
