"""Adding the grouping columns voice reports by: stage (from the spec) and persona.

Feedback carries only its touchpoint; the stage comes from the spec's touchpoint -> stage
map and the persona from ``customers``. Rows whose touchpoint is NULL (unattached) keep a
NULL stage, so they show up as their own group rather than vanish.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from journeymap.spec.matching import stage_expr
from journeymap.voice.spec_view import stage_of, stage_order, touchpoint_ids

GROUPINGS = ("touchpoint", "stage", "persona")


def check_by(by: str | None, allowed: tuple[str, ...] = GROUPINGS) -> None:
    """Raise a clear ValueError when ``by`` is not one of ``allowed`` (or None)."""
    if by is not None and by not in allowed:
        raise ValueError(f"by={by!r}: expected one of {', '.join(allowed)} or None")


def with_stage(table: ir.Table, spec: Any | None) -> ir.Table:
    """``table`` plus ``stage``: the stage of its ``touchpoint`` in the spec (else NULL)."""
    if not stage_of(spec):  # also covers a missing spec
        return table.mutate(stage=ibis.null("string"))
    return table.mutate(stage=stage_expr(spec, table.touchpoint))


def with_persona(table: ir.Table, customers: ir.Table | None) -> ir.Table:
    """``table`` plus ``persona`` of its customer (NULL without a customers table)."""
    if customers is None or "persona" not in customers.columns:
        return table.mutate(persona=ibis.null("string"))
    people = customers.select(_c_id=customers.customer_id, _c_persona=customers.persona)
    people = people.distinct(on="_c_id", keep="first")
    joined = table.left_join(people, table.customer_id == people._c_id)
    return joined.mutate(persona=joined._c_persona).drop("_c_id", "_c_persona")


def touchpoints_by_stage(spec: Any | None) -> list[str]:
    """Touchpoint ids ordered by their stage's journey position, then file order."""
    stages = {s: i for i, s in enumerate(stage_order(spec))}
    tp_stage = stage_of(spec)
    ids = touchpoint_ids(spec)
    return sorted(ids, key=lambda t: (stages.get(tp_stage[t], len(stages)), ids.index(t)))


def order_rows(df: pd.DataFrame, by: str | None, spec: Any | None) -> pd.DataFrame:
    """Sort result rows the way a journey map reads: stages and touchpoints in spec order,
    others alphabetically, NULL (unattached / no persona) last."""
    if by is None or df.empty:
        return df.reset_index(drop=True)
    order = {"stage": stage_order(spec), "touchpoint": touchpoints_by_stage(spec)}.get(by, [])
    rank = {name: i for i, name in enumerate(order)}
    key = df[by].map(
        lambda v: (2, "") if v is None or v != v else (0, f"{rank[v]:09d}") if v in rank else (1, v)
    )
    extra = [c for c in ("persona",) if c in df.columns and c != by]
    return (
        df.assign(_key=key)
        .sort_values(["_key", *extra], kind="stable", na_position="last")
        .drop(columns="_key")
        .reset_index(drop=True)
    )
