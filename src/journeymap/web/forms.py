"""Turning HTML form fields into spec values (the API takes JSON and needs none of this)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from journeymap.web.editing import EDITABLE, EditRejected

LIST_FIELDS = {"goals", "frustrations"}
JSON_FIELDS = {"match", "rule", "kpis"}
INT_FIELDS = {"impact", "effort"}


def form_fields(kind: str, form: Mapping[str, Any]) -> dict[str, Any]:
    """The editable fields present in ``form``, converted: lists one per line, rules as JSON.

    An empty field removes the value; a field absent from the form is left alone.
    """
    allowed = EDITABLE.get(kind)
    if allowed is None:
        raise EditRejected(f"kind {kind!r}: expected one of {', '.join(EDITABLE)}")
    out: dict[str, Any] = {}
    for name in allowed + ("id",):
        if name not in form:
            continue
        raw = str(form[name]).strip()
        if raw == "":
            out[name] = None
        elif name in LIST_FIELDS:
            out[name] = [line.strip() for line in raw.splitlines() if line.strip()]
        elif name in JSON_FIELDS:
            try:
                out[name] = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise EditRejected(
                    f"field {name}: expected JSON (line {exc.lineno}, column {exc.colno}: "
                    f"{exc.msg})"
                ) from exc
        elif name in INT_FIELDS:
            try:
                out[name] = int(raw)
            except ValueError as exc:
                raise EditRejected(
                    f"field {name}: expected a whole number 1..5, got {raw!r}"
                ) from exc
        else:
            out[name] = raw
    return out


def as_text(value: Any) -> str:
    """A spec value as the text a form field shows (inverse of :func:`form_fields`)."""
    if value is None:
        return ""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
