"""Analysis filters: date range, persona, channel, customer attributes, level, sessions.

- ``start`` is inclusive and ``end`` exclusive (``start <= ts < end``); dates and naive
  datetimes are read as UTC.
- ``persona`` and ``channel`` take one value or a list.
- ``where`` holds conditions on columns of the ``customers`` table:
  ``{"segment": "vip"}`` (equals), ``{"country": ["GB", "FR"]}`` (one of), or operators
  ``{"age": {"gte": 18, "lt": 35}}`` with eq ne in not_in gt gte lt lte regex exists,
  the same operators as persona rules in journey.yaml. All conditions must hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import pandas as pd

from journeymap.engine.journeys import LEVELS

OPERATORS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "regex", "exists")


@dataclass(frozen=True)
class Filters:
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    persona: tuple[str, ...] | None = None
    channel: tuple[str, ...] | None = None
    where: dict = field(default_factory=dict)
    level: str = "touchpoint"
    sessions: bool = False

    @classmethod
    def make(
        cls,
        *,
        start=None,
        end=None,
        persona=None,
        channel=None,
        where=None,
        level="touchpoint",
        sessions=False,
    ) -> Filters:
        """Validated filters; raises ValueError naming the bad filter."""
        if level not in LEVELS:
            raise ValueError(f"level: expected one of {', '.join(LEVELS)}, got {level!r}")
        if where is not None and not isinstance(where, dict):
            raise ValueError(
                f"where: expected a mapping of customer column -> condition, got {where!r}"
            )  # noqa: E501
        return cls(
            start=_timestamp("start", start),
            end=_timestamp("end", end),
            persona=_names(persona),
            channel=_names(channel),
            where=dict(where or {}),
            level=level,
            sessions=bool(sessions),
        )

    @property
    def customer_filtered(self) -> bool:
        return bool(self.persona or self.where)


def _timestamp(name: str, value) -> pd.Timestamp | None:
    if value is None or value == "":
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name}: expected a date or datetime, got {value!r} ({exc})") from None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _names(value) -> tuple[str, ...] | None:
    if value is None:
        return None
    return (value,) if isinstance(value, str) else tuple(value)


def condition(column: ibis.Value, spec, name: str) -> ibis.Value:
    """An Ibis boolean for one ``where`` condition, with the journey-map operators.

    Reuses :func:`journeymap.spec.matching.condition_expr` (the persona-rule semantics); a
    plain list is read as ``{"in": [...]}`` for convenience on the command line and API.
    """
    from pydantic import ValidationError

    from journeymap.spec.matching import condition_expr
    from journeymap.spec.models import Condition

    if isinstance(spec, list | tuple | set):
        spec = {"in": list(spec)}
    try:
        parsed = Condition.model_validate(spec)
    except ValidationError as exc:
        problems = "; ".join(e["msg"] for e in exc.errors())
        known = ", ".join(OPERATORS)
        raise ValueError(f"where {name}: {problems} (known operators: {known})") from None
    return condition_expr(parsed, column)


def filter_customers(customers: ibis.Table, filters: Filters) -> ibis.Table:
    """``customers`` restricted by persona and ``where``; errors name unknown columns."""
    t = customers
    if filters.persona:
        t = t.filter(t.persona.isin(list(filters.persona)))
    for name, spec in filters.where.items():
        if name not in t.columns:
            raise ValueError(
                f"where: the customers table has no column {name!r} "
                f"(columns: {', '.join(t.columns)})"
            )
        t = t.filter(condition(t[name], spec, name))
    return t


def filter_time(table: ibis.Table, filters: Filters) -> ibis.Table:
    if filters.start is not None:
        table = table.filter(table.ts >= filters.start.to_pydatetime())
    if filters.end is not None:
        table = table.filter(table.ts < filters.end.to_pydatetime())
    return table
