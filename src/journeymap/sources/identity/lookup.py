"""Finding the stitched customer of new input rows, before the next stitch runs.

After a stitch, ``customers.customer_id`` is a component id (``c_…``) and ``identities``
holds each identifier *normalised* (see :mod:`.normalize`). A row loaded later carries its
identifiers as spelled in its file, and its pre-stitch id is either the input's own id or
one derived from an identifier (``"email:Ann@X.com"``). Matching that id as text against
``identities`` misses given ids and any other spelling, so rows are matched here the way
the stitch itself would: same normalisers, same node keys, strongest identifier first.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from journeymap.sources.identity.normalize import (
    ID_TYPES,
    KEY_COLUMNS,
    node_key,
    phone_map,
    raw_phones,
    with_keys,
)


def identity_nodes(identities: ir.Table) -> ir.Table:
    """``identities`` as (node, customer_id): the node key of each stored identifier."""
    node = ibis.cases(
        *[
            (identities.identifier_type == t, node_key(t, identities.identifier_value))
            for t in ID_TYPES
        ],
        else_=ibis.null("string"),
    )
    return identities.select(node=node, customer_id=identities.customer_id)


def stitched_customers(rows: ir.Table, identities: ir.Table, region: str) -> ir.Table:
    """(``key``, ``customer_id``) for each row of ``rows`` that an identifier of it, once
    normalised, ties to a stitched customer; the strongest such identifier decides.

    ``rows`` has a unique ``key`` column, ``customer_id`` (given or derived, as ingest
    makes it) and any identifier columns (crm_id, email, phone, device_id, …). Rows with
    no known identifier are absent from the result (they are new customers).
    """
    phones = None
    if "phone" in rows.columns:
        raw = raw_phones([rows]).to_pandas()["_phone_raw"]
        phones = ibis.memtable(phone_map(raw, region)).cast(
            {"_phone_raw": "string", "_phone_norm": "string", "_phone_parsed": "boolean"}
        )
    keyed = with_keys(rows, phones)
    candidates = ibis.union(
        *[keyed.select(key=keyed.key, node=keyed[column]) for column in KEY_COLUMNS]
    )
    candidates = candidates.filter(candidates.node.notnull())
    nodes = identity_nodes(identities)
    found = candidates.join(nodes, "node")
    return found.group_by("key").aggregate(customer_id=found.customer_id.argmin(found.node))
