"""Re-ingesting the same data adds nothing; duplicates are counted, not loaded."""

from __future__ import annotations

import hashlib

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

EVENTS = pd.DataFrame(
    {
        "customer_id": ["a", "a", "b", "b"],
        "event": ["view", "buy", "view", "view"],
        "ts": [
            "2024-01-01T10:00:00Z",
            "2024-01-01T10:05:00Z",
            "2024-01-02T08:00:00Z",
            "2024-01-02T08:00:00Z",
        ],
        "page": ["/", "/cart", "/", "/"],
    }
)


def test_reingest_same_file_adds_no_rows_and_counts_duplicates(ws, tmp_path):
    path = tmp_path / "e.csv"
    EVENTS.to_csv(path, index=False)
    first = ws.ingest_events(path, refresh=False)
    # rows 3 and 4 are identical: the content hash makes them one event
    assert (first.loaded, first.duplicates) == (3, 1)
    version = ws.data_version
    second = ws.ingest_events(path, refresh=False)
    assert (second.rows_read, second.loaded, second.duplicates) == (4, 0, 4)
    assert len(ws.to_pandas("events")) == 3
    assert ws.data_version == version + 1
    batches = ws.to_pandas("batches").sort_values("batch_id")
    assert list(batches.rows_loaded) == [3, 0] and list(batches.rows_duplicate) == [1, 4]


def test_content_hash_ignores_source_and_file(ws, tmp_path):
    """The same rows from a Parquet file under another source name are duplicates."""
    csv_path, pq_path = tmp_path / "e.csv", tmp_path / "other.parquet"
    EVENTS.to_csv(csv_path, index=False)
    pq.write_table(pa.Table.from_pandas(EVENTS, preserve_index=False), pq_path)
    ws.ingest_events(csv_path, source="web", refresh=False)
    again = ws.ingest_events(pq_path, source="warehouse-export", refresh=False)
    assert (again.loaded, again.duplicates) == (0, 4)


def test_content_hash_changes_with_content(ws):
    ws.ingest_events(EVENTS, refresh=False)
    changed = EVENTS.assign(page=["/", "/cart", "/", "/other"])
    report = ws.ingest_events(changed, refresh=False)
    assert (report.loaded, report.duplicates) == (1, 3)
    ids = ws.to_pandas("events").event_id
    assert ids.is_unique and ids.str.fullmatch("[0-9a-f]{32}").all()


def test_event_id_from_data_wins_and_first_occurrence_is_kept(ws):
    frame = EVENTS.assign(event_id=["e1", "e2", "e3", "e3"], page=["/", "/", "/first", "/second"])
    report = ws.ingest_events(frame, refresh=False)
    assert (report.loaded, report.duplicates) == (3, 1)
    events = ws.to_pandas("events").set_index("event_id")
    assert sorted(events.index) == ["e1", "e2", "e3"]
    assert events.loc["e3", "properties"] == '{"page":"/first"}'
    report = ws.ingest_events(frame.assign(page="changed"), refresh=False)
    assert (report.loaded, report.duplicates) == (0, 4)  # same ids: nothing new


def test_hash_is_md5_of_the_documented_fields(ws):
    """Pin the hash recipe: changing it would re-load every event already ingested."""
    ws.ingest_events(EVENTS.iloc[:1], refresh=False)
    row = ws.to_pandas("events").iloc[0]
    micros = int(pd.Timestamp("2024-01-01T10:00:00Z").value // 1000)
    fields = ["a", str(micros), "view", "", "", '{"page":"/"}', "", "", "", "", "", ""]
    assert row.event_id == hashlib.md5("\x1f".join(fields).encode()).hexdigest()


def test_feedback_reingest_is_idempotent(ws):
    fb = pd.DataFrame(
        {
            "email": ["a@x.com", "b@x.com"],
            "kind": ["nps", "csat"],
            "score": [10, 4],
            "ts": ["2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"],
            "text": ["love it", None],
            "touchpoint": ["checkout", None],
        }
    )
    first = ws.ingest_feedback(fb, refresh=False)
    second = ws.ingest_feedback(fb, refresh=False)
    assert (first.loaded, second.loaded, second.duplicates) == (2, 0, 2)
    stored = ws.to_pandas("feedback").set_index("email")
    assert stored.loc["a@x.com", "touchpoint_given"] == "checkout"
    assert stored.touchpoint.isna().all() and stored.sentiment.isna().all()
