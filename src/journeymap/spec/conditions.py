"""Conditions shared by persona rules and touchpoint ``where`` clauses.

One condition tests one value (an event property or a customer attribute). The
semantics are defined once here, in plain Python, and mirrored by the Ibis
expressions in :mod:`journeymap.spec.matching`; the tests hold the two to agreement:

* A missing value (absent key, JSON ``null``, SQL ``NULL``) fails every operator
  except ``exists: false``.
* ``eq``/``ne``/``in``/``not_in`` compare numbers as floats when the spec value is a
  number, booleans as the text ``true``/``false``, and everything else as text.
* ``gt``/``gte``/``lt``/``lte`` cast the value to a float; a value that is not a
  number fails the test.
* ``regex`` searches the text form (not anchored; add ``^``/``$`` to anchor).
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from typing import Any

Scalar = str | int | float | bool

OPERATORS: tuple[str, ...] = (
    "eq",
    "ne",
    "in",
    "not_in",
    "gt",
    "gte",
    "lt",
    "lte",
    "regex",
    "exists",
)
"""Every operator a condition may use, in documentation order."""

_RE2_UNSUPPORTED = re.compile(r"\(\?<?[=!]|\\[1-9]")


def regex_problem(pattern: Any) -> str | None:
    """Why ``pattern`` cannot be used as a match regex, or None when it can.

    Patterns run in the database (RE2 in DuckDB) and in Python's ``re`` (the test
    oracle), so they must compile in ``re`` and avoid what RE2 lacks: look-around
    and back-references.
    """
    if not isinstance(pattern, str):
        return f"a regex must be text, got {type(pattern).__name__}"
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"invalid regex {pattern!r}: {exc}"
    if _RE2_UNSUPPORTED.search(pattern):
        return (
            f"regex {pattern!r} uses look-around or a back-reference, "
            "which the database regex engine (RE2) does not support"
        )
    return None


@lru_cache(maxsize=1024)
def compiled(pattern: str) -> re.Pattern[str]:
    """Cache compiled patterns: the oracle evaluates the same few patterns many times."""
    return re.compile(pattern)


def is_number(value: Any) -> bool:
    """True for ints and floats, but not for booleans (which Python counts as ints)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def value_text(value: Any) -> str | None:
    """The text form of a value, as the database produces it.

    Mirrors DuckDB's ``json_extract_string`` for JSON values and ``CAST(x AS VARCHAR)``
    for columns: booleans are ``true``/``false``, integral floats keep ``.0``, nested
    values are compact JSON.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return f"{int(value)}.0"
        return repr(value)
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)  # ints, text, dates: the same text as CAST(x AS VARCHAR)


def value_float(value: Any) -> float | None:
    """The value as a float, or None when it is not a number (like SQL TRY_CAST)."""
    if value is None or isinstance(value, bool):
        return None
    if is_number(value):
        return None if math.isnan(value) else float(value)
    if isinstance(value, str):
        text = value.strip()
        if not text.isascii():
            return None
        try:
            number = float(text)
        except ValueError:
            return None
        return None if math.isnan(number) else number
    return None


def scalar_equals(value: Any, expected: Scalar) -> bool:
    """``eq`` for one spec scalar; False when the value is missing."""
    if value is None:
        return False
    if is_number(expected):
        number = value_float(value)
        return number is not None and number == float(expected)
    text = value_text(value)
    if isinstance(expected, bool):
        return text == ("true" if expected else "false")
    return text == str(expected)


def condition_holds(ops: dict[str, Any], value: Any, present: bool = True) -> bool:
    """Whether every operator in ``ops`` holds for ``value``.

    ``present`` is False when the attribute itself does not exist (a customer column
    that is not in the table): then the condition is false whatever it says.
    """
    if not present:
        return False
    for op, expected in ops.items():
        if not _test_one(op, expected, value):
            return False
    return True


def _test_one(op: str, expected: Any, value: Any) -> bool:
    if op == "exists":
        return (value is not None) == bool(expected)
    if value is None:
        return False
    if op == "eq":
        return scalar_equals(value, expected)
    if op == "ne":
        return not scalar_equals(value, expected)
    if op == "in":
        return any(scalar_equals(value, item) for item in expected)
    if op == "not_in":
        return not any(scalar_equals(value, item) for item in expected)
    if op in ("gt", "gte", "lt", "lte"):
        number = value_float(value)
        if number is None:
            return False
        bound = float(expected)
        return {
            "gt": number > bound,
            "gte": number >= bound,
            "lt": number < bound,
            "lte": number <= bound,
        }[op]
    if op == "regex":
        text = value_text(value)
        return text is not None and compiled(expected).search(text) is not None
    raise ValueError(f"unknown operator {op!r}; expected one of {', '.join(OPERATORS)}")
