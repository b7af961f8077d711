"""The one error ingest raises for input it cannot read at all."""

from __future__ import annotations


class IngestError(ValueError):
    """Input that cannot be loaded: the message names the file, row, field and reason.

    Raised before anything is committed, so the warehouse is unchanged.
    """

    def __init__(
        self, file: str, reason: str, row: int | None = None, field: str | None = None
    ) -> None:
        self.file, self.reason, self.row, self.field = file, reason, row, field
        where = file
        if row is not None:
            where += f", row {row}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {reason}")
