"""Min-label propagation on its own: long chains converge fast, the limit is enforced."""

from __future__ import annotations

import random

import ibis
import networkx as nx
import pandas as pd
import pytest

from journeymap.sources.identity import StitchConvergenceError, component_labels

from .tables import connect


def _graph(con, edges: list[tuple[int, int]], nodes: list[int]):
    both = edges + [(b, a) for a, b in edges]
    e = pd.DataFrame(both, columns=["src", "dst"], dtype="int64")
    con.create_table("e", ibis.memtable(e, schema={"src": "int64", "dst": "int64"}))
    n = pd.DataFrame({"node": nodes}, dtype="int64")
    con.create_table("n", ibis.memtable(n, schema={"node": "int64"}))
    return con.table("n"), con.table("e")


def test_shuffled_chain_converges_in_few_iterations(tmp_path):
    con = connect(tmp_path)
    order = list(range(500))
    random.Random(3).shuffle(order)  # labels must travel both ways along the chain
    edges = list(zip(order, order[1:], strict=False))
    nodes, e = _graph(con, edges, list(range(500)) + [1000])
    labels, iterations = component_labels(con, nodes, e, scratch="_t")
    got = dict(zip(*labels.to_pandas()[["node", "label"]].T.values, strict=True))
    assert got == {**dict.fromkeys(range(500), 0), 1000: 1000}
    # Plain propagation needs ~ the chain's length (500); pointer jumping, far fewer.
    assert iterations <= 20


def test_random_graph_matches_networkx(tmp_path):
    con = connect(tmp_path)
    rng = random.Random(11)
    edges = [(rng.randrange(300), rng.randrange(300)) for _ in range(250)]
    nodes, e = _graph(con, edges, list(range(300)))
    labels, _ = component_labels(con, nodes, e, scratch="_t")
    got = dict(zip(*labels.to_pandas()[["node", "label"]].T.values, strict=True))
    graph = nx.Graph(edges)
    graph.add_nodes_from(range(300))
    want = {n: min(c) for c in nx.connected_components(graph) for n in c}
    assert got == want


def test_iteration_limit(tmp_path):
    con = connect(tmp_path)
    nodes, e = _graph(con, [(i, i + 1) for i in range(100)], list(range(101)))
    with pytest.raises(StitchConvergenceError, match="did not converge in 2 iterations"):
        component_labels(con, nodes, e, scratch="_t", max_iterations=2)
