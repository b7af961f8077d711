"""Commands ``journeymap stitch`` and ``journeymap audit``: thin wrappers over the library.

Stitching lives in :mod:`journeymap.sources.identity`, the audit in
:mod:`journeymap.sources.audit`; these commands open the workspace and print.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from journeymap.cli.app import app

WORKSPACE_OPTION = typer.Option(
    Path("."), "--workspace", "-w", help="Workspace folder (holds journeymap.toml)."
)


def _open(path: Path) -> Any:
    """Open the workspace (imported late so ``--help`` stays fast)."""
    import journeymap

    return journeymap.open(path)


@app.command("stitch")
def stitch_command(workspace: Path = WORKSPACE_OPTION) -> None:
    """Stitch identifiers into customers and print what changed."""
    from journeymap.sources.identity import stitch

    report = stitch(_open(workspace))
    Console().print(str(report), highlight=False)


@app.command("audit")
def audit_command(
    workspace: Path = WORKSPACE_OPTION,
    output_format: str = typer.Option(
        "table", "--format", "-f", help="table (terminal) or json.", case_sensitive=False
    ),
) -> None:
    """Data-quality audit: counts, duplicates, time outliers, skew, unmapped events, gaps."""
    from journeymap.sources.audit import audit

    fmt = output_format.lower()
    if fmt not in ("table", "json"):
        raise typer.BadParameter(
            f"{output_format!r}: expected table or json", param_hint="--format"
        )
    report = audit(_open(workspace))
    if fmt == "json":
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    console = Console()
    summary = Table(title="Data-quality audit", show_lines=False)
    summary.add_column("check")
    summary.add_column("count", justify="right")
    for name, value in report.summary.items():
        style = "bold red" if value and name not in ("rows",) else None
        summary.add_row(name.replace("_", " "), f"{value:,}", style=style)
    console.print(summary)
    for name, frame in report.tables().items():
        if not frame.empty:
            console.print(rich_table(name.replace("_", " "), frame))


def rich_table(title: str, frame: pd.DataFrame, limit: int = 20) -> Table:
    """A Rich table of the first ``limit`` rows of ``frame`` (the rest counted in the caption)."""
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(
            str(column), justify="right" if frame[column].dtype.kind in "if" else "left"
        )
    for row in frame.head(limit).itertuples(index=False):
        table.add_row(*[_cell(v) for v in row])
    if len(frame) > limit:
        table.caption = f"{len(frame) - limit} more rows (use --format json for all)"
    return table


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    if value is None or value is pd.NaT:
        return ""
    return str(value)
