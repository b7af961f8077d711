"""The canonical warehouse tables, as Ibis schemas (docs/contracts.md, canonical tables).

Defined once here so that ``Workspace.create`` builds them, ingest fills them and tests
check them against the same source of truth. Ibis schemas keep the definition
backend-neutral: ``timestamp('UTC', 6)`` (microseconds, UTC) is DuckDB's ``TIMESTAMPTZ``.
"""

from __future__ import annotations

from collections.abc import Iterable

import ibis

#: Identifier columns taken from the input when present, in the order the contract uses
#: to derive ``customer_id`` when the input has no customer id column.
IDENTIFIERS: tuple[str, ...] = ("crm_id", "email", "phone", "device_id", "anonymous_id", "order_id")

_ID_ORDER = ("anonymous_id", "device_id", "email", "phone", "crm_id", "order_id")
_IDS = {name: "string" for name in _ID_ORDER}  # column order of the contract

EVENTS = ibis.schema(
    {
        "event_id": "string",
        "customer_id": "string",
        "ts": "timestamp('UTC', 6)",
        "event": "string",
        "channel": "string",
        "touchpoint": "string",
        "stage": "string",
        "session_id": "string",
        "source": "string",
        "revenue": "float64",
        "properties": "string",
        **_IDS,
        "batch_id": "int64",
    }
)

FEEDBACK = ibis.schema(
    {
        "feedback_id": "string",
        "customer_id": "string",
        "ts": "timestamp('UTC', 6)",
        "touchpoint": "string",
        "kind": "string",
        "score": "float64",
        "text": "string",
        "sentiment": "float64",
        "source": "string",
        **_IDS,
        "batch_id": "int64",
        "touchpoint_given": "string",
    }
)

CUSTOMERS = ibis.schema(
    {
        "customer_id": "string",
        "persona": "string",
        "email": "string",
        "phone": "string",
        "crm_id": "string",
        "source": "string",
        "batch_id": "int64",
    }
)

IDENTITIES = ibis.schema(
    {"identifier_type": "string", "identifier_value": "string", "customer_id": "string"}
)

QUARANTINE = ibis.schema(
    {
        "table_name": "string",
        "source": "string",
        "file": "string",
        "row_number": "int64",
        "raw": "string",
        "field": "string",
        "reason": "string",
        "batch_id": "int64",
        "quarantined_at": "timestamp('UTC', 6)",
    }
)

BATCHES = ibis.schema(
    {
        "batch_id": "int64",
        "table_name": "string",
        "source": "string",
        "files": "string",
        "rows_read": "int64",
        "rows_loaded": "int64",
        "rows_duplicate": "int64",
        "rows_quarantined": "int64",
        "started_at": "timestamp('UTC', 6)",
        "finished_at": "timestamp('UTC', 6)",
    }
)

#: Workspace bookkeeping (not a contract table): one row per key, e.g. data_version.
WORKSPACE_META = ibis.schema({"key": "string", "value": "int64"})

CANONICAL: dict[str, ibis.Schema] = {
    "events": EVENTS,
    "feedback": FEEDBACK,
    "customers": CUSTOMERS,
    "identities": IDENTITIES,
    "quarantine": QUARANTINE,
    "batches": BATCHES,
    "workspace_meta": WORKSPACE_META,
}


def subset(schema: ibis.Schema, columns: Iterable[str]) -> ibis.Schema:
    """The canonical types of just ``columns`` of ``schema``, in the order given: for code
    (and tests) that build or read only some columns, so the types still come from here."""
    return ibis.schema({name: schema[name] for name in columns})
