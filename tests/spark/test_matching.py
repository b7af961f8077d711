"""``json_property_text`` (the one backend-specific piece of the match rules) gives the
same text on Spark as on DuckDB for every kind of JSON value."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from spark.both import load, needs_pyspark

needs_pyspark()

from journeymap.spec.matching import json_property_text  # noqa: E402

DOCS = [
    '{"page": "checkout"}',
    '{"page": "caf\\u00e9 ✓"}',
    '{"page": 3}',
    '{"page": true}',
    '{"page": null}',
    '{"page": {"step": 2}}',
    '{"other": "x"}',
    "{}",
    "not json",
    None,
    '{"page": "a", "it\'s": "quoted", "a/b": "slash"}',
]
KEYS = ["page", "a/b"]


def test_property_text_matches(spark_con, tmp_path):
    frame = pd.DataFrame({"i": range(len(DOCS)), "properties": DOCS})
    answers = []
    for con in (ibis.duckdb.connect(), spark_con):
        load(con, {"docs": frame})
        t = con.table("docs")
        out = t.select("i", **{k: json_property_text(t.properties, k) for k in KEYS})
        answers.append(out.order_by("i").to_pandas())
    duck, spark = answers
    assert duck.loc[0, "page"] == "checkout" and pd.isna(duck.loc[4, "page"])
    assert duck.to_dict("records") == spark.to_dict("records")


def test_quote_in_key_is_a_clear_error_on_spark(spark_con):
    load(spark_con, {"docs": pd.DataFrame({"properties": ['{"it\'s": 1}']})})
    with pytest.raises(ValueError, match="it's"):
        json_property_text(spark_con.table("docs").properties, "it's")


def test_trimmed_is_python_strip_on_both(spark_con):
    """Identifier trimming (stitching) strips exactly Python's white space, on both
    backends: Ibis's ``strip()`` on Spark also ate the letters f and v."""
    from journeymap.sources.identity.normalize import trimmed

    values = ["abcf", " fav \t", "\x0bvtnr\x0c", "\n f \r", "   ", "", "x y", None]
    expected = [None if v is None or not v.strip() else v.strip() for v in values]
    frame = pd.DataFrame({"i": range(len(values)), "v": values})
    for con in (ibis.duckdb.connect(), spark_con):
        load(con, {"vals": frame})
        t = con.table("vals")
        got = t.select("i", out=trimmed(t.v)).order_by("i").to_pandas()["out"]
        assert [None if pd.isna(x) else x for x in got] == expected, con.name
