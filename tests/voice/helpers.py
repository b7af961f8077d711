"""Small builders for voice tests: canonical tables written into a real DuckDB file."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import ibis
import pandas as pd

from journeymap.workspace import schemas

#: The canonical types (journeymap.workspace.schemas) of the columns voice reads.
FEEDBACK_SCHEMA = schemas.subset(
    schemas.FEEDBACK,
    ["feedback_id", "customer_id", "ts", "touchpoint", "kind", "score", "text", "sentiment"]
    + ["source", "batch_id", "touchpoint_given"],
)
EVENTS_SCHEMA = schemas.subset(
    schemas.EVENTS,
    ["event_id", "customer_id", "ts", "event", "channel", "touchpoint", "stage"],
)
CUSTOMERS_SCHEMA = schemas.subset(schemas.CUSTOMERS, ["customer_id", "persona"])


def spec(stages: dict[str, list[str]], goal: str | None = None) -> SimpleNamespace:
    """A stand-in with the JourneySpec attributes voice reads (ids, stages, goal)."""
    tps = [SimpleNamespace(id=tp, stage=st) for st, ids in stages.items() for tp in ids]
    return SimpleNamespace(
        touchpoints=tps,
        stage_order=list(stages),
        goal=SimpleNamespace(touchpoint=goal) if goal else None,
    )


def _frame(rows: list[dict], schema: ibis.Schema) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(schema))
    df["ts"] = pd.to_datetime(df["ts"], utc=True, format="ISO8601") if "ts" in schema else None
    return df


def feedback_frame(rows: list[dict]) -> pd.DataFrame:
    """Canonical feedback rows; missing fields are NULL, touchpoint_given copies touchpoint."""
    df = _frame(rows, FEEDBACK_SCHEMA)
    df["touchpoint_given"] = df["touchpoint"]
    df["batch_id"] = 1
    if df["feedback_id"].isna().all():
        df["feedback_id"] = [f"f{i}" for i in range(len(df))]
    return df


def events_frame(rows: list[dict]) -> pd.DataFrame:
    """Canonical event rows (the columns voice reads); event_id defaults to e<row>."""
    df = _frame(rows, EVENTS_SCHEMA)
    if df["event_id"].isna().all():
        df["event_id"] = [f"e{i}" for i in range(len(df))]
    if df["event"].isna().all():
        df["event"] = "view"
    return df


def customers_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(CUSTOMERS_SCHEMA))


SCHEMAS = {"feedback": FEEDBACK_SCHEMA, "events": EVENTS_SCHEMA, "customers": CUSTOMERS_SCHEMA}


def warehouse(tmp_path: Path, **tables: pd.DataFrame) -> ibis.BaseBackend:
    """A real DuckDB file in tmp_path holding the given tables with canonical types."""
    con = ibis.duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    for name, df in tables.items():
        con.create_table(name, ibis.memtable(df, schema=SCHEMAS[name]), overwrite=True)
    return con
