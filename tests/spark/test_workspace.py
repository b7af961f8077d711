"""A workspace whose data tables live in Spark: refresh, stitching and the snapshot.

A small demo workspace (DuckDB, refreshed by ingest) is the reference. Its events,
feedback and customers are then offered to Spark as tables of other names; a second
workspace with ``[warehouse] backend = "pyspark"`` maps them by name. Its refresh
(stitching, mapping, journey store: on Spark) must leave the same data, and its snapshot
(every engine analysis, voice and detected pains) must equal the DuckDB one.
"""

from __future__ import annotations

import pytest

from spark.both import assert_same, needs_pyspark, same_json, spark_copy

needs_pyspark()

from journeymap.workspace.workspace import Workspace, WorkspaceError  # noqa: E402

#: Metadata that names the run, not the data.
IGNORED = {"generated_at", "data_version"}


@pytest.fixture
def spark_ws(duck_ws, spark_con, spark_session, tmp_path):
    ws = Workspace(spark_copy(duck_ws, spark_session, tmp_path / "shop"))
    yield ws
    ws.close()


def _same(a, b, where: str = "snapshot") -> None:
    same_json(a, b, where, ignored=IGNORED)


def test_refresh_and_snapshot_on_spark(duck_ws, spark_ws):
    assert spark_ws.on_spark and spark_ws.con.name == "pyspark"
    assert "events" not in spark_ws.state.list_tables()  # data tables are Spark's
    report = spark_ws.refresh()
    assert list(report.steps) == ["stitch", "mapping", "store", "attach"]
    assert report.data_version == 1
    on_duck = duck_ws.refresh(steps=_attach_only()).steps["attach"]
    on_spark = report.steps["attach"]
    assert on_spark.texts_scored > 0  # a new state file: its own sentiment cache
    on_duck.texts_scored = on_spark.texts_scored = 0
    assert on_duck == on_spark and on_spark.by_event > 0
    fb_columns = ["feedback_id", "customer_id", "touchpoint", "touchpoint_given", "sentiment"]
    assert_same(
        duck_ws.table("feedback").select(*fb_columns).order_by("feedback_id").to_pandas(),
        spark_ws.table("feedback").select(*fb_columns).order_by("feedback_id").to_pandas(),
        "feedback after refresh",
    )
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


def _attach_only():
    from journeymap.workspace.refresh import default_steps

    return [(name, step) for name, step in default_steps() if name == "attach"]


def test_ingest_is_refused_on_spark(spark_ws, tmp_path):
    with pytest.raises(WorkspaceError, match="Spark tables"):
        spark_ws.ingest_events(tmp_path / "none.csv")
