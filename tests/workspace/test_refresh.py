"""The refresh pipeline: steps in contract order, mapping by the spec, unmapped counts."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from journeymap.spec import load_spec
from journeymap.spec.matching import match_event
from journeymap.workspace import Workspace
from journeymap.workspace.refresh import apply_mapping, default_steps

SPEC = """\
version: 1
name: Tiny
personas:
  - id: vip
    name: VIP
    rule:
      tier: gold
stages:
  - id: look
    name: Look
  - id: buy
    name: Buy
touchpoints:
  - id: home
    name: Home
    stage: look
    match:
      event: view
      where: {page: /}
  - id: product
    name: Product
    stage: look
    match:
      event: view
  - id: checkout
    name: Checkout
    stage: buy
    match:
      event: {regex: "^(buy|pay)$"}
goal:
  touchpoint: checkout
"""

EVENTS = pd.DataFrame(
    {
        "customer_id": ["a", "a", "b", "b", "c"],
        "event": ["view", "view", "pay", "scroll", "scroll"],
        "ts": pd.date_range("2024-01-01", periods=5, freq="h", tz="UTC"),
        "page": ["/", "/p/1", None, None, None],
    }
)


@pytest.fixture
def ws(tmp_path):
    workspace = Workspace.create(tmp_path / "w", spec=SPEC)
    yield workspace
    workspace.close()


def test_default_steps_follow_the_contract_order():
    assert [name for name, _ in default_steps()] == ["stitch", "mapping", "store", "attach"]


def test_steps_run_in_order_and_report(ws):
    order = []

    def step(name):
        return lambda w: order.append(name) or f"{name} done"

    ws.ingest_events(EVENTS, refresh=False)
    before = ws.data_version
    steps = [(n, step(n)) for n in ("stitch", "mapping", "store", "attach")]
    report = ws.refresh(steps=steps)
    assert order == ["stitch", "mapping", "store", "attach"]
    assert report.steps == {n: f"{n} done" for n in order}
    # nothing mapped by these stand-in steps: every event is unmapped, counted by name
    assert report.unmapped_events == {"scroll": 2, "view": 2, "pay": 1}
    assert report.data_version == ws.data_version == before + 1


def test_mapping_step_matches_the_spec_oracle(ws):
    ws.ingest_events(EVENTS, refresh=False)
    ws.ingest_customers(
        pd.DataFrame({"customer_id": ["a", "b"], "tier": ["gold", "silver"]}), refresh=False
    )
    report = ws.refresh(steps=[("mapping", apply_mapping)])
    spec = load_spec(ws.path / "journey.yaml")
    events = ws.to_pandas("events")
    stage_of = {tp.id: tp.stage for tp in spec.touchpoints}
    for row in events.itertuples():
        expected = match_event(spec, row.event, row.channel, json.loads(row.properties))
        assert (row.touchpoint if pd.notna(row.touchpoint) else None) == expected
        assert (row.stage if pd.notna(row.stage) else None) == stage_of.get(expected)
    assert sorted(events.touchpoint.dropna()) == ["checkout", "home", "product"]
    assert report.unmapped_events == {"scroll": 2}
    assert str(report.steps["mapping"]).startswith("mapped 3 of 5 events")
    personas = ws.to_pandas("customers").set_index("customer_id").persona
    assert personas["a"] == "vip" and pd.isna(personas["b"])
    assert list(ws.table("events").columns) == list(ws.table("events").schema().names)


def test_duckdb_memory_is_capped_during_the_steps_and_restored_after(ws):
    """``[refresh] memory_limit`` holds while the steps run (default 4GB), not after."""
    from journeymap.workspace import backend

    def limit() -> str:
        return backend.execute(ws.con, "SELECT current_setting('memory_limit')")[0][0]

    before, seen = limit(), []
    ws.refresh(steps=[("probe", lambda w: seen.append(limit()))])
    ws.settings["refresh"] = {"memory_limit": "300MB"}
    ws.refresh(steps=[("probe", lambda w: seen.append(limit()))])
    # DuckDB reports limits in its own units (GiB/MiB, rounded)
    assert seen[0].startswith(("3.7 GiB", "3.8 GiB")) and seen[1].startswith("286")
    # restored (DuckDB's text round trip of the old limit may move it by a rounding step)
    after = limit()
    assert after.split()[1] == before.split()[1]
    assert abs(float(after.split()[0]) - float(before.split()[0])) < 0.05 * float(before.split()[0])


def test_memory_at_most_lowers_duckdb_and_never_raises_it():
    """The store build's cap while it streams slices: lower only, restored afterwards."""
    import ibis

    from journeymap.workspace.backend import memory_at_most, raw

    con = ibis.duckdb.connect()

    def limit_gib() -> float:
        text = raw(con).execute("SELECT current_setting('memory_limit')").fetchone()[0]
        number, unit = text.split()
        return float(number) / (1024 if unit == "MiB" else 1)

    raw(con).execute("SET memory_limit = '6GiB'")
    with memory_at_most(con, 2 * 2**30):
        assert limit_gib() == 2.0
    assert abs(limit_gib() - 6.0) < 0.1
    raw(con).execute("SET memory_limit = '1GiB'")
    with memory_at_most(con, 2 * 2**30):
        assert limit_gib() == 1.0


def test_memory_limit_blocks_restore_the_exact_cap():
    """DuckDB shows ``memory_limit`` rounded ("4.6 GiB" for 5GB): restoring what it shows
    lowered the cap at every nested block and every refresh of a long-lived server."""
    import ibis

    from journeymap.workspace.backend import memory_at_most, memory_limit, raw

    con = ibis.duckdb.connect()

    def shown() -> str:
        return raw(con).execute("SELECT current_setting('memory_limit')").fetchone()[0]

    raw(con).execute("SET memory_limit = '6GB'")
    shown_first, settled = shown(), []
    for _ in range(5):  # refreshes of one server: the cap must not sink refresh by refresh
        with memory_limit(con, "5GB"):
            assert shown() == "4.6 GiB"
            for _ in range(3):  # store builds inside one refresh: restored exactly
                with memory_at_most(con, 2 * 2**30):
                    assert shown() == "2.0 GiB"
                assert shown() == "4.6 GiB"
        settled.append(shown())
    # A cap journeymap did not set is known only as shown: it may lose that rounding once.
    assert settled == [settled[0]] * 5 and settled[0] in (shown_first, "5.4 GiB")
    raw(con).execute("SET memory_limit = '3GB'")  # a user's own change is kept
    with memory_limit(con, "1GB"):
        pass
    assert shown() in ("2.7 GiB", "2.6 GiB")  # 3GB as shown, not the 6GB restored before


def test_release_cached_blocks_empties_duckdbs_cache_and_keeps_the_cap(tmp_path):
    """After a scan DuckDB keeps the blocks it read (up to its cap); the store read-back
    lets them go so they do not sit beside its arrays."""
    import ibis

    from journeymap.workspace.backend import RELEASE_FLOOR_BYTES, raw, release_cached_blocks

    con = ibis.duckdb.connect(str(tmp_path / "w.duckdb"))
    sql = "CREATE TABLE t AS SELECT random() AS x, hash(range) AS y FROM range(10000000)"
    raw(con).execute(sql)
    con.disconnect()
    con = ibis.duckdb.connect(str(tmp_path / "w.duckdb"))

    def cached() -> int:
        sql = "SELECT memory_usage_bytes FROM duckdb_memory() WHERE tag = 'BASE_TABLE'"
        return raw(con).execute(sql).fetchone()[0]

    def shown() -> str:
        return raw(con).execute("SELECT current_setting('memory_limit')").fetchone()[0]

    raw(con).execute("SET memory_limit = '2GiB'")  # (shown exactly: restored exactly)
    before = shown()
    for _ in raw(con).execute("SELECT * FROM t").fetch_record_batch(10**6):
        pass  # read like the store: in record batches
    assert cached() > 100 * 2**20  # the scanned blocks stay
    release_cached_blocks(con)
    assert cached() <= RELEASE_FLOOR_BYTES and shown() == before


def test_append_rows_keeps_no_reference_to_the_rows(tmp_path):
    """Each store slice is appended then dropped: nothing may hold its Arrow buffers
    (Ibis's ``insert`` kept every table it was given: +1 GB a slice at 100M)."""
    import gc

    import ibis
    import numpy as np
    import pyarrow as pa

    from journeymap.workspace.backend import append_rows, write_table

    con = ibis.duckdb.connect(str(tmp_path / "w.duckdb"))

    def part(i: int) -> pa.Table:
        values = np.arange(100_000) + i * 100_000
        return pa.table({"s": pa.array(values.astype(str)), "a": pa.array(values)})

    write_table(con, "t", part(0))
    baseline = pa.total_allocated_bytes()
    for i in range(1, 4):
        append_rows(con, "t", part(i).select(["a", "s"]))  # columns matched by name
        gc.collect()
        assert pa.total_allocated_bytes() <= baseline
    got = con.table("t").to_pyarrow()
    assert got.num_rows == 400_000
    assert sorted(got["a"].to_pylist()) == list(range(400_000))
    assert all(str(a) == s for a, s in zip(got["a"].to_pylist(), got["s"].to_pylist(), strict=True))
