"""Fixtures of the demo tests: one small generated demo, read back as plain pandas frames.

The frames are what an independent analyst would compute from the files on disk: no
helper of journeymap.demo is used to read or interpret them.
"""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from journeymap.demo import generate

from .frames import DemoFiles

CUSTOMERS = 4000
#: Override to check the planted truths hold for other seeds too.
SEED = int(os.environ.get("JOURNEYMAP_DEMO_TEST_SEED", "11"))


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoFiles:
    out = tmp_path_factory.mktemp("demo")
    generate(out, customers=CUSTOMERS, seed=SEED, ingest=False, progress=False)
    parts = []
    for f in sorted((out / "data" / "events").glob("*/*.parquet")):
        parts.append(pd.read_parquet(f).assign(system=f.parent.name))
    events = pd.concat(parts, ignore_index=True)
    truth_events = pd.read_parquet(out / "truth" / "event_customers.parquet")
    events = events.merge(
        truth_events.drop(columns="system"), on="event_id", how="left", validate="one_to_one"
    )
    events = events.sort_values(["true_customer_id", "ts", "event", "event_id"], ignore_index=True)
    feedback = pd.read_parquet(out / "data" / "feedback.parquet").merge(
        pd.read_parquet(out / "truth" / "feedback.parquet"),
        on="feedback_id",
        how="left",
        validate="one_to_one",
    )
    return DemoFiles(
        path=out,
        events=events,
        customers=pd.read_parquet(out / "data" / "customers.parquet"),
        feedback=feedback,
        truth_customers=pd.read_parquet(out / "truth" / "customers.parquet"),
        truth=json.loads((out / "ground_truth.json").read_text(encoding="utf-8")),
    )


@pytest.fixture(scope="session")
def visits(demo: DemoFiles) -> pd.DataFrame:
    """Touchpoint events only (noise removed), each with the previous visit of the customer."""
    v = demo.events[demo.events.true_touchpoint.notna()].reset_index(drop=True)
    same = v.true_customer_id.eq(v.true_customer_id.shift())
    v["prev_touchpoint"] = v.true_touchpoint.shift().where(same)
    v["gap_s"] = (v.ts - v.ts.shift()).dt.total_seconds().where(same)
    return v
