"""The demo builds its workspace through the public API (needs the workspace area)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from journeymap.demo import generate


def test_generate_ingests_every_file_into_the_workspace(tmp_path: Path) -> None:
    result = generate(tmp_path, customers=300, seed=9, progress=False)
    ws = result.workspace
    try:
        events = ws.to_pandas("events")
        quarantined = ws.to_pandas("quarantine")
        # Nothing read is dropped: every written event is loaded or quarantined.
        assert len(events) + (quarantined.table_name == "events").sum() == result.events
        assert set(events.source) == {s for s, n in result.events_by_system.items() if n}
        assert len(ws.to_pandas("feedback")) == result.feedback
        assert len(ws.to_pandas("customers")) >= result.customers_with_record
        written = pd.read_parquet(tmp_path / "truth" / "event_customers.parquet")
        assert set(events.event_id) <= set(written.event_id)
        mapped = events.merge(written, on="event_id")
        agree = (mapped.touchpoint.fillna("-") == mapped.true_touchpoint.fillna("-")).mean()
        assert agree == 1.0
    finally:
        ws.close()


def test_stitching_the_demo_never_merges_two_people(tmp_path: Path) -> None:
    """The planted hubs are flagged, so no stitched customer holds two true customers."""
    result = generate(tmp_path, customers=1500, seed=5, progress=False)
    ws = result.workspace
    try:
        events = ws.to_pandas("events")[["event_id", "customer_id"]]
        truth = pd.read_parquet(tmp_path / "truth" / "event_customers.parquet")
        joined = events.merge(truth, on="event_id", validate="one_to_one")
        people_per_customer = joined.groupby("customer_id").true_customer_id.nunique()
        hubs = ws.to_pandas("identity_hubs")
        planted = {h["identifier_type"] for h in result.ground_truth["hubs"]}
        assert planted <= set(hubs.identifier_type)
        # A row whose only identifier is a flagged hub cannot be given to a person: it
        # keeps the hub value as its key. Every other customer is one person.
        hub_keys = {
            f"{t}:{v}" for t, v in zip(hubs.identifier_type, hubs.identifier_value, strict=True)
        }
        mixed = people_per_customer[people_per_customer > 1]
        assert set(mixed.index) <= hub_keys, mixed
    finally:
        ws.close()
