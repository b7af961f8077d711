"""Persona discovery on the demo: clusters, their descriptions, agreement with the truth.

The adjusted Rand index against the planted personas (truth/event_customers.parquet) is
measured on the customers whose persona is known (stitched to a CRM record; the others
are unstitched fragments with no persona to compare with). benchmarks/insights.py measures
0.64-0.66 over seeds 7, 11, 23 at 3000 and 10000 customers (docs/performance.md); the
test holds the issue's bar of 0.6.
"""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from journeymap.insights.api import discover_personas

from .conftest import SEEDS


def true_personas(ws, customer_ids: pd.Series) -> pd.Series:
    """Each workspace customer's planted persona: the majority over its events."""
    truth = pd.read_parquet(ws.path / "truth" / "event_customers.parquet")
    ev = ws.con.table("events").select("event_id", "customer_id").to_pandas()
    joined = ev.merge(truth[["event_id", "persona"]], on="event_id")
    major = joined.groupby("customer_id")["persona"].agg(lambda s: s.value_counts().index[0])
    return customer_ids.map(major)


@pytest.fixture(scope="module")
def found(demos):
    return {seed: discover_personas(ws.analysis()) for seed, ws in demos.items()}


@pytest.mark.parametrize("seed", SEEDS)
def test_clusters_recover_the_planted_personas(demos, found, seed):
    d = found[seed]
    assert d.k == 4  # the number of authored personas
    truth = true_personas(demos[seed], d.assignments["customer_id"])
    assert truth.notna().mean() > 0.99
    known = d.assignments["persona"].notna()  # stitched to a CRM record
    assert known.mean() > 0.4
    ari = adjusted_rand_score(truth[known], d.assignments["cluster"][known])
    print(f"seed {seed}: ARI vs planted personas {ari:.3f}; vs assigned {d.adjusted_rand_index}")
    assert ari >= 0.6
    assert d.adjusted_rand_index >= 0.6
    # the app-first cluster is mostly the app-first persona
    app = d.clusters.loc[d.clusters["description"].str.contains("more events on app")]
    assert "mobile_native" in set(app["closest_persona"])


def test_descriptions_are_true_of_the_raw_events(demo, found):
    d = found[7]
    ev = demo.to_pandas("events")
    ev = ev.loc[ev["touchpoint"].notna()]
    channel_share = pd.crosstab(ev["customer_id"], ev["channel"], normalize="index")
    per = d.assignments.set_index("customer_id").join(channel_share)
    checked = 0
    for c in d.clusters.to_dict("records"):
        for feature in c["distinguishing"].split(", "):
            if not feature.startswith("channel:"):
                continue
            ch = feature.split(":", 1)[1]
            inside = per.loc[per["cluster"] == c["cluster"], ch].mean()
            word = "more" if inside > per[ch].mean() else "less"
            assert f"{word} events on {ch} ({100 * inside:.0f}%" in c["description"]
            checked += 1
    assert checked >= 3


def test_crosstab_and_assignments_are_consistent(found):
    d = found[7]
    assert d.crosstab.to_numpy().sum() == len(d.assignments)
    sizes = d.assignments["cluster"].value_counts().sort_index()
    assert list(sizes) == list(d.clusters.sort_values("cluster")["customers"])
    assert d.clusters["share"].sum() == pytest.approx(1.0)


def test_k_auto_uses_the_silhouette(demo):
    d = discover_personas(demo.analysis(), k="auto", k_range=range(2, 5))
    assert set(d.silhouette) == {2, 3, 4}
    assert d.k == max(d.silhouette, key=d.silhouette.get)
    with pytest.raises(ValueError, match="k: expected a whole number"):
        discover_personas(demo.analysis(), k=1)
