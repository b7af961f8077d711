"""Put the same canonical tables into DuckDB and Spark, and compare answers of both."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from journeymap.workspace.backend import write_table

#: Relative tolerance for floating values computed by the database (sums and means may
#: add in a different order on Spark's partitions); counts are always compared exactly.
RTOL = 1e-9


def _utc(values: pd.Series) -> pd.Series:
    """Timestamps as naive UTC: Ibis reads Spark's TIMESTAMP (UTC session) without a zone,
    DuckDB's TIMESTAMPTZ with one; the instants are what must agree."""
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values.astype("datetime64[us]")


def needs_pyspark() -> None:
    """Skip the calling test module, saying why, when PySpark is not importable."""
    pytest.importorskip(
        "pyspark", reason="PySpark is not installed: pip install -e '.[spark]' (needs Java 17)"
    )


def load(con, tables: dict[str, pd.DataFrame | pa.Table]) -> None:
    """Write each frame as table (DuckDB) or temp view (Spark) of that name."""
    for name, data in tables.items():
        table = (
            data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
        )
        write_table(con, name, table)


def assert_same(duck: pd.DataFrame, spark: pd.DataFrame, what: str = "") -> None:
    """Equal frames: same columns, rows, integer values exactly, floats within RTOL."""
    assert list(duck.columns) == list(spark.columns), what
    assert len(duck) == len(spark), f"{what}: {len(duck)} rows on DuckDB, {len(spark)} on Spark"
    for column in duck.columns:
        d, s = duck[column].reset_index(drop=True), spark[column].reset_index(drop=True)
        if pd.api.types.is_datetime64_any_dtype(d):
            d, s = _utc(d), _utc(s)
        if pd.api.types.is_float_dtype(d) or pd.api.types.is_float_dtype(s):
            np.testing.assert_allclose(
                d.to_numpy(dtype=float),
                s.to_numpy(dtype=float),
                rtol=RTOL,
                equal_nan=True,
                err_msg=f"{what}: column {column}",
            )
        else:
            assert d.tolist() == s.tolist(), f"{what}: column {column}"
