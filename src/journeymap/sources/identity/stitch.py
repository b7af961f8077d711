"""Refresh step 1: stitch identifiers into customers and rewrite ``customer_id``.

The graph. Every distinct normalised identifier value is a node (see
:mod:`.normalize`). Identifiers seen together on one row of ``events``, ``feedback`` or
``customers`` are linked: each row links its *anchor* (its strongest usable identifier)
to every other usable identifier on it, which connects the row exactly as linking every
pair would, with fewer edges. Connected components, found by min-label propagation
(:mod:`.propagate`), become customers.

Customer ids. A component's customer_id is ``"c_"`` + md5 of its smallest node, i.e. of
its strongest identifier by the order of :data:`.ID_TYPES` (crm_id > customer_id as
given > email > phone > device_id > anonymous_id > order_id), then the smallest value.
So a component that did not change keeps its id after new data arrives, and a component
that grows keeps it unless the new data brings a stronger (or, of the same type, a
smaller) identifier; when two components merge, the id of the one holding the strongest
identifier survives. Rows without any usable identifier keep their customer_id.

Hubs. A value that would merge more than ``hub_cap`` customers (a shared office phone,
a borrowed tablet, a placeholder e-mail) is flagged, written to ``identity_hubs``
(identifier_type, identifier_value, degree), not used for merging and given no row in
``identities``; how the degree is counted: :mod:`.hubs`.

The given customer id. Before the first stitch ``customer_id`` is the input's customer id
(or one derived from an identifier, ``"email:a@b.c"``). Stitching keeps the input id in a
new column ``customer_id_given`` ('' when the input had none) and uses it as an identifier
of type ``customer_id``; derived ids are not identifiers (their column already is).

Scale. The graph depends on the rows only through their identifier tuples, so the rows
are first reduced to distinct key tuples with a row count (10M events: 4.9M tuples); every
node key is then numbered in key order (int64) and the tuples carry numbers, so degrees,
hub detection and label propagation join integers, not long strings. Only the final
rewrite joins keys again (row anchor -> customer_id).

Writing. ``identities``, ``identity_hubs`` and the rewritten ``events``, ``feedback`` and
``customers`` are written in one transaction; scratch tables ``_jm_identity_*`` are
dropped afterwards whatever happens.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

import ibis
import ibis.expr.types as ir
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from journeymap.sources.identity.hubs import find_hubs
from journeymap.sources.identity.normalize import (
    ID_TYPES,
    KEY_COLUMNS,
    customer_id_of,
    given_to_store,
    key_type,
    key_value,
    phone_map,
    raw_phones,
    with_keys,
)
from journeymap.sources.identity.propagate import component_labels, scratch_tables
from journeymap.sources.identity.report import Component, Hub, StitchReport
from journeymap.sources.identity.settings import identity_settings
from journeymap.workspace.backend import atomic, drop_table, duckdb_settings, write_table

STITCHED_TABLES: tuple[str, ...] = ("events", "feedback", "customers")
SCRATCH = "_jm_identity"
#: How many of the largest components and of the hubs the report lists.
REPORT_TOP = 10


def stitch(
    ws: Any,
    *,
    hub_cap: int | None = None,
    default_region: str | None = None,
    progress: bool = True,
) -> StitchReport:
    """Refresh step 1 on a workspace; arguments override ``[identity]`` settings."""
    return stitch_in(
        ws.con,
        ws.settings,
        hub_cap=hub_cap,
        default_region=default_region,
        transaction=ws.transaction,
        progress=progress,
    )


def stitch_in(
    con: ibis.BaseBackend,
    settings: Mapping[str, Any] | None = None,
    *,
    hub_cap: int | None = None,
    default_region: str | None = None,
    transaction: Callable[[], AbstractContextManager[Any]] | None = None,
    progress: bool = False,
    max_iterations: int = 200,
) -> StitchReport:
    """:func:`stitch` on a bare Ibis connection holding the canonical tables.

    ``transaction`` opens the all-or-nothing write (``ws.transaction``); without it
    :func:`journeymap.workspace.backend.atomic` is used (DuckDB: one transaction; Spark,
    where every table written is a session temp view: none).
    """
    cfg = identity_settings(settings, hub_cap=hub_cap, default_region=default_region)
    report = StitchReport(hub_cap=cfg.hub_cap, default_phone_region=cfg.default_phone_region)
    present = set(con.list_tables())
    tables = [t for t in STITCHED_TABLES if t in present]
    if not tables:
        return report
    _drop_scratch(con)
    with _progress(progress) as step:
        try:
            report.customers_before = _distinct_customers(con, tables)
            step("normalising phone numbers")
            phones = _phone_table(con, tables, cfg.default_phone_region, report)
            # The scratch tables' row order never matters, and keeping it is what ran
            # DuckDB out of memory at its cap while writing them from 100M events.
            with duckdb_settings(con, preserve_insertion_order=False):
                step("collecting identifiers")
                tuples = _materialise(con, "tuples", _key_tuples(con, tables, phones))
                step("numbering identifiers")
                keys = _materialise(con, "keys", _numbered_keys(tuples))
                rows = _materialise(con, "rows", _numbered_rows(tuples, keys))
                _drop_scratch(con, "tuples")  # scratch spills to disk: free it early
                step("counting identifier degrees")
                stats = _materialise(con, "stats", _node_stats(rows))
                step("looking for hubs")

                def components_without(excluded: ir.Table, prefix: str) -> ir.Table:
                    kept = _usable(rows, excluded, cfg.hub_cap)
                    nodes = stats.filter(~stats.node.isin(excluded.node))
                    labels = _components(con, nodes, kept, step, max_iterations, prefix)[0]
                    ranks = keys.select(_nid=keys.nid, rank=keys.rank)
                    typed = labels.join(ranks, labels.node == ranks._nid)
                    return typed.select(node=typed.node, customer_id=typed.label, rank=typed.rank)

                hubs = find_hubs(
                    con,
                    rows,
                    stats,
                    cfg.hub_cap,
                    materialise=lambda name, expr: _materialise(con, name, expr),
                    components_without=components_without,
                )
                for name in ("long", "pairs", "candidates", "pre"):
                    _drop_scratch(con, name)
                usable = _materialise(con, "usable", _usable(rows, hubs, cfg.hub_cap))
                _row_counts(usable, report)
                nodes = stats.filter(~stats.node.isin(hubs.node))
                labels, report.iterations = _components(
                    con, nodes, usable, step, max_iterations, ""
                )
                ids = _materialise(con, "ids", _component_ids(keys, labels))
                hub_keys = _materialise(con, "hub_keys", _hub_keys(hubs, keys))
                _summarise(stats, keys, hubs, ids, report)
                for name in scratch_tables(con, SCRATCH):  # the rewrite needs only these
                    if name not in {_scratch(n) for n in ("phones", "ids", "hub_keys")}:
                        drop_table(con, name)
            step("writing identities and customer ids")
            with transaction() if transaction is not None else atomic(con):
                write_table(con, "identities", _identities(ids))
                write_table(con, "identity_hubs", _hub_rows(hub_keys))
                for t in tables:
                    rewritten = _rewrite(con.table(t), phones, hub_keys, ids, cfg.hub_cap)
                    write_table(con, t, rewritten)
            report.customers_after = _distinct_customers(con, tables)
        finally:
            _drop_scratch(con)
    return report


def _key_tuples(con: ibis.BaseBackend, tables: list[str], phones: ir.Table) -> ir.Table:
    """Distinct node-key tuples of every table, with how many rows carry each (``_n``).

    The graph depends on the rows only through their key tuples, and many rows share one
    (every event of a cookie before login): at 10M events, 4.9M tuples. Everything after
    this runs on the tuples, not the rows.
    """
    parts = []
    for t in tables:
        keyed = with_keys(con.table(t), phones)
        counted = keyed.group_by(*KEY_COLUMNS).aggregate(_n=keyed.count())
        parts.append(counted.mutate(_table=ibis.literal(t)))
    return _union(parts)


def _numbered_keys(tuples: ir.Table) -> ir.Table:
    """Every distinct node key with an int64 number in key order and its type's rank.

    Numbers in key order keep "the smallest node of a component is its strongest
    identifier" true for the numbers, so propagation, degrees and hubs run on integers
    (8 bytes a node instead of a 20-60 byte string: what lets 100M events stitch inside
    DuckDB's memory cap). Key columns never share a value (the key starts with its
    type), so the per-column distinct sets need no distinct over their union.
    """
    parts = [
        tuples.select(node=tuples[c])
        .filter(tuples[c].notnull())
        .distinct()
        .mutate(rank=ibis.literal(rank, type="int8"))
        for rank, c in enumerate(KEY_COLUMNS)
    ]
    keys = _union(parts)
    return keys.mutate(nid=ibis.row_number().over(order_by=keys.node).cast("int64"))


def _numbered_rows(tuples: ir.Table, keys: ir.Table) -> ir.Table:
    """``tuples`` with each key column replaced by its node number, and a ``_row`` id."""
    joined = tuples
    for rank, c in enumerate(KEY_COLUMNS):
        typed = keys.filter(keys.rank == rank)
        typed = typed.select(**{f"_key{rank}": typed.node, f"_nid{rank}": typed.nid})
        joined = joined.left_join(typed, joined[c] == typed[f"_key{rank}"])
    numbered = joined.select(
        _table=joined._table,
        _n=joined._n,
        **{c: joined[f"_nid{rank}"] for rank, c in enumerate(KEY_COLUMNS)},
    )
    return numbered.mutate(_row=ibis.row_number())


def _components(
    con: ibis.BaseBackend,
    nodes: ir.Table,
    usable: ir.Table,
    step: Callable[[str], None],
    max_iterations: int,
    prefix: str,
) -> tuple[ir.Table, int]:
    """(node, label) for every node number of ``nodes``, and the iterations it took.

    The label is the smallest node number of the node's component.
    """
    edges = _materialise(con, f"{prefix}edges", _edges(usable))

    def on_iteration(i: int, changed: int) -> None:
        step(f"label propagation: iteration {i}, {changed} labels changed")

    return component_labels(
        con,
        nodes.select(node=nodes.node),
        edges,
        scratch=f"{SCRATCH}_{prefix}lp",
        max_iterations=max_iterations,
        on_iteration=on_iteration,
    )


def _scratch(name: str) -> str:
    return f"{SCRATCH}_{name}"


def _materialise(con: ibis.BaseBackend, name: str, expr: ir.Table) -> ir.Table:
    return write_table(con, _scratch(name), expr, temp=True)


def _drop_scratch(con: ibis.BaseBackend, prefix: str = "") -> None:
    """Drop the scratch tables (those whose name continues with ``prefix``)."""
    for name in scratch_tables(con, _scratch(prefix) if prefix else SCRATCH):
        drop_table(con, name)


def _union(parts: list[ir.Table]) -> ir.Table:
    return parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)


def _distinct_customers(con: ibis.BaseBackend, tables: list[str]) -> int:
    parts = [
        con.table(t).select(customer_id=con.table(t).customer_id.cast("string"))
        for t in tables
        if "customer_id" in con.table(t).columns
    ]
    if not parts:
        return 0
    ids = _union(parts)
    return int(ids.filter(ids.customer_id.notnull()).customer_id.nunique().execute())


def _phone_table(
    con: ibis.BaseBackend, tables: list[str], region: str, report: StitchReport
) -> ir.Table:
    """Parse the distinct phone values in Python once, store the map for joining back."""
    raws = raw_phones([con.table(t) for t in tables]).to_pyarrow()["_phone_raw"].to_pylist()
    frame = phone_map(raws, region)
    report.phones_unparseable = int((~frame["_phone_parsed"]).sum())
    schema = {"_phone_raw": "string", "_phone_norm": "string", "_phone_parsed": "boolean"}
    return _materialise(con, "phones", ibis.memtable(frame, schema=schema))


def _primary(t: ir.Table) -> ir.StringValue:
    """The row's strongest identifier: its pre-stitch customer (keys sort by strength)."""
    return ibis.coalesce(*[t[c] for c in KEY_COLUMNS])


def _node_stats(rows: ir.Table) -> ir.Table:
    """Per node: distinct pre-stitch customers over its rows, and whether it is one itself."""
    primary = _primary(rows)
    # A node lives in one key column only, so distinct pairs per column are distinct
    # overall: seven small DISTINCTs instead of one over every (row, key).
    pairs = _union(
        [
            rows.select(node=rows[c], primary=primary).filter(rows[c].notnull()).distinct()
            for c in KEY_COLUMNS
        ]
    )
    stats = pairs.group_by("node").aggregate(
        customers=pairs.count(),
        is_primary=(pairs.primary == pairs.node).any(),
    )
    return stats.mutate(degree=stats.customers - stats.is_primary.cast("int64"))


def _usable_keys(t: ir.Table, hubs: ir.Table, cap: int) -> dict[str, ir.Value]:
    """Key columns with hub values blanked out, plus ``_anchor`` (strongest usable key)."""
    keys = {
        c: (ibis.ifelse(t[c].isin(hubs.node), ibis.null(t[c].type()), t[c]) if cap > 0 else t[c])
        for c in KEY_COLUMNS
    }
    return keys


def _usable(rows: ir.Table, hubs: ir.Table, cap: int) -> ir.Table:
    keyed = rows.mutate(**_usable_keys(rows, hubs, cap))
    return keyed.mutate(_anchor=_primary(keyed))


def _row_counts(usable: ir.Table, report: StitchReport) -> None:
    counts = (
        usable.group_by("_table")
        .aggregate(
            n=usable._n.sum(),
            without=ibis.ifelse(usable._anchor.isnull(), usable._n, 0).sum(),
        )
        .order_by("_table")
    )  # the report lists tables in one order on every backend
    for table, n, without in counts.to_pandas().itertuples(index=False, name=None):
        report.rows[table] = int(n)
        report.rows_without_identifier[table] = int(without or 0)


def _edges(usable: ir.Table) -> ir.Table:
    """Both directions of every anchor-identifier link (distinct)."""
    one_way = _union(
        [
            usable.select(src=usable._anchor, dst=usable[c]).filter(
                usable[c].notnull() & (usable[c] != usable._anchor)
            )
            for c in KEY_COLUMNS
        ]
    ).distinct()
    back = one_way.select(src=one_way.dst, dst=one_way.src)
    return ibis.union(one_way, back, distinct=True)


def _component_ids(keys: ir.Table, labels: ir.Table) -> ir.Table:
    """node key -> customer_id, from the key of each node's label (its component's min)."""
    own = keys.select(_node=keys.node, _nid=keys.nid)
    root = keys.select(_root=keys.node, _root_nid=keys.nid)
    named = labels.join(own, labels.node == own._nid).join(root, labels.label == root._root_nid)
    return named.select(node=named._node, customer_id=customer_id_of(named._root))


def _hub_keys(hubs: ir.Table, keys: ir.Table) -> ir.Table:
    """The hubs by node key (``node``, ``degree``) instead of node number."""
    named = keys.select(_key=keys.node, _nid=keys.nid)
    joined = hubs.join(named, hubs.node == named._nid)
    return joined.select(node=joined._key, degree=joined.degree)


def _identities(ids: ir.Table) -> ir.Table:
    return ids.select(
        identifier_type=key_type(ids.node),
        identifier_value=key_value(ids.node),
        customer_id=ids.customer_id,
    ).order_by("customer_id", "identifier_type", "identifier_value")


def _hub_rows(hubs: ir.Table) -> ir.Table:
    return hubs.select(
        identifier_type=key_type(hubs.node),
        identifier_value=key_value(hubs.node),
        degree=hubs.degree.cast("int64"),
    ).order_by(ibis.desc("degree"), "identifier_type", "identifier_value")


def _rewrite(
    table: ir.Table, phones: ir.Table, hubs: ir.Table, ids: ir.Table, cap: int
) -> ir.Table:
    """``table`` with customer_id from its row's component and customer_id_given kept."""
    columns = list(table.columns)
    keyed = with_keys(table, phones)
    keyed = keyed.mutate(**_usable_keys(keyed, hubs, cap)).mutate(_given=given_to_store(table))
    keyed = keyed.mutate(_anchor=_primary(keyed))
    found = ids.select(_id_node=ids.node, _id_customer=ids.customer_id)
    joined = keyed.left_join(found, keyed._anchor == found._id_node)
    old = joined.customer_id.cast("string") if "customer_id" in columns else ibis.null("string")
    out = {c: joined[c] for c in columns}
    out["customer_id"] = ibis.coalesce(joined._id_customer, old)
    out["customer_id_given"] = joined._given
    order = columns + [c for c in ("customer_id", "customer_id_given") if c not in columns]
    return joined.select(**{c: out[c] for c in order})


def _summarise(
    stats: ir.Table, keys: ir.Table, hubs: ir.Table, ids: ir.Table, report: StitchReport
) -> None:
    """Fill identifiers, merges by type, hubs and the largest components.

    ``stats`` and ``hubs`` name nodes by number; ``ids`` by key.
    """
    report.identifiers = int(ids.count().execute())
    bridging = stats.filter((stats.customers >= 2) & ~stats.node.isin(hubs.node))
    ranks = keys.select(_nid=keys.nid, rank=keys.rank)
    typed = bridging.join(ranks, bridging.node == ranks._nid)
    merges = typed.group_by("rank").aggregate(n=typed.count())
    found = {ID_TYPES[int(r.rank)]: int(r.n) for r in merges.to_pandas().itertuples(index=False)}
    report.merges_by_type = {t: found.get(t, 0) for t in ID_TYPES}
    report.hubs_total = int(hubs.count().execute())
    top_hubs = _hub_rows(_hub_keys(hubs, keys)).limit(REPORT_TOP).to_pandas()
    report.hubs = [
        Hub(r.identifier_type, r.identifier_value, int(r.degree))
        for r in top_hubs.itertuples(index=False)
    ]
    sizes = ids.group_by("customer_id").aggregate(size=ids.count())
    top = sizes.filter(sizes.size > 1).order_by(ibis.desc("size"), "customer_id").limit(REPORT_TOP)
    top_frame = top.to_pandas()
    if top_frame.empty:
        return
    members = ids.filter(ids.customer_id.isin(list(top_frame.customer_id)))
    members = members.select("customer_id", "node").order_by("customer_id", "node").to_pandas()
    by_customer = members.groupby("customer_id")["node"].apply(list)
    for row in top_frame.itertuples(index=False):
        nodes = by_customer.get(row.customer_id, [])[:REPORT_TOP]
        report.largest.append(Component(row.customer_id, int(row.size), [n[1:] for n in nodes]))


@contextlib.contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str], None]]:
    """A transient Rich spinner whose text names the current step (no-op when disabled)."""
    if not enabled:
        yield lambda _text: None
        return
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True
    ) as bar:
        task = bar.add_task("stitching identities", total=None)
        yield lambda text: bar.update(task, description=f"stitching: {text}")
