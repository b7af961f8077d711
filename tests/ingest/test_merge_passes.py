"""The events merge in several hash-range passes loads what one pass loads.

Oracle: pandas ``drop_duplicates`` over the input in file order (the first occurrence of
an id wins), minus the ids already in the table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from journeymap.sources import ingest as ingest_mod

from .helpers import make_workspace


def log(seed: int, n: int, ids: int) -> pd.DataFrame:
    """``n`` events over ``ids`` distinct event ids (so many repeat), page tells rows apart."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in rng.integers(0, ids, n)],
            "customer_id": [f"c{i}" for i in rng.integers(0, 40, n)],
            "event": rng.choice(["view", "buy"], n),
            "ts": pd.Timestamp("2024-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 86400, n), unit="s"),
            "page": [f"/p{seed}/{i}" for i in range(n)],
        }
    )


def loaded(ws) -> pd.DataFrame:
    events = ws.to_pandas("events")[["event_id", "customer_id", "event", "properties"]]
    return events.sort_values("event_id").reset_index(drop=True)


def oracle(frames: list[pd.DataFrame], existing: set[str]) -> pd.DataFrame:
    rows = pd.concat(frames, ignore_index=True).drop_duplicates("event_id", keep="first")
    rows = rows[~rows.event_id.isin(existing)]
    return (
        pd.DataFrame(
            {
                "event_id": rows.event_id,
                "customer_id": rows.customer_id,
                "event": rows.event,
                "properties": ['{"page":"' + p + '"}' for p in rows.page],
            }
        )
        .sort_values("event_id")
        .reset_index(drop=True)
    )


@pytest.mark.parametrize("pass_rows", [7, 10**9])
def test_merge_in_passes_matches_drop_duplicates(tmp_path, monkeypatch, pass_rows):
    """Duplicates within a file, across files of one call and against loaded rows."""
    monkeypatch.setattr(ingest_mod, "MERGE_PASS_ROWS", pass_rows)
    ws = make_workspace(tmp_path / "ws")
    try:
        first = log(1, 150, 120)
        report = ws.ingest_events(first, refresh=False)
        expected_first = oracle([first], set())
        assert (report.loaded, report.duplicates) == (
            len(expected_first),
            150 - len(expected_first),
        )
        pd.testing.assert_frame_equal(loaded(ws), expected_first)

        files = [tmp_path / "a.parquet", tmp_path / "b.parquet"]
        second, third = log(2, 200, 240), log(3, 200, 240)
        second.to_parquet(files[0], index=False)
        third.to_parquet(files[1], index=False)
        report = ws.ingest_events(files, refresh=False)
        new = oracle([second, third], set(expected_first.event_id))
        assert (report.loaded, report.duplicates) == (len(new), 400 - len(new))
        everything = pd.concat([expected_first, new]).sort_values("event_id")
        pd.testing.assert_frame_equal(loaded(ws), everything.reset_index(drop=True))

        again = ws.ingest_events(files, refresh=False)
        assert (again.loaded, again.duplicates) == (0, 400)
    finally:
        ws.close()
