"""``analyze_events``' two ways in (in-memory sort, batches into the database) against a
pandas oracle, and its temporary database's life."""

from __future__ import annotations

import gc
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import journeymap as jm
from engine.logs import generated_log, sorted_log


def _shuffled(seed: int = 3) -> pd.DataFrame:
    """A log with ties on (customer, ts, event), given in no particular order."""
    log = generated_log(120, seed=seed)[["customer_id", "ts", "event", "channel", "event_id"]]
    # duplicate some events at the same instant with other ids: ties only event_id breaks
    twins = log.sample(frac=0.2, random_state=seed).assign(
        event_id=lambda f: "z" + f["event_id"].astype(str)
    )
    both = pd.concat([log, twins], ignore_index=True)
    return both.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def _oracle_sessions(events: pd.DataFrame, minutes: float = 30) -> pd.Series:
    """session_id per row of ``events`` (already in tie-rule order), with pandas."""
    gap = events.groupby("customer_id")["ts"].diff() > pd.Timedelta(minutes=minutes)
    first = events["customer_id"] != events["customer_id"].shift()
    number = (gap | first).astype(int).groupby(events["customer_id"]).cumsum()
    return events["customer_id"] + "#" + number.astype(str)


@pytest.mark.parametrize("partition_rows", [None, 97])
def test_events_and_journeys_follow_the_tie_rule(partition_rows):
    log = _shuffled()
    kw = {} if partition_rows is None else {"partition_rows": partition_rows}
    with jm.analyze_events(log, event_id="event_id", channel="channel", **kw) as a:
        assert a.store_used()
        expected = sorted_log(log).reset_index(drop=True)
        expected["session_id"] = _oracle_sessions(expected)
        got = a.events().to_pandas().set_index("event_id").loc[expected["event_id"]]
        assert got["session_id"].tolist() == expected["session_id"].tolist()
        assert got["touchpoint"].tolist() == expected["event"].tolist()
        assert got["stage"].isna().all()
        paths = expected.groupby("customer_id", sort=False)["event"].agg(tuple).value_counts()
        variants = a.variants()
        assert dict(zip(variants["path"], variants["customers"], strict=True)) == dict(paths)
        # the store and the events sorted by the database agree
        assert a.transitions().equals(a.filtered(use_store=False).transitions())


def test_without_event_ids_input_order_breaks_ties(tmp_path):
    log = _shuffled().drop(columns="event_id")
    path = tmp_path / "events.parquet"
    pq.write_table(pa.Table.from_pandas(log, preserve_index=False), path, row_group_size=50)
    small = jm.analyze_events(path)
    large = jm.analyze_events(path, partition_rows=80)
    expected = log.assign(row=np.arange(len(log))).sort_values(
        ["customer_id", "ts", "event", "row"], kind="stable"
    )
    width = len(str(len(log)))
    ids = [str(r + 1).zfill(width) for r in expected["row"]]
    for a in (small, large):
        events = a.events().to_pandas().set_index("event_id")
        assert sorted(events.index) == sorted(ids)
        by_customer = a.filtered(use_store=False).variants()
        assert a.variants().equals(by_customer)
        funnel = a.funnel(["home", "カート"], window="1d")
        assert funnel.equals(a.filtered(use_store=False).funnel(["home", "カート"], window="1d"))
    assert small.transitions().equals(large.transitions())
    assert small.events().count().to_pyarrow().as_py() == len(log)


def test_errors_name_the_row_on_both_paths():
    log = _shuffled().drop(columns="event_id")
    log.loc[150, "event"] = None
    for kw in ({}, {"partition_rows": 40}):
        with pytest.raises(ValueError, match=r"row\(s\) \[151\]"):
            jm.analyze_events(log, **kw)


def test_the_temporary_database_goes_with_the_last_analysis():
    log = _shuffled()
    a = jm.analyze_events(log, event_id="event_id")
    directory = a._scratch.directory
    assert os.path.isdir(directory)
    kept = a.filtered(level="event")
    del a
    gc.collect()
    assert os.path.isdir(directory)  # the filtered copy still reads it
    assert len(kept.transitions())
    del kept
    gc.collect()
    assert not os.path.exists(directory)
    with jm.analyze_events(log, event_id="event_id", partition_rows=50) as b:
        directory = b._scratch.directory
        assert len(b.variants())
    assert not os.path.exists(directory)


@pytest.mark.parametrize(
    "scale, units",  # seconds, milliseconds, microseconds, two sorts, numpy's lexsort
    [(1_000_000, 10**5), (1_000, 10**8), (1, 10**11), (1, 2**55), (1, 2**61)],
)
def test_tie_sort_equals_lexsort_in_every_key_width(scale, units):
    from journeymap.engine.store import _tie_sort

    rng = np.random.default_rng(units % 97)
    n = 5000
    customer = rng.integers(0, 300, n).astype(np.int32)
    ts = rng.integers(0, units, n).astype(np.int64) * scale
    ts[::7] = ts[0]  # ties on time
    event = rng.integers(-1, 12, n).astype(np.int32)
    expected = np.lexsort((np.arange(n), event, ts, customer))  # stable: input order last
    assert (_tie_sort(customer, 300, ts, event, 12) == expected).all()
