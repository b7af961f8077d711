"""What each canonical table takes from the input, and the checks a row must pass.

For one batch (an Arrow batch registered as a view) :func:`checked_batch_sql` builds one
DuckDB SELECT that computes every canonical column and the first failed check
(``__field``, ``__reason``); the raw JSON of rejected rows is added by
:mod:`journeymap.sources.quarantine`. Checks, in order (the first failure is the one
recorded):

* events: identifier, event name, timestamp (missing or unparseable), revenue (not a
  number), properties (not a JSON object);
* feedback: identifier, kind (missing or unknown), timestamp (unparseable; a missing
  timestamp is allowed), score (not a number; missing for nps/csat/ces; out of the
  kind's range from ``[voice]`` scales, e.g. nps 0-10, csat 1-5, ces 1-7);
* customers: identifier.

``customer_id`` follows the contract: the mapped/same-named customer id column, else
``"<type>:<value>"`` of the first present identifier in the order of
:data:`journeymap.workspace.schemas.IDENTIFIERS`. This is decided per row, so a row whose
customer id cell is empty still loads under its email, device id, etc.
"""

from __future__ import annotations

from dataclasses import dataclass

from journeymap.sources.timestamps import UNPARSEABLE, ts_sql
from journeymap.workspace.backend import literal, quote
from journeymap.workspace.schemas import IDENTIFIERS

FEEDBACK_KINDS = ("nps", "csat", "ces", "review", "ticket")
SCORE_REQUIRED = ("nps", "csat", "ces")


@dataclass(frozen=True)
class TableRules:
    """The input fields of one canonical table and the columns a file must have."""

    name: str
    fields: tuple[str, ...]
    required: tuple[str, ...]  # fields whose column must exist in every file
    id_field: str | None  # event_id / feedback_id: from the data, else a content hash


RULES: dict[str, TableRules] = {
    "events": TableRules(
        "events",
        (
            "event_id",
            "customer_id",
            "ts",
            "event",
            "channel",
            "revenue",
            "properties",
            *IDENTIFIERS,
        ),
        ("event", "ts"),
        "event_id",
    ),
    "feedback": TableRules(
        "feedback",
        ("feedback_id", "customer_id", "ts", "touchpoint", "kind", "score", "text", *IDENTIFIERS),
        ("kind",),
        "feedback_id",
    ),
    "customers": TableRules(
        "customers",
        ("customer_id", *IDENTIFIERS),
        (),
        None,
    ),
}

#: Customer identifier columns stored in their own columns; the others become attributes.
CUSTOMER_ID_COLUMNS = ("email", "phone", "crm_id")


@dataclass
class BatchColumns:
    """How the canonical fields map onto the columns of one input batch."""

    types: dict[str, str]  # input column -> database type
    field_map: dict[str, str]  # canonical field -> input column (present in this batch)
    extras: list[str]  # input columns that are not canonical fields

    def col(self, name: str) -> str | None:
        column = self.field_map.get(name)
        return quote(column) if column is not None else None

    def label(self, name: str) -> str:
        """How quarantine names a field: the input column, else the canonical name."""
        return self.field_map.get(name, name)


def text_sql(cols: BatchColumns, name: str) -> str:
    """The field as trimmed text, NULL when absent or empty."""
    column = cols.col(name)
    if column is None:
        return "NULL"
    if cols.types[cols.field_map[name]] == "VARCHAR":
        return f"NULLIF(trim({column}), '')"
    return f"CAST({column} AS VARCHAR)"


def number_sql(cols: BatchColumns, name: str) -> str:
    """The field as a finite DOUBLE, NULL when absent or not a number."""
    column = cols.col(name)
    if column is None:
        return "NULL"
    sql_type = cols.types[cols.field_map[name]]
    if sql_type in ("BIGINT", "DOUBLE"):
        value = f"CAST({column} AS DOUBLE)"
    elif sql_type == "VARCHAR":
        value = f"TRY_CAST(NULLIF(trim({column}), '') AS DOUBLE)"
    else:
        return "CAST(NULL AS DOUBLE)"
    return f"(CASE WHEN isfinite({value}) THEN {value} END)"


def customer_id_sql(cols: BatchColumns) -> str:
    parts = [text_sql(cols, "customer_id")]
    parts += [f"{literal(name + ':')} || {text_sql(cols, name)}" for name in IDENTIFIERS]
    return f"coalesce({', '.join(parts)})"


def raw_sql(cols: BatchColumns) -> str:
    """The row as read, as a JSON object of all its input columns."""
    if not cols.types:
        return "'{}'"
    pairs = ", ".join(f"{literal(c)}, {quote(c)}" for c in cols.types)
    return f"CAST(json_object({pairs}) AS VARCHAR)"


def _extras_json(cols: BatchColumns) -> str:
    if not cols.extras:
        return "'{}'"
    pairs = ", ".join(f"{literal(c)}, {quote(c)}" for c in sorted(cols.extras))
    return f"CAST(json_object({pairs}) AS VARCHAR)"


def _properties_sql(cols: BatchColumns) -> tuple[str, str]:
    """(properties JSON text, condition that the given properties column is bad)."""
    extras = _extras_json(cols)
    column = cols.col("properties")
    if column is None:
        return extras, "FALSE"
    if cols.types[cols.field_map["properties"]] == "VARCHAR":
        given = text_sql(cols, "properties")
        ok = f"(json_valid({given}) AND json_type({given}) = 'OBJECT')"
        bad = f"({given} IS NOT NULL AND NOT coalesce({ok}, FALSE))"
        base = f"(CASE WHEN {given} IS NULL THEN '{{}}' WHEN {ok} THEN {given} END)"
    else:
        base, bad = f"coalesce(CAST(to_json({column}) AS VARCHAR), '{{}}')", "FALSE"
    if not cols.extras:
        return base, bad
    return f"CAST(json_merge_patch({base}, {extras}) AS VARCHAR)", bad


def _case(checks: list[tuple[str, str, str]], pick: int) -> str:
    if not checks:
        return "CAST(NULL AS VARCHAR)"
    whens = " ".join(f"WHEN {c[0]} THEN {literal(c[pick])}" for c in checks)
    return f"(CASE {whens} END)"


def _hash_sql(parts: list[str]) -> str:
    fields = ", ".join(f"coalesce(CAST({p} AS VARCHAR), '')" for p in parts)
    return f"md5(concat_ws(chr(31), {fields}))"


def checked_batch_sql(
    table: str, cols: BatchColumns, tz: str, scales: dict[str, tuple[float, float]]
) -> tuple[str, list[str]]:
    """SELECT over ``__jm_in`` giving the canonical columns plus __field/__reason.

    Returns the SQL and the list of canonical columns it produces (besides ``__row``,
    ``__source``, ``__file`` which the view already has). Rows that pass every check
    have ``__reason`` NULL.
    """
    ident = {name: text_sql(cols, name) for name in IDENTIFIERS}
    values: dict[str, str] = {"customer_id": customer_id_sql(cols)}
    no_id = ("v.customer_id IS NULL", "customer_id", _no_identifier(cols))
    checks: list[tuple[str, str, str]] = [(no_id[0], no_id[1], no_id[2])]
    if table == "events":
        ts_col = cols.col("ts")
        ts_type = cols.types.get(cols.field_map.get("ts", ""), "VARCHAR")
        props, props_bad = _properties_sql(cols)
        values |= {
            "ts": ts_sql(ts_col, ts_type, tz) if ts_col else "CAST(NULL AS TIMESTAMPTZ)",
            "event": text_sql(cols, "event"),
            "channel": text_sql(cols, "channel"),
            "revenue": number_sql(cols, "revenue"),
            "properties": props,
            **ident,
            "__ts_in": text_sql(cols, "ts"),
            "__revenue_in": text_sql(cols, "revenue"),
            "__props_bad": props_bad,
            "__id_in": text_sql(cols, "event_id"),
        }
        checks += [
            ("v.event IS NULL", cols.label("event"), "missing event name"),
            ("v.__ts_in IS NULL", cols.label("ts"), "missing timestamp"),
            ("v.ts IS NULL", cols.label("ts"), UNPARSEABLE),
            (
                "v.__revenue_in IS NOT NULL AND v.revenue IS NULL",
                cols.label("revenue"),
                "revenue is not a number",
            ),
            ("v.__props_bad", cols.label("properties"), "properties is not a JSON object"),
        ]
        hashed = ["v.customer_id", "epoch_us(v.ts)", "v.event", "v.channel", "v.revenue"]
        hashed.append("v.properties")
        out = ["event_id", "customer_id", "ts", "event", "channel", "revenue", "properties"]
        out += list(IDENTIFIERS)
    elif table == "feedback":
        ts_col = cols.col("ts")
        ts_type = cols.types.get(cols.field_map.get("ts", ""), "VARCHAR")
        values |= {
            "ts": ts_sql(ts_col, ts_type, tz) if ts_col else "CAST(NULL AS TIMESTAMPTZ)",
            "touchpoint_given": text_sql(cols, "touchpoint"),
            "kind": f"lower({text_sql(cols, 'kind')})",
            "score": number_sql(cols, "score"),
            "text": text_sql(cols, "text"),
            **ident,
            "__ts_in": text_sql(cols, "ts"),
            "__score_in": text_sql(cols, "score"),
            "__id_in": text_sql(cols, "feedback_id"),
        }
        kinds = ", ".join(literal(k) for k in FEEDBACK_KINDS)
        needs = ", ".join(literal(k) for k in SCORE_REQUIRED)
        checks += [
            ("v.kind IS NULL", cols.label("kind"), "missing feedback kind"),
            (
                f"v.kind NOT IN ({kinds})",
                cols.label("kind"),
                f"unknown feedback kind (expected one of {', '.join(FEEDBACK_KINDS)})",
            ),
            ("v.__ts_in IS NOT NULL AND v.ts IS NULL", cols.label("ts"), UNPARSEABLE),
            (
                "v.__score_in IS NOT NULL AND v.score IS NULL",
                cols.label("score"),
                "score is not a number",
            ),
            (f"v.score IS NULL AND v.kind IN ({needs})", cols.label("score"), "missing score"),
        ]
        for kind, (low, high) in sorted(scales.items()):
            checks.append(
                (
                    f"v.kind = {literal(kind)} AND (v.score < {low} OR v.score > {high})",
                    cols.label("score"),
                    f"score out of range for {kind} (expected {low:g} to {high:g})",
                )
            )
        hashed = ["v.customer_id", "epoch_us(v.ts)", "v.kind", "v.score", "v.text"]
        hashed.append("v.touchpoint_given")
        out = ["feedback_id", "customer_id", "ts", "touchpoint_given", "kind", "score", "text"]
        out += list(IDENTIFIERS)
    else:
        values |= {name: text_sql(cols, name) for name in CUSTOMER_ID_COLUMNS}
        values |= {f"__attr_{name}": _attr_text(cols, name) for name in cols.extras}
        hashed, out = [], ["customer_id", *CUSTOMER_ID_COLUMNS]  # customers key on the id
        out += [f"__attr_{name}" for name in cols.extras]
    rules = RULES[table]
    hashed += [f"v.{name}" for name in IDENTIFIERS]
    id_sql = f"coalesce(v.__id_in, {_hash_sql(hashed)})"
    selects = ", ".join(f"{expr} AS {quote(name)}" for name, expr in values.items())
    passthrough = "__row, __seq, __source, __file"
    outer = []
    for name in out:
        outer.append(f"{id_sql} AS {quote(name)}" if name == rules.id_field else f"v.{quote(name)}")
    sql = (
        f"SELECT {', '.join(outer)}, {passthrough}, "
        f"{_case(checks, 1)} AS __field, {_case(checks, 2)} AS __reason "
        f"FROM (SELECT {selects}, {passthrough} FROM __jm_in) AS v"
    )
    return sql, out


def _no_identifier(cols: BatchColumns) -> str:
    return "no identifier: customer_id and " + ", ".join(IDENTIFIERS) + " are all empty"


def _attr_text(cols: BatchColumns, name: str) -> str:
    """A customer attribute as text; its type is inferred over the whole input later."""
    column, sql_type = quote(name), cols.types[name]
    if sql_type == "VARCHAR":
        return f"NULLIF({column}, '')"
    if sql_type == "BOOLEAN":
        return f"CASE WHEN {column} THEN 'true' WHEN NOT {column} THEN 'false' END"
    return f"CAST({column} AS VARCHAR)"
