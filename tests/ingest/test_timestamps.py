"""Timestamps become UTC: offsets, epoch seconds/milliseconds, naive times in the zone.

The oracle is Python's zoneinfo/datetime, independent of the DuckDB SQL under test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
import pytest

from journeymap.sources.timestamps import UNPARSEABLE

from .helpers import make_workspace

LONDON = ZoneInfo("Europe/London")


def load_ts(ws, values, ts_type=None) -> dict[str, datetime | None]:
    """Ingest one event per value; return event name -> stored UTC time (None if quarantined)."""
    names = [f"e{i}" for i in range(len(values))]
    ts = pa.array(values, ts_type) if ts_type is not None else pa.array(values)
    table = pa.table({"customer_id": ["c"] * len(values), "event": names, "ts": ts})
    ws.ingest_events(table, refresh=False)
    got = {r.event: r.ts.to_pydatetime() for r in ws.to_pandas("events").itertuples()}
    return {name: got.get(name) for name in names}


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_iso_offsets_and_z_are_converted_to_utc(ws):
    values = [
        "2024-03-01T10:00:00+02:00",
        "2024-03-01T10:00:00Z",
        "2024-03-01 10:00:00.250-05:30",
        "2024-03-01T10:00:00+0100",
        "2024-03-01T10:00+02",
    ]
    expected = [datetime.fromisoformat(v.replace(" ", "T")) for v in values[:3]]
    expected += [utc(2024, 3, 1, 9), utc(2024, 3, 1, 8)]
    got = load_ts(ws, values)
    assert list(got.values()) == [e.astimezone(UTC) for e in expected]


def test_epoch_seconds_and_milliseconds_by_magnitude(ws):
    seconds, millis = 1_700_000_000, 1_700_000_000_123
    values = [str(seconds), str(millis), f"{seconds}.5", "99999999999"]
    got = load_ts(ws, values)
    assert got["e0"] == datetime.fromtimestamp(seconds, UTC)
    assert got["e1"] == datetime.fromtimestamp(seconds, UTC) + timedelta(milliseconds=123)
    assert got["e2"] == datetime.fromtimestamp(seconds, UTC) + timedelta(milliseconds=500)
    # just under 1e11: still seconds (year 5138)
    assert got["e3"] == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=99_999_999_999)


def test_epoch_as_numbers_int_and_float(ws):
    got = load_ts(ws, [1_700_000_000, 1_700_000_000_000, 2_000_000_000])
    assert got["e0"] == got["e1"] == datetime.fromtimestamp(1_700_000_000, UTC)
    assert got["e2"] == datetime.fromtimestamp(2_000_000_000, UTC)


def test_naive_times_read_in_workspace_zone_across_dst(tmp_path):
    ws = make_workspace(tmp_path / "london", timezone="Europe/London")
    values = ["2024-01-15 09:00:00", "2024-07-15T09:00:00", "2024-03-31 00:30", "2024-03-31 03:00"]
    got = load_ts(ws, values)
    for name, text in zip(got, values, strict=True):
        local = datetime.fromisoformat(text.replace(" ", "T")).replace(tzinfo=LONDON)
        assert got[name] == local.astimezone(UTC), text
    assert got["e1"] == utc(2024, 7, 15, 8)  # BST = UTC+1
    assert got["e0"] == utc(2024, 1, 15, 9)  # GMT


def test_dst_gap_and_overlap_follow_the_documented_rule(tmp_path):
    ws = make_workspace(tmp_path / "london", timezone="Europe/London")
    got = load_ts(ws, ["2024-03-31 01:30", "2024-10-27 01:30"])
    assert got["e0"] == utc(2024, 3, 31, 1, 30)  # skipped hour: offset before the change
    assert got["e1"] == utc(2024, 10, 27, 1, 30)  # repeated hour: the later instant (GMT)


def test_offsets_ignore_the_workspace_zone(tmp_path):
    ws = make_workspace(tmp_path / "ny", timezone="America/New_York")
    got = load_ts(ws, ["2024-07-01T12:00:00Z", "2024-07-01 12:00", "1719835200"])
    assert got["e0"] == utc(2024, 7, 1, 12)
    assert got["e1"] == utc(2024, 7, 1, 16)  # EDT = UTC-4
    assert got["e2"] == datetime.fromtimestamp(1719835200, UTC)


def test_typed_timestamp_columns(tmp_path):
    ws = make_workspace(tmp_path / "paris", timezone="Europe/Paris")
    naive = load_ts(ws, [datetime(2024, 7, 1, 12, 0)], pa.timestamp("us"))
    assert naive["e0"] == utc(2024, 7, 1, 10)  # CEST = UTC+2
    frame = pd.DataFrame(
        {
            "customer_id": ["c"],
            "event": ["aware"],
            "ts": pd.to_datetime(["2024-07-01T12:00:00+05:00"], utc=True),
        }
    )
    ws.ingest_events(frame, refresh=False)
    stored = ws.to_pandas("events").set_index("event").ts["aware"].to_pydatetime()
    assert stored == utc(2024, 7, 1, 7)


@pytest.mark.parametrize(
    "bad", ["yesterday", "01/03/2024 10:00", "2024-13-01", "1e20", "123456789012345678", ""]
)
def test_unparseable_or_missing_is_quarantined(ws, bad):
    got = load_ts(ws, ["2024-01-01T00:00:00Z", bad])
    assert got["e0"] == utc(2024, 1, 1) and got["e1"] is None
    q = ws.to_pandas("quarantine")
    assert list(q.row_number) == [2]
    reason = "missing timestamp" if bad == "" else UNPARSEABLE
    assert list(q.reason) == [reason] and list(q.field) == ["ts"]
