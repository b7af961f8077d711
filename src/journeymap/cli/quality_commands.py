"""Commands ``journeymap stitch`` and ``journeymap audit``: thin wrappers over the library.

Stitching lives in :mod:`journeymap.sources.identity`, the audit in
:mod:`journeymap.sources.audit`; these commands open the workspace and print.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from journeymap.cli.app import app
from journeymap.cli.output import WorkspaceOpt, open_workspace, rich_table, stdout_console


@app.command("stitch")
def stitch_command(workspace: WorkspaceOpt = Path(".")) -> None:
    """Stitch identifiers into customers and print what changed."""
    from journeymap.sources.identity import stitch

    report = stitch(open_workspace(workspace))
    stdout_console().print(str(report), highlight=False)


@app.command("audit")
def audit_command(
    workspace: WorkspaceOpt = Path("."),
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
    report = audit(open_workspace(workspace))
    if fmt == "json":
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    console = stdout_console()
    summary = Table(title="Data-quality audit", show_lines=False)
    summary.add_column("check")
    summary.add_column("count", justify="right")
    for name, value in report.summary.items():
        style = "bold red" if value and name not in ("rows",) else None
        summary.add_row(name.replace("_", " "), f"{value:,}", style=style)
    console.print(summary)
    for name, frame in report.tables().items():
        if not frame.empty:
            console.print(rich_table(frame, name.replace("_", " "), limit=20))
