"""Events -> touchpoints and customers -> personas, as Ibis expressions.

The rules of journey.yaml become one ``CASE`` expression each, so mapping runs inside
the database over millions of rows. Conditions follow :mod:`journeymap.spec.conditions`;
:func:`match_event` and :func:`match_persona` are plain-Python twins of the
expressions, used as the test oracle and for one-off checks in the editor.

The only backend-specific part is reading a property from the JSON text column
(:func:`json_property_text`); everything else is portable Ibis.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import ibis
import ibis.expr.types as ir

from journeymap.spec.conditions import compiled, condition_holds, is_number
from journeymap.spec.models import Condition, EventRegex, JourneySpec, MatchRule


@ibis.udf.scalar.builtin(name="json_extract_string")
def _json_extract_string(doc: str, path: str) -> str:
    """DuckDB's json_extract_string (declared, runs in the database)."""


@ibis.udf.scalar.builtin(name="json_valid")
def _json_valid(doc: str) -> bool:
    """DuckDB's json_valid (declared, runs in the database)."""


@ibis.udf.scalar.builtin(name="get_json_object")
def _get_json_object(doc: str, path: str) -> str:
    """Spark's get_json_object (declared, runs in the database)."""


def json_property_text(properties: ir.StringValue, key: str) -> ir.StringValue:
    """Text of top-level property ``key`` of a JSON object column; NULL when absent.

    Backend-specific, and the one place that is: JSON null gives NULL, strings their
    text, other values their JSON text. Text that is not valid JSON reads as having no
    properties rather than failing the whole query. DuckDB: ``json_extract_string`` behind
    ``json_valid``; Spark (the column's table is on a PySpark connection):
    ``get_json_object``, which already gives NULL for text that is not JSON.
    """
    if _backend_name(properties) == "pyspark":
        if "'" in key:
            raise ValueError(
                f"property {key!r}: Spark's JSON paths cannot name a key holding a quote (')"
            )
        # Spark reads ['...'] up to the closing "']" with no escapes. The path is built
        # by concatenation so sqlglot does not re-render (and mis-quote) it as a literal.
        path = ibis.literal("$['").concat(ibis.literal(key), ibis.literal("']"))
        return _get_json_object(properties, path)
    pointer = "/" + key.replace("~", "~0").replace("/", "~1")
    return ibis.cases(
        (_json_valid(properties), _json_extract_string(properties, pointer)),
        else_=ibis.null("string"),
    )


def _backend_name(value: ir.Value) -> str:
    """Name of the Ibis backend ``value``'s table lives on ("duckdb" when unbound)."""
    try:
        return value._find_backend(use_default=False).name
    except Exception:  # an unbound or in-memory table: DuckDB runs it
        return "duckdb"


def _as_float(text: ir.Value) -> ir.FloatingValue:
    """The value as float64, NULL when it is not a number (NaN counts as not a number)."""
    if text.type().is_numeric():
        number = text.cast("float64")
    else:
        number = text.cast("string").try_cast("float64")
    return ibis.cases((number.isnan(), ibis.null("float64")), else_=number)


def _as_text(value: ir.Value) -> ir.StringValue:
    return value if value.type().is_string() else value.cast("string")


def _equals(value: ir.Value, expected: Any) -> ir.BooleanValue:
    """``eq`` for a present value: never NULL, so ``ne``/``not_in`` can negate it."""
    if is_number(expected):
        same = _as_float(value) == float(expected)
    elif isinstance(expected, bool):
        same = _as_text(value) == ("true" if expected else "false")
    else:
        same = _as_text(value) == str(expected)
    return same.fill_null(False)


def _operator(op: str, expected: Any, value: ir.Value) -> ir.BooleanValue:
    """One operator for a present (non-NULL) value."""
    if op == "eq":
        return _equals(value, expected)
    if op == "ne":
        return ~_equals(value, expected)
    if op in ("in", "not_in"):
        if expected:
            any_equal = ibis.or_(*[_equals(value, item) for item in expected])
        else:
            any_equal = ibis.literal(False)
        return any_equal if op == "in" else ~any_equal
    if op in ("gt", "gte", "lt", "lte"):
        number, bound = _as_float(value), float(expected)
        compare = {
            "gt": number > bound,
            "gte": number >= bound,
            "lt": number < bound,
            "lte": number <= bound,
        }[op]
        return compare.fill_null(False)
    if op == "regex":
        return _as_text(value).re_search(expected)
    raise ValueError(f"unknown operator {op!r}")


def condition_expr(condition: Condition, value: ir.Value) -> ir.BooleanValue:
    """A condition over one column or property value; never NULL.

    A missing value fails every operator except ``exists: false``.
    """
    present = value.notnull()
    parts = []
    for op, expected in condition.operators().items():
        if op == "exists":
            parts.append(present if expected else ~present)
        else:
            parts.append(present & _operator(op, expected, value))
    return ibis.and_(*parts).fill_null(False)


def match_rule_expr(rule: MatchRule, events: ir.Table) -> ir.BooleanValue:
    """Whether an event row satisfies one touchpoint's match rule."""
    parts: list[ir.BooleanValue] = []
    if isinstance(rule.event, EventRegex):
        parts.append(events.event.re_search(rule.event.regex))
    elif rule.event is not None:
        names = rule.event_names()
        parts.append(events.event == names[0] if len(names) == 1 else events.event.isin(names))
    channels = rule.channels()
    if channels:
        parts.append(
            events.channel == channels[0] if len(channels) == 1 else events.channel.isin(channels)
        )
    for key, condition in (rule.where or {}).items():
        parts.append(condition_expr(condition, json_property_text(events.properties, key)))
    return ibis.and_(*parts).fill_null(False)


def touchpoint_expr(spec: JourneySpec, events: ir.Table) -> ir.StringValue:
    """Id of the first touchpoint (file order) whose match rule holds, else NULL.

    ``events`` needs columns event, channel and properties (JSON object text).
    """
    branches = [
        (match_rule_expr(tp.match, events), ibis.literal(tp.id, "string"))
        for tp in spec.touchpoints
        if tp.match is not None
    ]
    if not branches:
        return ibis.null("string")
    return ibis.cases(*branches, else_=ibis.null("string"))


def stage_expr(spec: JourneySpec, touchpoint_col: ir.StringValue) -> ir.StringValue:
    """Stage id of a touchpoint id column (NULL for NULL or unknown touchpoints)."""
    mapping = {tp.id: tp.stage for tp in spec.touchpoints}
    if not mapping:
        return ibis.null("string")
    return touchpoint_col.substitute(mapping, else_=ibis.null("string")).cast("string")


def persona_expr(spec: JourneySpec, customers: ir.Table) -> ir.StringValue:
    """Id of the first persona whose rule holds over customer columns, else NULL.

    A rule naming a column the table lacks holds for no row (see
    :func:`unknown_rule_attributes`); a persona without a rule is never assigned.
    """
    columns = set(customers.columns)
    branches = []
    for persona in spec.personas:
        if not persona.rule:
            continue
        if any(name not in columns for name in persona.rule):
            continue
        holds = ibis.and_(
            *[condition_expr(cond, customers[name]) for name, cond in persona.rule.items()]
        )
        branches.append((holds, ibis.literal(persona.id, "string")))
    if not branches:
        return ibis.null("string")
    return ibis.cases(*branches, else_=ibis.null("string"))


def unknown_rule_attributes(spec: JourneySpec, columns: Iterable[str]) -> dict[str, list[str]]:
    """Persona id -> rule attributes that are not customer columns (these never match)."""
    known = set(columns)
    found: dict[str, list[str]] = {}
    for persona in spec.personas:
        missing = [name for name in (persona.rule or {}) if name not in known]
        if missing:
            found[persona.id] = missing
    return found


def _rule_holds(rule: MatchRule, event: str | None, channel: str | None, props: Mapping) -> bool:
    if rule.event is not None:
        if event is None:
            return False
        if isinstance(rule.event, EventRegex):
            if compiled(rule.event.regex).search(event) is None:
                return False
        elif event not in rule.event_names():
            return False
    channels = rule.channels()
    if channels and channel not in channels:
        return False
    for key, condition in (rule.where or {}).items():
        if not condition_holds(condition.operators(), props.get(key)):
            return False
    return True


def match_event(
    spec: JourneySpec,
    event: str | None,
    channel: str | None,
    properties: Mapping[str, Any] | str | None,
) -> str | None:
    """Plain-Python twin of :func:`touchpoint_expr` for one event."""
    if isinstance(properties, str):
        try:
            properties = json.loads(properties)
        except ValueError:
            properties = None
    props = properties if isinstance(properties, Mapping) else {}
    for tp in spec.touchpoints:
        if tp.match is not None and _rule_holds(tp.match, event, channel, props):
            return tp.id
    return None


def match_persona(spec: JourneySpec, attributes: Mapping[str, Any]) -> str | None:
    """Plain-Python twin of :func:`persona_expr`; absent keys are absent columns."""
    for persona in spec.personas:
        if persona.rule and all(
            condition_holds(cond.operators(), attributes.get(name), present=name in attributes)
            for name, cond in persona.rule.items()
        ):
            return persona.id
    return None
