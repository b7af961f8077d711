"""Customers upsert by customer_id; new columns become typed attribute columns."""

from __future__ import annotations

import pandas as pd

from journeymap.workspace import backend


def column_types(ws) -> dict[str, str]:
    return backend.column_types(ws.con, "customers")


def test_attributes_are_added_with_inferred_types(ws, tmp_path):
    path = tmp_path / "crm.csv"
    path.write_text(
        "crm_id,email,age,ltv,vip,zip,segment\n"
        "1,a@x.com,34,120.5,true,01234,price\n"
        "2,b@x.com,51,80,false,90210,premium\n"
    )
    report = ws.ingest_customers(path, refresh=False)
    assert (report.loaded, report.updated, report.duplicates) == (2, 0, 0)
    assert report.new_columns == ["age", "ltv", "vip", "zip", "segment"]
    types = column_types(ws)
    assert {k: types[k] for k in report.new_columns} == {
        "age": "BIGINT",
        "ltv": "DOUBLE",
        "vip": "BOOLEAN",
        "zip": "VARCHAR",  # leading zero: text, not a number
        "segment": "VARCHAR",
    }
    rows = ws.to_pandas("customers").set_index("customer_id")
    assert list(rows.index) == ["crm_id:1", "crm_id:2"]
    assert rows.loc["crm_id:1", "age"] == 34 and rows.loc["crm_id:1", "zip"] == "01234"
    assert bool(rows.loc["crm_id:2", "vip"]) is False and rows.loc["crm_id:2", "ltv"] == 80.0
    assert rows.loc["crm_id:1", "email"] == "a@x.com" and rows.persona.isna().all()


def test_upsert_updates_merges_and_widens(ws):
    ws.ingest_customers(
        pd.DataFrame({"customer_id": ["c1", "c2"], "tier": ["gold", "silver"], "score": [1, 2]}),
        refresh=False,
    )
    update = pd.DataFrame(
        {
            "customer_id": ["c1", "c3", "c2"],
            "tier": [None, "bronze", "silver"],  # an empty value never erases
            "score": ["1.5", "3", "2"],  # now fractional: BIGINT widens to DOUBLE
            "city": ["Leeds", None, "York"],  # a new column
        }
    )
    report = ws.ingest_customers(update, refresh=False)
    # c1 changed, c3 is new, c2 gains a city: all three change the table
    assert (report.loaded, report.updated, report.duplicates) == (3, 2, 0)
    assert report.new_columns == ["city"]
    assert column_types(ws)["score"] == "DOUBLE"
    rows = ws.to_pandas("customers").set_index("customer_id").sort_index()
    expected = pd.DataFrame(
        {
            "tier": ["gold", "silver", "bronze"],
            "score": [1.5, 2.0, 3.0],
            "city": ["Leeds", "York", None],
        },
        index=pd.Index(["c1", "c2", "c3"], name="customer_id"),
    )
    pd.testing.assert_frame_equal(rows[["tier", "score", "city"]], expected)
    again = ws.ingest_customers(update, refresh=False)
    assert (again.loaded, again.duplicates) == (0, 3)
    assert len(ws.to_pandas("customers")) == 3


def test_mixed_types_become_text_and_last_row_wins(ws):
    ws.ingest_customers(pd.DataFrame({"email": ["a@x.com"], "flag": [True]}), refresh=False)
    report = ws.ingest_customers(
        pd.DataFrame({"email": ["a@x.com", "a@x.com"], "flag": ["7", "maybe"]}), refresh=False
    )
    assert column_types(ws)["flag"] == "VARCHAR"
    assert (report.loaded, report.duplicates) == (1, 1)
    rows = ws.to_pandas("customers")
    assert list(rows.customer_id) == ["email:a@x.com"] and list(rows.flag) == ["maybe"]


def test_colliding_and_identifier_columns_are_kept_as_attributes(ws):
    frame = pd.DataFrame({"device_id": ["d1"], "persona": ["manual"], "source": ["crm"]})
    report = ws.ingest_customers(frame, source="import", refresh=False)
    assert report.new_columns == ["device_id", "persona_given", "source_given"]
    row = ws.to_pandas("customers").iloc[0]
    assert (row.customer_id, row.device_id, row.persona_given) == ("device_id:d1", "d1", "manual")
    assert row.source == "import" and pd.isna(row.persona)


def test_known_identifiers_resolve_to_the_stitched_customer(ws):
    """After stitching, a re-ingested record updates the stitched customer, not a new one."""
    from journeymap.workspace import backend

    ws.ingest_customers(pd.DataFrame({"email": ["a@x.com"], "tier": ["gold"]}), refresh=False)
    with ws.transaction():  # what stitching does: rename the customer, record identities
        backend.execute(ws.con, "UPDATE customers SET customer_id = 'c_1'")
        backend.execute(ws.con, "INSERT INTO identities VALUES ('email', 'a@x.com', 'c_1')")
    report = ws.ingest_customers(
        pd.DataFrame({"email": ["a@x.com"], "tier": ["platinum"]}), refresh=False
    )
    assert (report.loaded, report.updated) == (1, 1)
    rows = ws.to_pandas("customers")
    assert list(rows.customer_id) == ["c_1"] and list(rows.tier) == ["platinum"]
