"""Re-loading a CRM file after stitching updates the stitched customers, never duplicates.

After a stitch ``customers.customer_id`` is the component id (``c_…``); the input's own id
lives in ``customer_id_given`` and ``identities`` holds normalised values (emails trimmed
and lower-cased, phones E.164). A second load of the same people, spelled differently,
must find them through those values.
"""

from __future__ import annotations

import pandas as pd

from journeymap.sources.identity import stitch

FIRST = pd.DataFrame(
    {
        "customer_id": [None, None, "CRM-7"],
        "email": ["Ann@Example.com", None, "cat@example.com"],
        "phone": [None, "07700 900123", None],
        "name": ["Ann", "Bob", "Cat"],
        "tier": ["silver", "silver", "silver"],
    }
)
#: The same three people, spelled the way another export spells them, with a new tier.
AGAIN = pd.DataFrame(
    {
        "customer_id": [None, None, "CRM-7"],
        "email": ["  ann@example.COM ", None, "CAT@Example.com"],
        "phone": [None, "+44 7700 900123", None],
        "name": ["Ann", "Bob", "Cat"],
        "tier": ["gold", "bronze", "platinum"],
    }
)


def test_reloading_customers_after_stitch_updates_not_duplicates(ws):
    ws.ingest_customers(FIRST, refresh=False)
    stitch(ws, progress=False)
    stitched = ws.to_pandas("customers").set_index("name")["customer_id"].to_dict()
    assert len(set(stitched.values())) == 3  # three people, three stitched ids

    report = ws.ingest_customers(AGAIN, refresh=False)

    rows = ws.to_pandas("customers")
    assert len(rows) == 3, rows[["customer_id", "name", "email", "phone"]]
    assert sorted(rows["name"]) == ["Ann", "Bob", "Cat"]
    by_name = rows.set_index("name")
    # the stitched ids stay, and the new tier reached each of them
    assert by_name["customer_id"].to_dict() == stitched
    assert by_name["tier"].to_dict() == dict(zip(AGAIN["name"], AGAIN["tier"], strict=True))
    assert (report.loaded, report.updated, report.duplicates) == (3, 3, 0)


def test_reloading_after_stitch_still_adds_new_people(ws):
    ws.ingest_customers(FIRST, refresh=False)
    stitch(ws, progress=False)
    newcomer = pd.DataFrame({"email": ["Dan@example.com"], "name": ["Dan"], "tier": ["gold"]})
    report = ws.ingest_customers(pd.concat([AGAIN, newcomer]), refresh=False)
    rows = ws.to_pandas("customers")
    assert sorted(rows["name"]) == ["Ann", "Bob", "Cat", "Dan"]
    assert (report.loaded, report.updated) == (4, 3)
