"""Demo workspaces shared by the insights tests: built once per session (about 5 s each)."""

from __future__ import annotations

import pytest

import journeymap
from journeymap.demo import generate

SEEDS = (7, 11)
CUSTOMERS = 3000


@pytest.fixture(scope="session")
def demos(tmp_path_factory) -> dict[int, object]:
    """Seed -> open Workspace of a 3000-customer demo (with its ground_truth.json)."""
    out = {}
    for seed in SEEDS:
        path = tmp_path_factory.mktemp(f"demo{seed}")
        generate(path, customers=CUSTOMERS, seed=seed, progress=False)
        out[seed] = journeymap.open(path)
    return out


@pytest.fixture(scope="session")
def demo(demos):
    return demos[SEEDS[0]]


@pytest.fixture(scope="session")
def pains_by_seed(demos):
    from journeymap.insights.api import pain_points

    return {seed: pain_points(ws.analysis()) for seed, ws in demos.items()}
