"""Fixtures of the engine tests: generated logs and a real DuckDB workspace stand-in.

The workspace area may not exist yet, so the canonical tables are written directly into
a DuckDB file under tmp_path and wrapped in a tiny object with the workspace attributes
the engine uses (con, spec, settings).
"""

from __future__ import annotations

import os
from types import SimpleNamespace

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

os.environ.setdefault("RETENTIONEERING_NO_TRACK", "1")

from journeymap.engine.store import build_store  # noqa: E402

#: Event names with unicode, and their designed touchpoint / stage (None = unmapped).
EVENTS = {
    "ad_click": ("social_ad", "awareness"),
    "home": ("home_page", "consideration"),
    "prodüct_view": ("product_page", "consideration"),
    "カート": ("cart", "decision"),
    "checkout ✓": ("checkout", "purchase"),
    "order": ("order_confirmed", "purchase"),
    "survey": ("survey", "post_purchase"),
    "debug_ping": (None, None),
}
STAGES = ["awareness", "consideration", "decision", "purchase", "post_purchase"]
CHANNELS = ["web", "app", "email"]


def spec_stub() -> SimpleNamespace:
    """The parts of a JourneySpec the engine reads."""
    tps = [SimpleNamespace(id=tp, stage=st) for tp, st in EVENTS.values() if tp]
    return SimpleNamespace(
        touchpoints=tps, stage_order=STAGES, goal=SimpleNamespace(touchpoint="order_confirmed")
    )


def generated_log(n_customers: int = 300, seed: int = 1) -> pd.DataFrame:
    """Canonical events with timestamp ties, one-event customers and unicode names."""
    rng = np.random.default_rng(seed)
    names = list(EVENTS)
    rows = []
    base = pd.Timestamp("2024-03-01", tz="UTC")
    for c in range(n_customers):
        n = 1 if c % 7 == 0 else int(rng.integers(2, 14))
        t = base + pd.Timedelta(minutes=int(rng.integers(0, 60 * 24 * 10)))
        for _ in range(n):
            # minute resolution and frequent zero gaps make ties common; big gaps make sessions
            gap = rng.choice([0, 0, 1, 5, 29, 30, 31, 600, 3000])
            t = t + pd.Timedelta(minutes=int(gap))
            ev = names[int(rng.integers(0, len(names)))]
            rows.append((f"cüst_{c:04d}", t, ev, CHANNELS[int(rng.integers(0, 3))]))
    frame = pd.DataFrame(rows, columns=["customer_id", "ts", "event", "channel"])
    frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # input unsorted
    frame["event_id"] = [f"e{i:06d}" for i in rng.permutation(len(frame))]
    frame["touchpoint"] = frame["event"].map(lambda e: EVENTS[e][0])
    frame["stage"] = frame["event"].map(lambda e: EVENTS[e][1])
    frame["session_id"] = None
    frame["source"] = "test"
    frame["revenue"] = 0.0
    frame["properties"] = "{}"
    return frame


def customers_of(events: pd.DataFrame, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = sorted(events["customer_id"].unique())
    return pd.DataFrame(
        {
            "customer_id": ids,
            "persona": rng.choice(["bargain_hunter", "loyal", None], size=len(ids)),
            "segment": rng.choice(["vip", "std"], size=len(ids)),
            "age": rng.integers(18, 70, size=len(ids)),
        }
    )


def make_workspace(
    path,
    events: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    settings: dict | None = None,
    build: bool = True,
) -> SimpleNamespace:
    """A workspace stand-in over a real DuckDB file holding the canonical tables."""
    con = ibis.duckdb.connect(str(path / "warehouse.duckdb"))
    frame = events.copy()
    for col in ("touchpoint", "stage", "session_id", "channel"):
        frame[col] = frame[col].astype("string")
    con.create_table("events", pa.Table.from_pandas(frame, preserve_index=False))
    if customers is not None:
        con.create_table("customers", customers)
    ws = SimpleNamespace(con=con, spec=spec_stub(), settings=settings or {}, data_version=1)
    ws.table = con.table
    if build:
        build_store(ws)
    return ws


@pytest.fixture
def log() -> pd.DataFrame:
    return generated_log()


@pytest.fixture
def ws(tmp_path, log):
    return make_workspace(tmp_path, log, customers_of(log))


def sorted_log(events: pd.DataFrame) -> pd.DataFrame:
    """The tie rule, applied with pandas: the independent ordering every oracle gets."""
    return events.sort_values(["customer_id", "ts", "event", "event_id"], kind="stable")


ECOM = os.path.join(
    os.path.dirname(pd.__file__), "..", "retentioneering", "datasets", "ecom.csv.gz"
)


def ecom_sample(users: int = 400) -> pd.DataFrame:
    """The first ``users`` users of retentioneering's bundled ecom clickstream."""
    raw = pd.read_csv(ECOM)
    keep = sorted(raw["user_id"].unique())[:users]
    return raw[raw["user_id"].isin(keep)].reset_index(drop=True)
