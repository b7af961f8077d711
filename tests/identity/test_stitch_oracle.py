"""Stitching against networkx connected components on random identifier graphs."""

from __future__ import annotations

import hashlib
import tempfile

import networkx as nx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeymap.sources.identity import ID_TYPES, stitch_in

from .tables import connect, pre_stitch_id, write

EVENT_IDS = ["anonymous_id", "device_id", "email", "crm_id", "order_id"]


def _value(id_type: str) -> st.SearchStrategy[str | None]:
    # Small pools so values repeat across rows and components form; None = absent.
    return st.one_of(st.none(), st.sampled_from([f"{id_type[:2]}{i}" for i in range(6)]))


ROW = st.fixed_dictionaries({t: _value(t) for t in EVENT_IDS})
GIVEN = st.one_of(st.none(), st.sampled_from(["U1", "U2", "U3"]))


def _oracle(rows: list[dict]) -> tuple[nx.Graph, dict[tuple[str, str], str]]:
    """networkx components over (type, value) nodes; the id each component should get."""
    graph = nx.Graph()
    for row in rows:
        nodes = [(t, row[t]) for t in ID_TYPES if row.get(t) is not None]
        graph.add_nodes_from(nodes)
        graph.add_edges_from(zip(nodes, nodes[1:], strict=False))
    expected = {}
    for comp in nx.connected_components(graph):
        strongest = min(comp, key=lambda n: (ID_TYPES.index(n[0]), n[1]))
        digest = hashlib.md5(f"{strongest[0]}:{strongest[1]}".encode()).hexdigest()[:16]
        for node in comp:
            expected[node] = f"c_{digest}"
    return graph, expected


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(rows=st.lists(st.tuples(ROW, GIVEN), min_size=1, max_size=30))
def test_partition_and_ids_match_networkx(rows: list[tuple[dict, str | None]]) -> None:
    events = []
    for i, (ids, given_id) in enumerate(rows):
        events.append({"event_id": f"e{i}", "customer_id": given_id or pre_stitch_id(ids), **ids})
    # The oracle sees the input customer id as an identifier of type customer_id.
    oracle_rows = [{**r, "customer_id": g} for r, g in rows]
    graph, expected = _oracle(oracle_rows)

    with tempfile.TemporaryDirectory() as folder:
        con = connect(folder)
        write(con, "events", events)
        report = stitch_in(con, hub_cap=0)
        identities = con.table("identities").to_pandas()
        out = con.table("events").to_pandas().set_index("event_id")
        con.disconnect()

    got = {(r.identifier_type, r.identifier_value): r.customer_id for r in identities.itertuples()}
    assert got == expected
    wants = set()
    for row, (ids, given_id) in zip(events, rows, strict=True):
        first = next(((t, v) for t in ID_TYPES if (v := {**ids, "customer_id": given_id}.get(t))),
                     None)  # fmt: skip
        want = expected[first] if first else row["customer_id"]
        assert out.loc[row["event_id"], "customer_id"] == want
        wants.add(want)
    assert report.customers_after == len(wants - {None})
    assert report.identifiers == graph.number_of_nodes()
