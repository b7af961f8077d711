"""Connected components by iterative min-label propagation, as Ibis expressions.

Runs on any Ibis backend (DuckDB and PySpark are tested): no graph library, no Python loop
over rows; Python only loops over *iterations*, each a few set-based queries.

Each node starts labelled with itself. One iteration:

1. propagate and hook: label'(n) = min(label(n), label(m) for every neighbour m), and
   the node r = label(u) of an edge (u, v) with label(v) < label(u) also takes label(v)
   (the root of u's tree hooks onto the smaller label, as in Shiloach-Vishkin);
2. shortcut (pointer jumping): label''(n) = min(label'(n), label'(label'(n))).

Labels are nodes and never grow, and label(n) is always a node of n's component, so
hooking and the shortcut are safe; together they cut the iterations on long chains far
below the chain's length (a shuffled chain of 5,000 nodes: 12 iterations). At the fixed
point neighbours share a label, so each component carries one label, and since
label(n) <= n for every n that label is the component's smallest node.
"""

from __future__ import annotations

from collections.abc import Callable

import ibis
import ibis.expr.types as ir

from journeymap.workspace.backend import write_table


class StitchConvergenceError(RuntimeError):
    """Label propagation did not reach a fixed point within the iteration limit."""


def component_labels(
    con: ibis.BaseBackend,
    nodes: ir.Table,
    edges: ir.Table,
    *,
    scratch: str,
    max_iterations: int = 200,
    on_iteration: Callable[[int, int], None] | None = None,
) -> tuple[ir.Table, int]:
    """Label every node with the smallest node of its connected component.

    ``nodes`` has a ``node`` column (distinct); ``edges`` has ``src`` and ``dst`` and
    must hold both directions of every edge. Intermediate tables are written as
    ``<scratch>_*`` and the caller drops them (:func:`scratch_tables`). Returns the
    materialised (node, label) table and the number of iterations run (the last one
    changed nothing). ``on_iteration(i, changed)`` reports progress.
    """
    names = (f"{scratch}_labels_a", f"{scratch}_labels_b")
    step_name = f"{scratch}_step"
    start = nodes.select(node=nodes.node, label=nodes.node)
    write_table(con, names[0], start, temp=True)
    for iteration in range(1, max_iterations + 1):
        old_name, new_name = names[(iteration - 1) % 2], names[iteration % 2]
        old = con.table(old_name)
        stepped = write_table(con, step_name, _propagate_and_hook(edges, old), temp=True)
        parent = stepped.select(_p_node=stepped.node, _p_label=stepped.label).view()
        hop = stepped.join(parent, stepped.label == parent._p_node)
        jumped = hop.select(node=hop.node, label=ibis.least(hop.label, hop._p_label))
        new = write_table(con, new_name, jumped, temp=True)
        both = new.join(old, new.node == old.node)
        changed = int(both.filter(both.label != both.label_right).count().execute())
        if on_iteration is not None:
            on_iteration(iteration, changed)
        if changed == 0:
            return new, iteration
    raise StitchConvergenceError(
        f"identity stitching did not converge in {max_iterations} iterations"
    )


def _propagate_and_hook(edges: ir.Table, old: ir.Table) -> ir.Table:
    """One step: each node takes its neighbours' smallest label, each root hooks lower.

    For an edge (u, v) with label(v) < label(u), the node named by label(u) (the root of
    u's tree) takes label(v) too, so a whole tree moves at once after the pointer jump.
    """
    lu = old.select(_u=old.node, _lu=old.label)
    lv = old.select(_v=old.node, _lv=old.label)
    pairs = edges.join(lu, edges.src == lu._u).join(lv, edges.dst == lv._v)
    pairs = pairs.select(src=pairs.src, lu=pairs._lu, lv=pairs._lv)
    best = pairs.group_by(_b_node=pairs.src).aggregate(_nmin=pairs.lv.min())
    lower = pairs.filter(pairs.lv < pairs.lu)
    hook = lower.group_by(_h_node=lower.lu).aggregate(_hmin=lower.lv.min())
    joined = old.left_join(best, old.node == best._b_node).left_join(hook, old.node == hook._h_node)
    label = ibis.least(
        joined.label,
        ibis.coalesce(joined._nmin, joined.label),
        ibis.coalesce(joined._hmin, joined.label),
    )
    return joined.select(node=joined.node, label=label)


def scratch_tables(con: ibis.BaseBackend, scratch: str) -> list[str]:
    """Names of the scratch tables starting with ``scratch`` (to drop when done)."""
    return [t for t in con.list_tables() if t.startswith(scratch)]
