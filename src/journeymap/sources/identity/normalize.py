"""Identifier normalisation and the node keys the stitching graph is built on.

Every identifier value becomes a *node key*: ``<rank><type>:<value>``, where ``rank`` is
one digit from :data:`ID_TYPES` (0 = strongest). Sorting node keys as text therefore sorts
by (strength, value), so "the smallest key of a component" is its strongest identifier,
the one its customer_id is derived from.

Normalisation before matching:

- every identifier: surrounding white space removed; empty text counts as absent;
- ``email``: also lower-cased;
- ``phone``: E.164 (``+447700900123``) parsed with the default region by ``phonenumbers``;
  values it cannot parse, or that cannot be a phone number, are kept as trimmed text
  (so they still match exactly) and counted in the report. Parsing runs in Python over
  the DISTINCT phone values only, and the result is joined back.
"""

from __future__ import annotations

from collections.abc import Iterable

import ibis
import ibis.expr.types as ir
import pandas as pd
import phonenumbers

#: Identifier types, strongest first: the order decides which identifier names a
#: component. ``customer_id`` is the customer id *as given in the input* (kept in
#: ``customer_id_given``), used as its own type so it cannot collide with CRM ids.
ID_TYPES: tuple[str, ...] = (
    "crm_id",
    "customer_id",
    "email",
    "phone",
    "device_id",
    "anonymous_id",
    "order_id",
)

#: Identifier columns the canonical tables may carry (``customer_id`` is handled apart).
ID_COLUMNS: tuple[str, ...] = tuple(t for t in ID_TYPES if t != "customer_id")

#: Pre-stitch ids the ingest derives from an identifier (``"email:a@b.c"``): not an input
#: id, so not an identifier of its own (the identifier column already carries it).
DERIVED_ID_PREFIXES: tuple[str, ...] = tuple(f"{t}:" for t in ID_COLUMNS)


def key_column(id_type: str) -> str:
    """Name of the scratch column holding the node key of ``id_type``."""
    return f"_k_{id_type}"


KEY_COLUMNS: tuple[str, ...] = tuple(key_column(t) for t in ID_TYPES)


def node_key(id_type: str, value: ir.StringValue) -> ir.StringValue:
    """The node key of a normalised value (NULL stays NULL)."""
    return ibis.literal(f"{ID_TYPES.index(id_type)}{id_type}:") + value


def key_type(key: ir.StringValue) -> ir.StringValue:
    """The identifier type inside a node key."""
    return key.substr(1, key.find(":") - 1)


def key_value(key: ir.StringValue) -> ir.StringValue:
    """The normalised identifier value inside a node key."""
    return key.substr(key.find(":") + 1)


def customer_id_of(key: ir.StringValue) -> ir.StringValue:
    """The customer_id of a component named by its smallest node key.

    ``"c_"`` + the first 16 hex digits of md5("<type>:<value>"): stable across runs and
    backends (md5 is standard), independent of row order or of the other identifiers.
    """
    return ibis.literal("c_") + key.substr(1).hexdigest("md5").substr(0, 16)


#: Leading or trailing white space (the set of Python's ``str.strip()``).
WHITESPACE_ENDS = r"^[\s\x0b]+|[\s\x0b]+$"


def trimmed(value: ir.Value) -> ir.StringValue:
    """Text with surrounding white space removed; empty text becomes NULL.

    A regex, not Ibis's ``strip()``: on Spark that compiles to ``trim(x, '<whitespace>')``
    whose ``\\f`` and ``\\v`` Spark reads as the letters f and v (``"abcf"`` lost its
    ``f``). ``\\s`` plus ``\\x0b`` is Python's ``string.whitespace`` in RE2 and Java.
    """
    text = value.cast("string").re_replace(WHITESPACE_ENDS, "")
    return ibis.ifelse(text == "", ibis.null("string"), text)


def normalise_email(value: ir.Value) -> ir.StringValue:
    """Trimmed and lower-cased email (no other rewriting: dots and +tags are kept)."""
    return trimmed(value).lower()


def e164(raw: str, region: str) -> str | None:
    """The E.164 form of ``raw`` with ``region`` as the default, or None if unparseable."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_map(raw_values: Iterable[str], region: str) -> pd.DataFrame:
    """Map of trimmed raw phone -> normalised phone and whether it parsed.

    Unparseable values map to themselves (``parsed`` False), so nothing is dropped.
    """
    raws = [r for r in dict.fromkeys(raw_values) if r is not None]
    normalised, parsed = [], []
    for raw in raws:
        number = e164(raw, region)
        parsed.append(number is not None)
        normalised.append(number if number is not None else raw)
    return pd.DataFrame(
        {"_phone_raw": pd.Series(raws, dtype=object),
         "_phone_norm": pd.Series(normalised, dtype=object),
         "_phone_parsed": pd.Series(parsed, dtype=bool)}
    )  # fmt: skip


def raw_phones(tables: Iterable[ir.Table]) -> ir.Table:
    """Distinct trimmed phone values over the given tables (column ``_phone_raw``)."""
    parts = [t.select(_phone_raw=trimmed(t.phone)) for t in tables if "phone" in t.columns]
    if not parts:
        return ibis.memtable({"_phone_raw": pd.Series([], dtype=object)}).cast(
            {"_phone_raw": "string"}
        )
    union = parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=True)
    return union.filter(union._phone_raw.notnull()).distinct()


def with_keys(table: ir.Table, phones: ir.Table | None) -> ir.Table:
    """``table`` plus one node-key column per identifier type (NULL when absent).

    ``phones`` is the materialised :func:`phone_map`; ``customer_id`` keys come from
    ``customer_id_given`` (or ``customer_id`` before the first stitch) unless derived.
    """
    cols = table.columns
    if "phone" in cols and phones is not None:
        t = table.mutate(_phone_trim=trimmed(table.phone))
        t = t.left_join(phones, t._phone_trim == phones._phone_raw)
        t = t.drop("_phone_trim", "_phone_raw", "_phone_parsed")
    else:
        t = table
    keys: dict[str, ir.Value] = {}
    for id_type in ID_TYPES:
        if id_type == "customer_id":
            given = given_customer_id(t)
            derived = ibis.or_(*[given.startswith(p) for p in DERIVED_ID_PREFIXES])
            value = ibis.ifelse(derived, ibis.null("string"), given)
        elif id_type not in cols:
            value = ibis.null("string")
        elif id_type == "email":
            value = normalise_email(t.email)
        elif id_type == "phone":
            value = t._phone_norm if phones is not None else trimmed(t.phone)
        else:
            value = trimmed(t[id_type])
        keys[key_column(id_type)] = node_key(id_type, value)
    t = t.mutate(**keys)
    return t.drop("_phone_norm") if "_phone_norm" in t.columns else t


def given_customer_id(table: ir.Table) -> ir.StringValue:
    """The customer id as given in the input: kept in ``customer_id_given`` after stitching."""
    if "customer_id" not in table.columns:
        return ibis.null("string")
    current = trimmed(table.customer_id)
    if "customer_id_given" in table.columns:
        # NULL = a row not stitched yet; '' = stitched, and the input gave no id.
        given = table.customer_id_given
        return ibis.ifelse(given.isnull(), current, trimmed(given))
    return current


def given_to_store(table: ir.Table) -> ir.StringValue:
    """What ``customer_id_given`` holds after a stitch: the input id, '' when none was given."""
    current = table.customer_id.cast("string") if "customer_id" in table.columns else None
    parts = [table.customer_id_given] if "customer_id_given" in table.columns else []
    if current is not None:
        parts.append(current)
    return ibis.coalesce(*parts, ibis.literal("")) if parts else ibis.literal("")
