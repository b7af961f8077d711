"""Commands: create, ingest events|feedback|customers, refresh, quarantine.

Thin wrappers: each parses options, calls the library and prints its report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from journeymap.cli.app import app
from journeymap.sources.errors import IngestError
from journeymap.sources.ingest import IngestReport
from journeymap.sources.mapping_args import parse_mapping
from journeymap.workspace import SettingsError, Workspace, WorkspaceError

ingest_app = typer.Typer(help="Load events, feedback or customer records into a workspace.")
app.add_typer(ingest_app, name="ingest")

WorkspaceOpt = Annotated[
    Path, typer.Option("--workspace", "-w", help="Workspace folder.", show_default=True)
]
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


def _console() -> Console:
    """Made per command so the terminal width (COLUMNS) is read when the command runs."""
    return Console()


def _fail(message: str) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=1)


def _open(path: Path) -> Workspace:
    try:
        return Workspace(path)
    except (WorkspaceError, SettingsError) as exc:
        raise _fail(str(exc)) from None


def _print_report(report: IngestReport) -> None:
    console = _console()
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
        raise _fail(str(exc)) from None
    with _open(workspace) as ws:
        try:
            data = files[0] if len(files) == 1 else files
            report = getattr(ws, f"ingest_{table}")(
                data, mapping=parsed, source=source, refresh=False
            )
        except IngestError as exc:
            raise _fail(f"{exc}\nnothing was loaded; the warehouse is unchanged") from None
        _print_report(report)
        if not no_refresh:
            _refresh(ws)


def _refresh(ws: Workspace) -> None:
    """Run the refresh pipeline; a broken journey.yaml is an error message, not a trace."""
    from journeymap.spec import SpecError

    try:
        report = ws.refresh()
    except SpecError as exc:
        raise _fail(
            f"the data is loaded, but refresh needs a valid journey.yaml:\n{exc}\n"
            "fix it, then run `journeymap refresh`"
        ) from None
    _console().print(str(report), highlight=False)


@ingest_app.command("events")
def ingest_events(
    files: FilesArg,
    map: MapOpt = None,  # noqa: A002  (the option is --map)
    source: SourceOpt = None,
    workspace: WorkspaceOpt = Path("."),
    no_refresh: NoRefreshOpt = False,
) -> None:
    """Load events (CSV, Parquet, JSON Lines; files, folders, globs)."""
    _ingest("events", files, map, source, workspace, no_refresh)


@ingest_app.command("feedback")
def ingest_feedback(
    files: FilesArg,
    map: MapOpt = None,  # noqa: A002
    source: SourceOpt = None,
    workspace: WorkspaceOpt = Path("."),
    no_refresh: NoRefreshOpt = False,
) -> None:
    """Load survey answers (nps, csat, ces), reviews and tickets."""
    _ingest("feedback", files, map, source, workspace, no_refresh)


@ingest_app.command("customers")
def ingest_customers(
    files: FilesArg,
    map: MapOpt = None,  # noqa: A002
    source: SourceOpt = None,
    workspace: WorkspaceOpt = Path("."),
    no_refresh: NoRefreshOpt = False,
) -> None:
    """Load (upsert) customer records; new columns become customer attributes."""
    _ingest("customers", files, map, source, workspace, no_refresh)


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
        raise _fail(str(exc)) from None
    ws.close()
    _console().print(f"created workspace {ws.path}", highlight=False)


@app.command("refresh")
def refresh(workspace: WorkspaceOpt = Path(".")) -> None:
    """Re-derive identities, touchpoints, personas, sessions and feedback attachment."""
    with _open(workspace) as ws:
        _refresh(ws)


@app.command("quarantine")
def show_quarantine(
    workspace: WorkspaceOpt = Path("."),
    limit: Annotated[int, typer.Option("--limit", "-n", help="Rows to show.")] = 20,
) -> None:
    """Show quarantined rows (newest batch first) with file, row, field and reason."""
    from journeymap.sources.quarantine import quarantined

    with _open(workspace) as ws:
        rows = quarantined(ws, limit=limit)
        total = int(ws.table("quarantine").count().execute())
    table = Table(title=f"quarantine ({len(rows)} of {total} rows)")
    for name in ("batch", "table", "file", "row", "field", "reason", "raw"):
        table.add_column(name, overflow="fold")
    for r in rows.itertuples():
        table.add_row(
            str(r.batch_id), r.table_name, r.file, str(r.row_number), r.field, r.reason, r.raw
        )
    _console().print(table)
