"""The one way commands print: the ``--format`` and ``--workspace`` options, and a DataFrame
printed as a Rich table, CSV or JSON records.

Every command module prints tables through :func:`print_frame` so that the same value looks
the same everywhere (paths, quotes, missing values, numbers), and every command takes the
workspace folder through :data:`WorkspaceOpt`. Errors go to stderr so that CSV and JSON on
stdout stay clean for pipes.
"""

from __future__ import annotations

import json
import math
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from journeymap.workspace import Workspace


class OutputFormat(StrEnum):
    """How a command prints its table."""

    table = "table"
    csv = "csv"
    json = "json"


FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="table, csv or json.")]
WorkspaceOpt = Annotated[
    Path, typer.Option("--workspace", "-w", help="Workspace folder (holds journeymap.toml).")
]

stderr = Console(stderr=True)


def error_exit(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` as an error on stderr and return the exit to raise
    (``raise error_exit(...) from None`` keeps library tracebacks out of the user's way)."""
    stderr.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=code)


def open_workspace(path: Path) -> Workspace:
    """The workspace at ``path``; a missing folder or a broken journeymap.toml is an error
    message naming it (exit 1), not a traceback."""
    from journeymap.workspace import SettingsError, Workspace, WorkspaceError

    try:
        return Workspace(path)
    except (WorkspaceError, SettingsError) as exc:
        raise error_exit(str(exc)) from None


def cell(value: Any) -> str:
    """One value as table/CSV text: paths joined with ``>``, quotes (dicts) as ``id: text``,
    missing values empty, floats to four significant digits."""
    if isinstance(value, tuple | list):
        if value and all(isinstance(v, dict) for v in value):
            return " | ".join(": ".join(map(str, v.values())) for v in value)
        return " > ".join(map(str, value))
    if isinstance(value, dict):
        return ", ".join(
            f"{k} {v:.0%}" if isinstance(v, float) else f"{k} {v}" for k, v in value.items()
        )
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    return str(value)


def json_ready(value: Any) -> Any:
    """``value`` as plain JSON data: numpy scalars unwrapped, tuples as lists, missing as null
    (also inside nested lists and dicts, e.g. the quotes of a theme)."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [json_ready(v) for v in value]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item") and not isinstance(value, pd.Timestamp):
        return json_ready(value.item())
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as JSON-ready dicts."""
    return [{str(k): json_ready(v) for k, v in row.items()} for row in frame.to_dict("records")]


def print_json(data: Any) -> None:
    """Write ``data`` as one line of JSON to stdout (timestamps and other objects as text)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")


def rich_table(frame: pd.DataFrame, title: str | None = None, limit: int | None = None) -> Table:
    """A Rich table of ``frame`` (numbers right-aligned); with ``limit``, only the first rows,
    the rest counted in the caption so nothing is hidden without saying so."""
    table = Table(title=title)
    for col in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[col])
        table.add_column(str(col), justify="right" if numeric else "left", overflow="fold")
    shown = frame if limit is None else frame.head(limit)
    for row in shown.itertuples(index=False):
        table.add_row(*(cell(v) for v in row))
    if limit is not None and len(frame) > limit:
        table.caption = f"{len(frame) - limit} more rows (use --format json for all)"
    return table


def stdout_console() -> Console:
    """A console for stdout, made per call so the terminal width is read when the command
    runs; off a terminal (pipes, tests) 160 columns unless ``COLUMNS`` says otherwise."""
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=160)
    return console


def print_frame(frame: pd.DataFrame, fmt: OutputFormat, title: str | None = None) -> None:
    """Print ``frame`` to stdout as a Rich table, CSV or JSON records."""
    if fmt is OutputFormat.json:
        print_json(records(frame))
    elif fmt is OutputFormat.csv:
        frame.map(cell).to_csv(sys.stdout, index=False)
    else:
        stdout_console().print(rich_table(frame, title))
