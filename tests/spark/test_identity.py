"""Identity stitching on Spark gives the DuckDB answer: identities, hubs, rewritten ids.

One random identifier graph (shared e-mails, devices, phones in several spellings, CRM
ids, a hub value shared by many people) is written into DuckDB and Spark; ``stitch_in``
runs on each (label propagation, hub detection and the rewrite are Ibis expressions;
scratch tables are temp views on Spark). Tables are compared row for row.
"""

from __future__ import annotations

import ibis
import numpy as np
import pytest

from spark.both import assert_same, needs_pyspark

needs_pyspark()

from identity.tables import frame, pre_stitch_id  # noqa: E402
from journeymap.sources.identity import stitch_in  # noqa: E402
from journeymap.workspace.backend import write_table  # noqa: E402


def _rows(seed: int = 4, n: int = 400, people: int = 80) -> dict[str, list[dict]]:
    """Rows of ``people`` persons, each with a few anonymous ids, a device, sometimes an
    e-mail (case varies), a phone (three spellings) or a CRM id; every 7th person shares
    a device with the next one (a real merge) and every 9th row is on one shared tablet
    (a hub)."""
    rng = np.random.default_rng(seed)
    phones = ["+44 7700 900{:03d}", "07700 900{:03d}", "(0)7700-900-{:03d}"]
    events, feedback, customers = [], [], []

    def maybe(p: float, value: str) -> str | None:
        return value if rng.random() < p else None

    for i in range(n):
        person = int(rng.integers(0, people))
        device = f"dev{person - person % 7 if person % 7 == 1 else person}"
        ids = {
            "anonymous_id": maybe(0.8, f"anon{person}_{int(rng.integers(0, 3))}"),
            "device_id": "shared-tablet" if i % 9 == 0 else maybe(0.5, device),
            "email": maybe(0.3, f"{'User' if i % 2 else 'user'}{person}@Example.com"),
            "phone": maybe(0.2, phones[i % 3].format(person)) if person % 3 else None,
            "crm_id": maybe(0.2, f"crm{person}") if person % 4 == 0 else None,
        }
        events.append(
            {
                "event_id": f"e{i:04d}",
                "customer_id": pre_stitch_id(ids),
                "ts": "2026-01-01T00:00:00Z",
                "event": "view",
                **ids,
            }
        )
        if i % 5 == 0:
            feedback.append(
                {
                    "feedback_id": f"f{i:04d}",
                    "customer_id": pre_stitch_id(ids),
                    "ts": "2026-01-02T00:00:00Z",
                    "score": float(i % 11),
                    "email": ids["email"],
                    "device_id": ids["device_id"],
                }
            )
    for person in range(0, people, 4):
        customers.append(
            {
                "customer_id": f"crm{person}",
                "crm_id": f"crm{person}",
                "email": f"user{person}@example.com",
            }
        )
    return {"events": events, "feedback": feedback, "customers": customers}


@pytest.fixture(scope="module")
def rows():
    return _rows()


KEYS = {
    "events": "event_id",
    "feedback": "feedback_id",
    "customers": "customer_id_given",
    "identities": ["identifier_type", "identifier_value"],
    "identity_hubs": ["identifier_type", "identifier_value"],
}


def test_stitching_matches(rows, spark_con, tmp_path):
    """One graph with a hub and merges (hub detection runs a propagation of its own)."""
    hub_cap = 3
    results = []
    for con in (ibis.duckdb.connect(str(tmp_path / f"w{hub_cap}.duckdb")), spark_con):
        for name, data in rows.items():
            write_table(con, name, frame(name, data))
        report = stitch_in(con, hub_cap=hub_cap, default_region="GB")
        tables = {
            name: con.table(name).to_pandas().sort_values(key).reset_index(drop=True)
            for name, key in KEYS.items()
        }
        results.append((report, tables))
    (duck_report, duck), (spark_report, spark) = results
    assert duck["identities"]["customer_id"].nunique() > 5
    assert (len(duck["identity_hubs"]) > 0) == (hub_cap > 0)
    for name in KEYS:
        assert_same(duck[name], spark[name], f"{name} (hub_cap={hub_cap})")
    assert str(duck_report) == str(spark_report)
    assert duck_report.iterations == spark_report.iterations
