"""``journeymap.analyze_table`` on a bare Spark connection gives ``analyze_events``' answers.

The same generated log (ties, one-event customers, unicode names) is analysed from a
pandas frame by ``analyze_events`` (DuckDB, journeys sorted in memory) and from a Spark
table of other column names by ``analyze_table`` (events stay in Spark); every question
must give the same frame. Bad input is an error naming the table and column.
"""

from __future__ import annotations

import pytest

from spark.both import assert_same, needs_pyspark

needs_pyspark()

import journeymap as jm  # noqa: E402
from engine.logs import generated_log  # noqa: E402
from journeymap.workspace.spark import SparkSetupError  # noqa: E402

STEPS = ["prodüct_view", "カート", "checkout ✓", "order"]
QUESTIONS = {
    "transitions": lambda a: a.transitions(),
    "variants": lambda a: a.variants(top=20),
    "funnel": lambda a: a.funnel(STEPS, window="2d"),
    "flows": lambda a: a.flows(start="prodüct_view", steps=3),
    "touchpoint metrics": lambda a: a.touchpoint_metrics(),
    "sessions": lambda a: a.filtered(sessions=True).variants(top=10),
    "channel": lambda a: a.filtered(channel=["web"]).transitions(),
}


@pytest.fixture(scope="module")
def log():
    events = generated_log(n_customers=200, seed=4)
    frame = events[["customer_id", "ts", "event", "channel", "event_id"]].copy()
    frame["ts"] = frame["ts"].dt.tz_convert("UTC")
    return frame.rename(columns={"customer_id": "user", "event": "action", "ts": "time"})


def test_same_answers_as_analyze_events(log, spark_con, spark_session):
    spark_session.createDataFrame(log).createOrReplaceTempView("raw_clicks")
    names = {"customer": "user", "event": "action", "ts": "time", "channel": "channel"}
    with jm.analyze_events(log, event_id="event_id", **names) as duck:
        spark = jm.analyze_table(spark_con, "raw_clicks", event_id="event_id", **names)
        assert spark.con is spark_con and spark.store_used()
        for name, ask in QUESTIONS.items():
            assert_same(ask(duck), ask(spark), what=name)
    # the user's table is untouched: same rows and columns
    assert spark_session.table("raw_clicks").columns == list(log.columns)
    assert spark_session.table("raw_clicks").count() == len(log)


def test_without_event_ids(log, spark_con, spark_session):
    spark_session.createDataFrame(log.drop(columns="event_id")).createOrReplaceTempView("clicks")
    names = {"customer": "user", "event": "action", "ts": "time"}
    with jm.analyze_events(log.drop(columns="event_id"), **names) as duck:
        spark = jm.analyze_table(spark_con, "clicks", **names)
        for name in ("transitions", "variants", "funnel"):
            assert_same(QUESTIONS[name](duck), QUESTIONS[name](spark), what=name)


def test_errors_name_the_table_and_column(log, spark_con, spark_session):
    spark_session.createDataFrame(log).createOrReplaceTempView("clicks")
    with pytest.raises(SparkSetupError, match=r"'clicks' has no column\(s\) customer_id='who'"):
        jm.analyze_table(spark_con, "clicks", customer="who", event="action", ts="time")
    with pytest.raises(SparkSetupError, match="no table 'nope'"):
        jm.analyze_table(spark_con, "nope")
    spark_session.sql(
        "SELECT user, time, IF(action = 'カート', NULL, action) AS action FROM clicks"
    ).createOrReplaceTempView("holes")
    with pytest.raises(SparkSetupError, match=r"row\(s\) with an empty 'action'"):
        jm.analyze_table(spark_con, "holes", customer="user", event="action", ts="time")
