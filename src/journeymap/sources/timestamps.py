"""How input timestamps become UTC instants (the ``ts`` columns).

Accepted, per value (the SQL runs in DuckDB over a whole batch at once):

* Database timestamps: with a time zone -> that instant; naive -> read in the
  workspace time zone (``[workspace] timezone`` in journeymap.toml). Dates -> midnight
  in the workspace time zone.
* ISO 8601 text with an offset (``2024-03-01T10:00:00+02:00``, ``...Z``, ``+0530``,
  ``+02``) -> converted to UTC. Text with a zone name after the time
  (``2024-03-01 10:00 Europe/Paris``) is read in that zone.
* ISO 8601 text without offset (``2024-03-01 10:00:00``, ``2024-03-01``) -> naive, read in
  the workspace time zone. Daylight saving: a time that does not exist (the hour skipped
  in spring) is read with the offset in force before the change (01:30 in London on the
  spring-forward day is 01:30 UTC); an ambiguous time (the hour repeated in autumn) is
  read as the later instant, in standard time.
* Epoch numbers, as numbers or numeric text: seconds when ``|x| < 1e11``, milliseconds
  when ``1e11 <= |x| < 1e14``. 1e11 seconds is the year 5138 while 1e11 milliseconds is
  March 1973, so the cut misreads only millisecond epochs before March 1973. Larger
  values (micro- or nanoseconds) are rejected rather than guessed.

Anything else (``01/03/2024``, ``yesterday``, out of range) yields NULL, and ingest
quarantines the row with the reason :data:`UNPARSEABLE`.
"""

from __future__ import annotations

from journeymap.workspace.backend import literal

EPOCH_MS_FROM = 1e11
"""Epoch values with at least this magnitude are milliseconds, smaller ones seconds."""
EPOCH_MAX = 1e14
"""Epoch values with at least this magnitude are rejected (not seconds or milliseconds)."""

UNPARSEABLE = "unparseable timestamp (expected ISO 8601, or epoch seconds or milliseconds)"

_NUMERIC = r"^[+-]?[0-9]+(\.[0-9]+)?$"
# "2024-03-01T10:00+02": DuckDB wants seconds before an offset; add ":00" there only.
_HHMM_OFFSET = r"^([0-9-]+[T ][0-9]{1,2}:[0-9]{2})(\s*([zZ]|[+-][0-9]{2}(:?[0-9]{2})?))$"
_OFFSET = r"[0-9]:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?\s*([zZ]|[+-][0-9]{2}(:?[0-9]{2})?)$"


def epoch_sql(number_sql: str) -> str:
    """SQL turning an epoch number (seconds or milliseconds, see module doc) into UTC."""
    x = f"CAST({number_sql} AS DOUBLE)"
    return (
        f"(CASE WHEN {x} IS NULL OR NOT isfinite({x}) OR abs({x}) >= {EPOCH_MAX:.0f} THEN NULL "
        f"WHEN abs({x}) >= {EPOCH_MS_FROM:.0f} THEN to_timestamp({x} / 1000.0) "
        f"ELSE to_timestamp({x}) END)"
    )


def ts_sql(column_sql: str, sql_type: str, tz: str) -> str:
    """SQL for the UTC ``TIMESTAMPTZ`` of one input column, NULL where unparseable.

    ``sql_type`` is the column's database type (see ``backend.arrow_sql_type``) so that
    typed input skips text parsing; ``tz`` is the zone for naive values.
    """
    zone = literal(tz)
    if sql_type == "TIMESTAMPTZ":
        return f"CAST({column_sql} AS TIMESTAMPTZ)"
    if sql_type in ("TIMESTAMP", "DATE"):
        return f"timezone({zone}, CAST({column_sql} AS TIMESTAMP))"
    if sql_type in ("BIGINT", "DOUBLE"):
        return epoch_sql(column_sql)
    text = f"trim(CAST({column_sql} AS VARCHAR))"
    epoch = epoch_sql(f"TRY_CAST({text} AS DOUBLE)")
    return (
        f"(CASE WHEN regexp_full_match({text}, '{_NUMERIC}') THEN {epoch} "
        f"WHEN regexp_matches({text}, '{_OFFSET}') THEN TRY_CAST(regexp_replace("
        f"{text}, '{_HHMM_OFFSET}', '\\1:00\\2') AS TIMESTAMPTZ) "
        f"ELSE coalesce(timezone({zone}, TRY_CAST({text} AS TIMESTAMP)), "
        f"CASE WHEN regexp_matches({text}, '[0-9]:[0-9]{{2}}.*[A-Za-z]') "
        f"THEN TRY_CAST({text} AS TIMESTAMPTZ) END) END)"
    )
