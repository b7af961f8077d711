"""Every input format loads the same rows, checked against a plain-Python oracle."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from journeymap.sources.errors import IngestError

ROWS = [
    {
        "user": "u1",
        "action": "view",
        "time": "2024-05-01T10:00:00+02:00",
        "price": "3.5",
        "utm": "fb",
    },
    {"user": "u1", "action": "buy", "time": "2024-05-01T11:30:00Z", "price": "20", "utm": "g"},
    {"user": "u2", "action": "view", "time": "2024-05-02 09:15:00", "price": "", "utm": "x"},
    {"user": "u3", "action": "exit", "time": "1714640400", "price": "1.25", "utm": "fb"},
]
MAPPING = {"customer_id": "user", "event": "action", "ts": "time", "revenue": "price"}


def oracle() -> list[tuple]:
    """(customer_id, event, ts UTC, revenue, properties) computed by hand for ROWS."""
    expected = [
        datetime(2024, 5, 1, 8, 0, tzinfo=UTC),
        datetime(2024, 5, 1, 11, 30, tzinfo=UTC),
        datetime(2024, 5, 2, 9, 15, tzinfo=UTC),
        datetime.fromtimestamp(1714640400, UTC),
    ]
    out = []
    for row, ts in zip(ROWS, expected, strict=True):
        revenue = float(row["price"]) if row["price"] else None
        out.append((row["user"], row["action"], ts, revenue, {"utm": row["utm"]}))
    return sorted(out, key=lambda r: (r[0], r[2]))


def loaded(ws) -> list[tuple]:
    df = ws.to_pandas("events").sort_values(["customer_id", "ts"])
    return [
        (
            r.customer_id,
            r.event,
            r.ts.to_pydatetime(),
            None if pd.isna(r.revenue) else r.revenue,
            json.loads(r.properties),
        )
        for r in df.itertuples()
    ]


def write_csv(path: Path, rows: list[dict]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def write_all_formats(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(ROWS)
    paths = {
        "csv": write_csv(folder / "a.csv", ROWS),
        "parquet": folder / "a.parquet",
        "jsonl": folder / "a.jsonl",
        "csv.gz": folder / "a.csv.gz",
    }
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), paths["parquet"])
    paths["jsonl"].write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    with gzip.open(paths["csv.gz"], "wt") as fh:
        frame.to_csv(fh, index=False)
    return paths


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet", "jsonl"])
def test_each_file_format_loads_every_row(ws, tmp_path, fmt):
    path = write_all_formats(tmp_path / "in")[fmt]
    report = ws.ingest_events(path, mapping=MAPPING, refresh=False)
    assert (report.rows_read, report.loaded, report.quarantined) == (4, 4, 0)
    assert loaded(ws) == oracle()
    assert set(ws.to_pandas("events")["source"]) == {"a"}


def test_dataframe_and_arrow_table(ws):
    report = ws.ingest_events(pd.DataFrame(ROWS), mapping=MAPPING, refresh=False)
    assert report.loaded == 4
    assert loaded(ws) == oracle()
    assert set(ws.to_pandas("events")["source"]) == {"dataframe"}
    again = ws.ingest_events(pa.Table.from_pylist(ROWS), mapping=MAPPING, refresh=False)
    assert (again.loaded, again.duplicates) == (0, 4)


def test_folder_glob_and_list_load_each_file_once(tmp_path, ws):
    folder = tmp_path / "many"
    folder.mkdir()
    write_csv(folder / "part1.csv", ROWS[:2])
    write_csv(folder / "part2.csv", ROWS[2:])
    (folder / "notes.txt").write_text("not data")
    report = ws.ingest_events(folder, mapping=MAPPING, refresh=False)
    assert report.files == [str(folder / "part1.csv"), str(folder / "part2.csv")]
    assert report.loaded == 4 and loaded(ws) == oracle()
    assert (
        ws.ingest_events(str(folder / "part*.csv"), mapping=MAPPING, refresh=False).duplicates == 4
    )
    files = [folder / "part2.csv", folder / "part1.csv"]
    listed = ws.ingest_events(files, mapping=MAPPING, refresh=False)
    assert (listed.loaded, listed.duplicates) == (0, 4)
    assert listed.files == [str(f) for f in files]


def test_same_named_columns_need_no_mapping_and_extras_become_properties(ws):
    frame = pd.DataFrame(
        {
            "customer_id": ["c1"],
            "event": ["signup"],
            "ts": ["2024-01-01T00:00:00Z"],
            "channel": ["web"],
            "email": ["a@example.com"],
            "plan": ["pro"],
            "seats": [3],
        }
    )
    ws.ingest_events(frame, refresh=False)
    row = ws.to_pandas("events").iloc[0]
    assert (row.customer_id, row.channel, row.email) == ("c1", "web", "a@example.com")
    assert json.loads(row.properties) == {"plan": "pro", "seats": 3}


def test_customer_id_derived_from_first_present_identifier(ws):
    frame = pd.DataFrame(
        {
            "event": ["a", "b", "c"],
            "ts": ["2024-01-01T00:00:00Z"] * 3,
            "anonymous_id": ["anon1", "anon2", None],
            "email": [None, "x@y.com", None],
            "device_id": [None, "d2", "d3"],
        }
    )
    ws.ingest_events(frame, refresh=False)
    got = dict(ws.to_pandas("events")[["event", "customer_id"]].values)
    # contract order: crm_id, email, phone, device_id, anonymous_id, order_id
    assert got == {"a": "anonymous_id:anon1", "b": "email:x@y.com", "c": "device_id:d3"}


def test_properties_column_is_merged_with_extra_columns(ws):
    frame = pd.DataFrame(
        {
            "customer_id": ["c1"],
            "event": ["view"],
            "ts": ["2024-01-01T00:00:00Z"],
            "properties": ['{"page": "/home", "n": 2}'],
            "utm": ["mail"],
        }
    )
    ws.ingest_events(frame, refresh=False)
    props = json.loads(ws.to_pandas("events").properties[0])
    assert props == {"page": "/home", "n": 2, "utm": "mail"}


def test_unknown_mapping_field_and_missing_column_fail_clearly(ws, tmp_path):
    path = write_csv(tmp_path / "e.csv", ROWS)
    with pytest.raises(IngestError, match="'colour' is not a field of events"):
        ws.ingest_events(path, mapping={"colour": "user"}, refresh=False)
    with pytest.raises(IngestError, match=r"e\.csv.*no column 'stamp'"):
        ws.ingest_events(path, mapping={**MAPPING, "ts": "stamp"}, refresh=False)
    with pytest.raises(IngestError, match=r"required field 'event'"):
        ws.ingest_events(path, mapping={"customer_id": "user", "ts": "time"}, refresh=False)
    with pytest.raises(IngestError, match="no such file"):
        ws.ingest_events(tmp_path / "missing.csv", refresh=False)
    with pytest.raises(IngestError, match="matches no"):
        ws.ingest_events(str(tmp_path / "*.parquet"), refresh=False)
    assert ws.to_pandas("events").empty and ws.data_version == 0
