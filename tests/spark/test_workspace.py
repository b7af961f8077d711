"""A workspace whose data tables live in Spark: refresh, stitching and the snapshot.

A small demo workspace (DuckDB, refreshed by ingest) is the reference. Its events,
feedback and customers are then offered to Spark as tables of other names; a second
workspace with ``[warehouse] backend = "pyspark"`` maps them by name. Its refresh
(stitching, mapping, journey store: on Spark) must leave the same data, and its snapshot
(every engine analysis, voice and detected pains) must equal the DuckDB one.
"""

from __future__ import annotations

import math
import shutil

import pytest

from spark.both import RTOL, assert_same, needs_pyspark

needs_pyspark()

import journeymap  # noqa: E402
from journeymap.demo import generate  # noqa: E402
from journeymap.workspace.workspace import Workspace, WorkspaceError  # noqa: E402

#: Metadata that names the run, not the data.
IGNORED = {"generated_at", "data_version"}

TOML = """\
[warehouse]
backend = "pyspark"
master = "local[2]"

[warehouse.tables]
events = "shop_events"
feedback = "shop_feedback"
customers = "shop_customers"
"""


@pytest.fixture(scope="module")
def duck_ws(tmp_path_factory):
    path = tmp_path_factory.mktemp("duck") / "shop"
    generate(path, customers=250, seed=5, progress=False)
    ws = journeymap.open(path)
    yield ws
    ws.close()


@pytest.fixture
def spark_ws(duck_ws, spark_con, spark_session, tmp_path):
    for name in ("events", "feedback", "customers"):
        spark_session.createDataFrame(duck_ws.to_arrow(name)).createOrReplaceTempView(
            f"shop_{name}"
        )
    path = tmp_path / "shop"
    path.mkdir()
    shutil.copy(duck_ws.spec_path, path / "journey.yaml")
    (path / "journeymap.toml").write_text(TOML, encoding="utf-8")
    ws = Workspace(path)
    yield ws
    ws.close()


def _same(a, b, where: str = "snapshot") -> None:
    """Recursive equality of snapshot data; floats within RTOL."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            if key not in IGNORED:
                _same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), f"{where}: {len(a)} items on DuckDB, {len(b)} on Spark"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=RTOL, abs_tol=1e-12), f"{where}: {a} != {b}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def test_refresh_and_snapshot_on_spark(duck_ws, spark_ws):
    assert spark_ws.on_spark and spark_ws.con.name == "pyspark"
    assert "events" not in spark_ws.state.list_tables()  # data tables are Spark's
    report = spark_ws.refresh()
    assert list(report.steps) == ["stitch", "mapping", "store"]
    assert report.data_version == 1
    columns = ["event_id", "customer_id", "touchpoint", "stage", "session_id"]
    assert_same(
        duck_ws.table("events").select(*columns).order_by("event_id").to_pandas(),
        spark_ws.table("events").select(*columns).order_by("event_id").to_pandas(),
        "events after refresh",
    )
    a_duck, a_spark = duck_ws.analysis(), spark_ws.analysis()
    assert a_duck.store_used() and a_spark.store_used()
    _same(duck_ws.snapshot().to_dict(), spark_ws.snapshot().to_dict())
    persona = duck_ws.spec.personas[0].id
    _same(
        duck_ws.snapshot(persona=persona, start="2026-01-15").to_dict(),
        spark_ws.snapshot(persona=persona, start="2026-01-15").to_dict(),
    )


def test_ingest_is_refused_on_spark(spark_ws, tmp_path):
    with pytest.raises(WorkspaceError, match="Spark tables"):
        spark_ws.ingest_events(tmp_path / "none.csv")
