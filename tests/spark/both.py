"""Put the same canonical tables into DuckDB and Spark, and compare answers of both."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from journeymap.workspace.backend import write_table

#: Relative tolerance for floating values computed by the database (sums and means may
#: add in a different order on Spark's partitions); counts are always compared exactly.
RTOL = 1e-9


def same_json(a, b, where: str, *, ignored: frozenset[str] = frozenset(), abs_tol=1e-12) -> None:
    """Recursive equality of JSON-like answers (DuckDB's ``a``, Spark's ``b``): keys
    in ``ignored`` name the run, not the data; floats within RTOL (database sums)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            if key not in ignored:
                same_json(a[key], b[key], f"{where}.{key}", ignored=ignored, abs_tol=abs_tol)
    elif isinstance(a, list):
        assert len(a) == len(b), f"{where}: {len(a)} items on DuckDB, {len(b)} on Spark"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same_json(x, y, f"{where}[{i}]", ignored=ignored, abs_tol=abs_tol)
    elif isinstance(a, float) and isinstance(b, float | int):
        assert math.isclose(a, b, rel_tol=RTOL, abs_tol=abs_tol), f"{where}: {a} != {b}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


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


#: A Spark workspace's settings: its tables are the Spark tables ``shop_*``.
SPARK_TOML = """\
[warehouse]
backend = "pyspark"
master = "local[2]"

[warehouse.tables]
events = "shop_events"
feedback = "shop_feedback"
customers = "shop_customers"
"""


def spark_copy(duck_ws, spark_session, path: Path) -> Path:
    """A Spark workspace at ``path`` over copies of ``duck_ws``'s tables (Spark views
    ``shop_events``, ``shop_feedback``, ``shop_customers``), with its journey.yaml."""
    for name in ("events", "feedback", "customers"):
        spark_session.createDataFrame(duck_ws.to_arrow(name)).createOrReplaceTempView(
            f"shop_{name}"
        )
    path.mkdir(parents=True)
    shutil.copy(duck_ws.spec_path, path / "journey.yaml")
    (path / "journeymap.toml").write_text(SPARK_TOML, encoding="utf-8")
    return path
