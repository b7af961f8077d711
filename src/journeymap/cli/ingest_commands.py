"""Commands: create, ingest events|feedback|customers, refresh, quarantine.

Thin wrappers: each parses options, calls the library and prints its report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from journeymap.cli.app import app
from journeymap.cli.output import (
    OutputFormat,
    WorkspaceOpt,
    error_exit,
    open_workspace,
    print_frame,
    stdout_console,
)
from journeymap.sources.errors import IngestError
from journeymap.sources.ingest import IngestReport
from journeymap.sources.mapping_args import parse_mapping
from journeymap.workspace import SettingsError, Workspace, WorkspaceError

ingest_app = typer.Typer(help="Load events, feedback or customer records into a workspace.")
app.add_typer(ingest_app, name="ingest")

FilesArg = Annotated[list[str], typer.Argument(help="Files, folders or glob patterns.")]
MapOpt = Annotated[
    list[str] | None,
    typer.Option("--map", "-m", help="FIELD=COLUMN: read a canonical field from a column."),
]
SourceOpt = Annotated[
    str | None, typer.Option("--source", help="Source name (default: each file's name).")
]
NoRefreshOpt = Annotated[
    bool, typer.Option("--no-refresh", help="Skip the refresh pipeline after loading.")
]


def _print_report(report: IngestReport) -> None:
    console = stdout_console()
    table = Table(title=f"ingest {report.table} (batch {report.batch_id})")
    for name in ("read", "loaded", "duplicates", "quarantined", "seconds"):
        table.add_column(name, justify="right")
    loaded = str(report.loaded) + (f" ({report.updated} updated)" if report.updated else "")
    table.add_row(
        str(report.rows_read),
        loaded,
        str(report.duplicates),
        str(report.quarantined),
        f"{report.seconds:.1f}",
    )
    console.print(table)
    if report.top_reasons:
        reasons = Table(title="top quarantine reasons")
        reasons.add_column("rows", justify="right")
        reasons.add_column("field")
        reasons.add_column("reason")
        for field, reason, n in report.top_reasons:
            reasons.add_row(str(n), field, reason)
        console.print(reasons)
    if report.new_columns:
        console.print(f"new customer attributes: {', '.join(report.new_columns)}")
    if report.ignored_columns:
        console.print(f"columns not loaded: {', '.join(report.ignored_columns)}")


def _ingest(
    table: str,
    files: list[str],
    mapping: list[str] | None,
    source: str | None,
    workspace: Path,
    no_refresh: bool,
) -> None:
    try:
        parsed = parse_mapping(mapping)
    except IngestError as exc:
        raise error_exit(str(exc)) from None
    with open_workspace(workspace) as ws:
        try:
            data = files[0] if len(files) == 1 else files
            report = getattr(ws, f"ingest_{table}")(
                data, mapping=parsed, source=source, refresh=False
            )
        except IngestError as exc:
            raise error_exit(f"{exc}\nnothing was loaded; the warehouse is unchanged") from None
        _print_report(report)
        if not no_refresh:
            _refresh(ws)


def _refresh(ws: Workspace) -> None:
    """Run the refresh pipeline; a broken journey.yaml is an error message, not a trace."""
    from journeymap.spec import SpecError

    try:
        report = ws.refresh()
    except SpecError as exc:
        raise error_exit(
            f"the data is loaded, but refresh needs a valid journey.yaml:\n{exc}\n"
            "fix it, then run `journeymap refresh`"
        ) from None
    stdout_console().print(str(report), highlight=False)


def _ingest_command(table: str, doc: str) -> None:
    """Register ``journeymap ingest <table>``: the three tables take the same options."""

    def command(
        files: FilesArg,
        map: MapOpt = None,  # noqa: A002  (the option is --map)
        source: SourceOpt = None,
        workspace: WorkspaceOpt = Path("."),
        no_refresh: NoRefreshOpt = False,
    ) -> None:
        _ingest(table, files, map, source, workspace, no_refresh)

    command.__name__ = f"ingest_{table}"
    command.__doc__ = doc
    ingest_app.command(table)(command)


_ingest_command("events", "Load events (CSV, Parquet, JSON Lines; files, folders, globs).")
_ingest_command("feedback", "Load survey answers (nps, csat, ces), reviews and tickets.")
_ingest_command(
    "customers", "Load (upsert) customer records; new columns become customer attributes."
)


@app.command("create")
def create(
    path: Annotated[Path, typer.Argument(help="Folder of the new workspace.")],
    spec: Annotated[
        Path | None, typer.Option("--spec", help="Copy this journey.yaml instead of the starter.")
    ] = None,
) -> None:
    """Create a new workspace folder (journey.yaml, journeymap.toml, empty warehouse)."""
    try:
        ws = Workspace.create(path, spec=spec)
    except (WorkspaceError, SettingsError) as exc:
        raise error_exit(str(exc)) from None
    ws.close()
    stdout_console().print(f"created workspace {ws.path}", highlight=False)


@app.command("refresh")
def refresh(workspace: WorkspaceOpt = Path(".")) -> None:
    """Re-derive identities, touchpoints, personas, sessions and feedback attachment."""
    with open_workspace(workspace) as ws:
        _refresh(ws)


@app.command("quarantine")
def show_quarantine(
    workspace: WorkspaceOpt = Path("."),
    limit: Annotated[int, typer.Option("--limit", "-n", help="Rows to show.")] = 20,
) -> None:
    """Show quarantined rows (newest batch first) with file, row, field and reason."""
    from journeymap.sources.quarantine import quarantined

    with open_workspace(workspace) as ws:
        rows = quarantined(ws, limit=limit)
        total = int(ws.table("quarantine").count().execute())
    shown = rows[["batch_id", "table_name", "file", "row_number", "field", "reason", "raw"]]
    shown.columns = ["batch", "table", "file", "row", "field", "reason", "raw"]
    print_frame(shown, OutputFormat.table, f"quarantine ({len(rows)} of {total} rows)")
