"""``--map field=column`` options as a mapping dict (CLI and config share this parser)."""

from __future__ import annotations

from collections.abc import Iterable

from journeymap.sources.errors import IngestError


def parse_mapping(items: Iterable[str] | None) -> dict[str, str]:
    """``["customer_id=user", "ts=time"]`` -> ``{"customer_id": "user", "ts": "time"}``.

    Column names may contain ``=`` (only the first one splits); a field given twice is
    an error rather than a silent override.
    """
    mapping: dict[str, str] = {}
    for item in items or []:
        field, sep, column = item.partition("=")
        field, column = field.strip(), column.strip()
        if not sep or not field or not column:
            raise IngestError("--map", f"{item!r}: expected FIELD=COLUMN, e.g. customer_id=user")
        if field in mapping:
            raise IngestError("--map", f"field {field!r} is mapped twice", field=field)
        mapping[field] = column
    return mapping
