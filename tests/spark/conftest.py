"""Spark fixtures: one local[2] session for the whole test session, and helpers that put
the same canonical tables into DuckDB and Spark so every case runs on both.

Each test module skips itself (``needs_pyspark()``, with the reason) only when PySpark
cannot be imported; CI installs the ``spark`` extra and Java 17, so there they run.
"""

from __future__ import annotations

import os
import sys

import pytest

from journeymap.workspace import spark as jm_spark

#: Small, offline, UTC: a test session must not reach the network nor use much memory.
TEST_CONF = {
    "spark.driver.memory": "1g",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
}


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory):
    """The one SparkSession of the test run (JVM start costs about 10 s)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    conf = {**TEST_CONF, "spark.sql.warehouse.dir": str(warehouse)}
    session = jm_spark.session_from_settings(
        {"master": "local[2]", "spark_conf": conf}, app_name="journeymap-tests"
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def spark_con(spark_session):
    """An Ibis connection on the shared session, its temp views dropped after each test."""
    con = jm_spark.connect(spark_session)
    yield con
    for view in spark_session.catalog.listTables():
        if view.isTemporary:
            spark_session.catalog.dropTempView(view.name)


@pytest.fixture(scope="session")
def duck_ws(tmp_path_factory):
    """A small demo workspace on DuckDB (ingested and refreshed): the reference."""
    import journeymap
    from journeymap.demo import generate

    path = tmp_path_factory.mktemp("duck") / "shop"
    generate(path, customers=250, seed=5, progress=False)
    ws = journeymap.open(path)
    yield ws
    ws.close()
