"""Readers: turn what the user hands to ingest into a stream of Arrow batches.

Accepted ``data``: a path (``.csv``, ``.csv.gz``, ``.parquet``/``.pq``, ``.jsonl``/
``.ndjson`` and their ``.gz`` forms), a folder (every such file below it, sorted), a glob
pattern, a list of any of these, a pandas DataFrame or a pyarrow Table/RecordBatch.

Every batch comes with the 1-based row number of each row *in its own file*, the way a
person counts rows there:

* CSV: the data record number; the first record under the header is row 1 (for files
  without line breaks inside quoted values that is the line number minus one).
* JSON Lines: the line number (blank lines are skipped but counted).
* Parquet, DataFrame, Arrow: the row position, starting at 1.

CSV and JSON Lines values arrive as text exactly as written (CSV has no types; JSON
numbers, booleans and nested values keep their JSON spelling when a column mixes types
within a batch); Parquet and frames keep their types. Nothing is parsed here, so a
malformed value is judged (and quarantined) by ingest, never lost by the reader.
"""

from __future__ import annotations

import csv
import glob
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from journeymap.sources.errors import IngestError

BATCH_ROWS = 256_000
CSV_BLOCK_BYTES = 16 << 20

FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


@dataclass
class Batch:
    """Rows of one input: the data and each row's 1-based number in its file."""

    data: pa.RecordBatch
    rows: pa.Array


@dataclass
class InputSource:
    """One file, DataFrame or Arrow table to ingest."""

    name: str  # what errors and the quarantine call it: the path, or <DataFrame>
    fmt: str  # csv | parquet | jsonl | arrow
    source: str  # default value of the ``source`` column: the file's stem
    path: Path | None = None
    table: pa.Table | None = None

    def row_count(self) -> int | None:
        """Number of rows when known without reading the data (for the progress bar)."""
        if self.table is not None:
            return self.table.num_rows
        if self.fmt == "parquet" and self.path is not None:
            try:
                return pq.ParquetFile(self.path).metadata.num_rows
            except Exception:  # noqa: BLE001  (reported properly when the data is read)
                return None
        return None

    def batches(self) -> Iterator[Batch]:
        """The rows in order, in bounded batches; raises IngestError naming the file."""
        try:
            if self.table is not None:
                yield from _arrow_batches(self.table)
            elif self.fmt == "parquet":
                yield from _parquet_batches(self)
            elif self.fmt == "csv":
                yield from _csv_batches(self)
            else:
                yield from _jsonl_batches(self)
        except IngestError:
            raise
        except (OSError, pa.ArrowException, EOFError, UnicodeDecodeError, ValueError) as exc:
            raise IngestError(self.name, f"cannot read {self.fmt} file: {exc}") from exc


def resolve_inputs(data: Any) -> list[InputSource]:
    """Expand ``data`` into the inputs it stands for, in a stable order.

    Raises IngestError for a path that does not exist, a folder or glob that holds no
    readable file, or an unsupported extension.
    """
    if isinstance(data, pd.DataFrame):
        return [InputSource("<DataFrame>", "arrow", "dataframe", table=frame_to_arrow(data))]
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    if isinstance(data, pa.Table):
        return [InputSource("<Arrow table>", "arrow", "arrow", table=data)]
    if isinstance(data, list | tuple):
        if not data:
            raise IngestError("<input>", "an empty list of inputs")
        return [item for part in data for item in resolve_inputs(part)]
    if isinstance(data, str | Path):
        return [_file_input(p) for p in _expand_path(str(data))]
    raise IngestError(
        "<input>",
        f"cannot ingest a {type(data).__name__}: expected a path, folder, glob, list of "
        "paths, pandas DataFrame or pyarrow Table",
    )


def file_format(path: Path) -> str | None:
    """csv | parquet | jsonl for a supported file name (``.gz`` allowed), else None."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return FORMATS.get(suffixes[-1]) if suffixes else None


def _expand_path(text: str) -> list[Path]:
    path = Path(text)
    if any(ch in text for ch in "*?["):
        found = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        files = [p for p in found if file_format(p)]
        if not files:
            raise IngestError(text, "the pattern matches no CSV, Parquet or JSON Lines file")
        return files
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and file_format(p) and not p.name.startswith((".", "_"))
        )
        if not files:
            raise IngestError(text, "the folder holds no CSV, Parquet or JSON Lines file")
        return files
    if not path.exists():
        raise IngestError(text, "no such file or folder")
    return [path]


def _file_input(path: Path) -> InputSource:
    fmt = file_format(path)
    if fmt is None:
        raise IngestError(
            str(path),
            "unsupported file type: expected .csv, .csv.gz, .parquet, .jsonl or .ndjson",
        )
    stem = path.name.split(".")[0] or path.name
    return InputSource(str(path), fmt, stem, path=path)


def frame_to_arrow(frame: pd.DataFrame) -> pa.Table:
    """A DataFrame as Arrow; object columns of mixed types become text rather than fail."""
    frame = frame.reset_index(drop=True)
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        fixed = frame.copy()
        for col in fixed.columns:
            try:
                pa.array(fixed[col], from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                fixed[col] = [None if _is_missing(v) else str(v) for v in fixed[col]]
        return pa.Table.from_pandas(fixed, preserve_index=False)


def _is_missing(value: Any) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _numbered(batch: pa.RecordBatch, first_row: int) -> Batch:
    return Batch(batch, pa.array(range(first_row, first_row + batch.num_rows), pa.int64()))


def _arrow_batches(table: pa.Table) -> Iterator[Batch]:
    row = 1
    for batch in table.to_batches(max_chunksize=BATCH_ROWS):
        yield _numbered(batch, row)
        row += batch.num_rows


def _parquet_batches(src: InputSource) -> Iterator[Batch]:
    row = 1
    for batch in pq.ParquetFile(src.path).iter_batches(batch_size=BATCH_ROWS):
        yield _numbered(batch, row)
        row += batch.num_rows


def _open_text(path: Path) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")  # noqa: SIM115
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def _csv_header(src: InputSource) -> list[str]:
    with _open_text(src.path) as fh:
        header = next(csv.reader(fh), None)
    if not header:
        raise IngestError(src.name, "empty file: expected a header row with column names")
    names = [h.strip() for h in header]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes or "" in names:
        problem = f"repeated column names {dupes}" if dupes else "an empty column name"
        raise IngestError(src.name, f"the header row has {problem}", row=0)
    return names


def _csv_batches(src: InputSource) -> Iterator[Batch]:
    names = _csv_header(src)
    read = pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=CSV_BLOCK_BYTES)
    convert = pacsv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()),
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    stream = pa.input_stream(str(src.path), compression="detect")
    row = 1
    try:
        reader = pacsv.open_csv(stream, read_options=read, convert_options=convert)
        for batch in reader:
            yield _numbered(batch, row)
            row += batch.num_rows
    except pa.ArrowInvalid as exc:
        raise IngestError(src.name, f"malformed CSV after data row {row - 1}: {exc}") from exc
    finally:
        stream.close()


def _jsonl_batches(src: InputSource) -> Iterator[Batch]:
    with _open_text(src.path) as fh:
        records: list[dict[str, Any]] = []
        rows: list[int] = []
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise IngestError(src.name, f"invalid JSON: {exc.msg}", row=line_no) from None
            if not isinstance(record, dict):
                raise IngestError(
                    src.name, f"expected a JSON object, got {type(record).__name__}", row=line_no
                )
            records.append(record)
            rows.append(line_no)
            if len(records) >= BATCH_ROWS // 4:
                yield Batch(_records_to_batch(records), pa.array(rows, pa.int64()))
                records, rows = [], []
        if records:
            yield Batch(_records_to_batch(records), pa.array(rows, pa.int64()))


def _records_to_batch(records: list[dict[str, Any]]) -> pa.RecordBatch:
    """Columns in first-seen order; a column keeps its JSON type when all values share it."""
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    arrays = []
    for name in names:
        values = [r.get(name) for r in records]
        arrays.append(_json_column(values))
    return pa.RecordBatch.from_arrays(arrays, names=list(names))


def _json_column(values: list[Any]) -> pa.Array:
    kinds = {type(v) for v in values if v is not None}
    if kinds == {bool}:
        return pa.array(values, pa.bool_())
    if kinds == {int}:
        try:
            return pa.array(values, pa.int64())
        except OverflowError:
            pass
    if kinds and kinds <= {int, float}:
        return pa.array([None if v is None else float(v) for v in values], pa.float64())
    if kinds <= {str}:
        return pa.array(values, pa.string())
    return pa.array(
        [
            None if v is None else v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            for v in values
        ],
        pa.string(),
    )
