"""Hub detection: identifier values that would merge too many customers into one.

A shared office phone, a borrowed in-store tablet or a placeholder e-mail typed by tills
links many people. Counting raw neighbours is not enough (one person's e-mail is seen with
dozens of short-lived cookies), and counting pre-stitch customers is not either (a
switchboard phone is the strongest identifier on its call-centre rows, next to order ids
that lead to many different people). So, precisely:

1. ``cooc(v)``: distinct other identifier values seen on a row together with ``v``. A
   value with ``cooc(v) <= hub_cap`` cannot link more than ``hub_cap`` customers and is
   never a hub; the others are *candidates*.
2. Connected components of the identifier graph with every candidate removed. A
   component is a *customer* when it holds a person-level identifier (crm_id, the given
   customer id, email or phone); components of only devices, cookies and order ids are
   fragments of one visitor, not separate people.
3. ``degree(v)`` of a candidate: the number of distinct customers (step 2) among the
   non-candidate values seen with it. A candidate with ``degree(v) > hub_cap`` is a hub;
   the rest are used for merging as usual. ``hub_cap = 0`` switches this off.

The extra propagation of step 2 runs only when candidates exist.
"""

from __future__ import annotations

from collections.abc import Callable

import ibis
import ibis.expr.types as ir

from journeymap.sources.identity.normalize import ID_TYPES, KEY_COLUMNS

#: Identifier types that name a person (a component holding one is a customer).
PERSON_TYPES: tuple[str, ...] = ("crm_id", "customer_id", "email", "phone")


def long_keys(rows: ir.Table) -> ir.Table:
    """(row, node) for every identifier on every row (``rows`` has ``_row``)."""
    parts = [
        rows.select(_row=rows._row, node=rows[c]).filter(rows[c].notnull()) for c in KEY_COLUMNS
    ]
    return ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]


def cooccurring(long: ir.Table) -> ir.Table:
    """Distinct (node, other) pairs seen on one row."""
    other = long.select(_o_row=long._row, other=long.node)
    pairs = long.join(other, (long._row == other._o_row) & (long.node != other.other))
    return pairs.select("node", "other").distinct()


def candidates(pairs: ir.Table, cap: int) -> ir.Table:
    """Nodes seen with more than ``cap`` distinct other values (column ``node``)."""
    counts = pairs.group_by("node").aggregate(cooc=pairs.count())
    return counts.filter(counts.cooc > cap).select("node")


def hub_degrees(
    pairs: ir.Table,
    candidate: ir.Table,
    components: ir.Table,
) -> ir.Table:
    """(node, degree) of each candidate: distinct person components among its neighbours.

    ``components`` maps each non-candidate node to a component id (``customer_id``) and
    gives its type's ``rank`` in :data:`ID_TYPES` (nodes are numbers here, not keys).
    """
    person_ranks = [ID_TYPES.index(t) for t in PERSON_TYPES]
    people = components.filter(components["rank"].isin(person_ranks))
    people = people.select(_p_label=people.customer_id).distinct()
    labelled = components.join(people, components.customer_id == people._p_label)
    labelled = labelled.select(_l_node=labelled.node, _l_label=labelled.customer_id)
    near = pairs.filter(pairs.node.isin(candidate.node) & ~pairs.other.isin(candidate.node))
    near = near.join(labelled, near.other == labelled._l_node)
    return near.group_by("node").aggregate(degree=near._l_label.nunique())


def find_hubs(
    con: ibis.BaseBackend,
    rows: ir.Table,
    all_nodes: ir.Table,
    cap: int,
    *,
    materialise: Callable[[str, ir.Table], ir.Table],
    components_without: Callable[[ir.Table, str], ir.Table],
) -> ir.Table:
    """(node, degree) of every hub; empty when ``cap`` is 0 or nothing qualifies.

    ``components_without(excluded, prefix)`` returns node -> customer_id over the graph
    with ``excluded`` nodes left out (the stitcher's own propagation, reused).
    """
    empty = all_nodes.filter(ibis.literal(False)).select(
        node=all_nodes.node, degree=ibis.literal(0, type="int64")
    )
    if cap == 0:
        return materialise("hubs", empty)
    pairs = materialise("pairs", cooccurring(materialise("long", long_keys(rows))))
    candidate = materialise("candidates", candidates(pairs, cap))
    if int(candidate.count().execute()) == 0:
        return materialise("hubs", empty)
    components = components_without(candidate, "pre")
    degrees = hub_degrees(pairs, candidate, components)
    hubs = degrees.filter(degrees.degree > cap)
    return materialise("hubs", hubs.select(node=hubs.node, degree=hubs.degree.cast("int64")))
