"""Each bad-row reason lands in quarantine with its file, row number, field and raw row."""

from __future__ import annotations

import json

import pandas as pd

from journeymap.sources.timestamps import UNPARSEABLE

NO_ID = (
    "no identifier: customer_id and crm_id, email, phone, device_id, anonymous_id, "
    "order_id are all empty"
)


def quarantine_by_row(ws) -> dict[int, tuple[str, str, dict]]:
    q = ws.to_pandas("quarantine")
    return {int(r.row_number): (r.field, r.reason, json.loads(r.raw)) for r in q.itertuples()}


def test_event_reasons_with_csv_row_numbers(ws, tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(
        "user,action,time,price,props\n"
        "u1,view,2024-01-01T00:00:00Z,,\n"  # row 1: fine
        ",view,2024-01-01T00:00:00Z,,\n"  # row 2: no identifier
        "u3,,2024-01-01T00:00:00Z,,\n"  # row 3: no event name
        "u4,view,,,\n"  # row 4: missing timestamp
        "u5,view,31/12/2024,,\n"  # row 5: unparseable timestamp
        "u6,buy,2024-01-01T00:00:00Z,ten,\n"  # row 6: revenue not a number
        'u7,view,2024-01-01T00:00:00Z,,"[1,2]"\n'  # row 7: properties not an object
        "u8,buy,2024-01-01T00:00:00Z,9.99,\n"  # row 8: fine
    )
    mapping = {
        "customer_id": "user",
        "event": "action",
        "ts": "time",
        "revenue": "price",
        "properties": "props",
    }
    report = ws.ingest_events(path, mapping=mapping, refresh=False)
    assert (report.rows_read, report.loaded, report.quarantined) == (8, 2, 6)
    got = quarantine_by_row(ws)
    expected = {
        2: ("customer_id", NO_ID),
        3: ("action", "missing event name"),
        4: ("time", "missing timestamp"),
        5: ("time", UNPARSEABLE),
        6: ("price", "revenue is not a number"),
        7: ("props", "properties is not a JSON object"),
    }
    assert {row: v[:2] for row, v in got.items()} == expected
    # the raw row is the row as read, every column, values as text
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    assert got[5][2] == dict(zip(header, ["u5", "view", "31/12/2024", None, None], strict=True))
    assert got[6][2]["price"] == "ten" and got[7][2]["props"] == "[1,2]"
    q = ws.to_pandas("quarantine")
    assert set(q.file) == {str(path)} and set(q.table_name) == {"events"}
    assert set(q.batch_id) == {report.batch_id} and set(q.source) == {"events"}
    assert sorted(ws.to_pandas("events").customer_id) == ["u1", "u8"]
    # top five reasons: all tied at one row, so ordered by field then reason
    assert report.top_reasons == [(f, r, 1) for f, r in sorted(expected.values())][:5]


def test_jsonl_row_number_is_the_line_number(ws, tmp_path):
    path = tmp_path / "e.jsonl"
    lines = [
        {"customer_id": "a", "event": "view", "ts": "2024-01-01T00:00:00Z"},
        None,  # a blank line
        {"customer_id": "b", "event": "view", "ts": "not a time"},
        {"customer_id": "c", "ts": "2024-01-01T00:00:00Z", "nested": {"x": 1}},
    ]
    path.write_text("".join("\n" if r is None else json.dumps(r) + "\n" for r in lines))
    report = ws.ingest_events(path, refresh=False)
    assert (report.rows_read, report.loaded, report.quarantined) == (3, 1, 2)
    got = quarantine_by_row(ws)
    assert {k: v[:2] for k, v in got.items()} == {
        3: ("ts", UNPARSEABLE),
        4: ("event", "missing event name"),
    }
    assert got[4][2]["customer_id"] == "c"


def test_parquet_and_frame_rows_count_from_one(ws):
    frame = pd.DataFrame(
        {"customer_id": ["a", None, "c"], "event": ["x", "y", "z"], "ts": ["2024-01-01"] * 3}
    )
    ws.ingest_events(frame, refresh=False)
    q = ws.to_pandas("quarantine")
    assert list(q.row_number) == [2] and list(q.file) == ["<DataFrame>"]


def test_feedback_reasons(ws, tmp_path):
    path = tmp_path / "survey.csv"
    path.write_text(
        "email,kind,score,ts,comment\n"
        "a@x.com,nps,9,2024-02-01T10:00:00Z,great\n"  # 1 fine
        "b@x.com,nps,11,2024-02-01T10:00:00Z,\n"  # 2 out of range
        "c@x.com,csat,0,2024-02-01T10:00:00Z,\n"  # 3 out of range (1-5)
        "d@x.com,ces,8,2024-02-01T10:00:00Z,\n"  # 4 out of range (1-7)
        "e@x.com,poll,3,2024-02-01T10:00:00Z,\n"  # 5 unknown kind
        "f@x.com,csat,good,2024-02-01T10:00:00Z,\n"  # 6 not a number
        "g@x.com,nps,,2024-02-01T10:00:00Z,\n"  # 7 missing score
        "h@x.com,review,,,nice shop\n"  # 8 fine: a review needs no score or time
        "i@x.com,CES,7,2024-02-01T10:00:00Z,\n"  # 9 fine: kinds are case-insensitive
        "j@x.com,ticket,,someday,broken\n"  # 10 unparseable time
        ",nps,5,2024-02-01T10:00:00Z,\n"  # 11 no identifier
        "k@x.com,,5,2024-02-01T10:00:00Z,\n"  # 12 missing kind
    )
    report = ws.ingest_feedback(path, mapping={"text": "comment"}, refresh=False)
    assert (report.rows_read, report.loaded, report.quarantined) == (12, 3, 9)
    got = {k: v[:2] for k, v in quarantine_by_row(ws).items()}
    kinds = "unknown feedback kind (expected one of nps, csat, ces, review, ticket)"
    assert got == {
        2: ("score", "score out of range for nps (expected 0 to 10)"),
        3: ("score", "score out of range for csat (expected 1 to 5)"),
        4: ("score", "score out of range for ces (expected 1 to 7)"),
        5: ("kind", kinds),
        6: ("score", "score is not a number"),
        7: ("score", "missing score"),
        10: ("ts", UNPARSEABLE),
        11: ("customer_id", NO_ID),
        12: ("kind", "missing feedback kind"),
    }
    fb = ws.to_pandas("feedback").set_index("email")
    assert fb.loc["a@x.com", "score"] == 9.0 and fb.loc["a@x.com", "text"] == "great"
    assert fb.loc["i@x.com", "kind"] == "ces" and fb.loc["h@x.com", "text"] == "nice shop"
    assert pd.isna(fb.loc["h@x.com", "ts"]) and fb.loc["a@x.com", "customer_id"] == "email:a@x.com"


def test_nothing_read_is_dropped(ws, tmp_path):
    """Every input row is loaded, a duplicate, or in quarantine: the counts add up."""
    rows = [
        {
            "customer_id": f"c{i % 7}",
            "event": ["a", None, "b"][i % 3],
            "ts": f"2024-01-{1 + i % 28:02d}",
        }
        for i in range(300)
    ]
    rows += rows[:50]  # duplicates inside one call
    report = ws.ingest_events(pd.DataFrame(rows), refresh=False)
    bad = sum(1 for r in rows if r["event"] is None)
    distinct_good = len({tuple(r.values()) for r in rows if r["event"] is not None})
    assert report.rows_read == len(rows)
    assert report.quarantined == bad == len(ws.to_pandas("quarantine"))
    assert report.loaded == distinct_good == len(ws.to_pandas("events"))
    assert report.rows_read == report.loaded + report.duplicates + report.quarantined


def test_customers_without_identifier_are_quarantined(ws, tmp_path):
    path = tmp_path / "crm.csv"
    path.write_text("email,phone,tier\na@x.com,,gold\n,,silver\n,+44 20 7946 0000,bronze\n")
    report = ws.ingest_customers(path, refresh=False, progress=True)
    assert (report.loaded, report.quarantined) == (2, 1)
    assert {k: v[:2] for k, v in quarantine_by_row(ws).items()} == {2: ("customer_id", NO_ID)}
    assert sorted(ws.to_pandas("customers").customer_id) == [
        "email:a@x.com",
        "phone:+44 20 7946 0000",
    ]
