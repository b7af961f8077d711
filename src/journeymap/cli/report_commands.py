"""Commands: ``journeymap report`` and ``journeymap snapshot`` (thin wrappers over
:mod:`journeymap.snapshot` and :mod:`journeymap.render`)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from journeymap.cli.app import app
from journeymap.cli.output import WorkspaceOpt, open_workspace
from journeymap.render.report import FORMATS, write_report
from journeymap.snapshot.model import JourneySnapshot

console = Console(stderr=True)


def _load_snapshot(path: Path) -> JourneySnapshot:
    """A snapshot JSON file, with the file and field named on error."""
    try:
        return JourneySnapshot.from_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise typer.BadParameter(f"{path}: cannot read ({exc.strerror})") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise typer.BadParameter(
            f"{path}: not a journey snapshot: field {where}: {first['msg']} "
            f"({exc.error_count()} problem(s))"
        ) from exc


def _wanted(personas: list[str] | None, every_persona: bool, spec: object) -> list[str | None]:
    """Persona ids to draw (None = all customers): as given ('all' = all customers), else
    all customers, followed by every persona of the spec when ``every_persona``."""
    if personas:
        return [None if p == "all" else p for p in personas]
    ids = [p.id for p in getattr(spec, "personas", [])] if every_persona else []
    return [None, *ids]


def _build(
    workspace: Path, personas: list[str] | None, every_persona: bool, filters: dict
) -> list[JourneySnapshot]:
    """Open the workspace and build one snapshot per wanted persona, with progress."""
    from journeymap.snapshot import build_snapshot

    ws = open_workspace(workspace)
    wanted = _wanted(personas, every_persona, ws.spec)
    snaps = []
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("snapshot", total=len(wanted))
        for pid in wanted:
            progress.update(task, description=f"snapshot: {pid or 'all customers'}")
            snaps.append(build_snapshot(ws, persona=pid, **filters))
            progress.advance(task)
    return snaps


@app.command("report")
def report(
    out: Path = typer.Option(..., "--out", "-o", help="File to write."),
    fmt: str = typer.Option(
        None, "--format", "-f", help="html | svg | png | pdf (default: from --out's extension)."
    ),
    workspace: WorkspaceOpt = Path("."),
    persona: list[str] = typer.Option(
        None,
        "--persona",
        "-p",
        help="Persona id (repeatable). HTML: without it, all customers plus every persona "
        "with a switcher; svg/png/pdf draw the first one. 'all' = all customers.",
    ),
    snapshot: list[Path] = typer.Option(
        None, "--snapshot", help="Draw saved snapshot JSON file(s) instead of a workspace."
    ),
    start: str = typer.Option(None, help="Only events from this time (ISO 8601)."),
    end: str = typer.Option(None, help="Only events before this time (ISO 8601)."),
    channel: str = typer.Option(None, help="Only events of this channel."),
) -> None:
    """Draw the journey map from data as HTML, SVG, PNG or PDF."""
    fmt = (fmt or out.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise typer.BadParameter(
            f"{fmt!r}: expected one of {', '.join(FORMATS)}", param_hint="--format"
        )
    if snapshot:
        snaps = [_load_snapshot(p) for p in snapshot]
    else:
        filters = {"start": start, "end": end, "channel": channel}
        snaps = _build(workspace, persona, fmt == "html", filters)
    with console.status(f"rendering {fmt}"):
        path = write_report(snaps, out, fmt)
    console.print(f"wrote {path} ({fmt}, {path.stat().st_size:,} bytes)")


@app.command("snapshot")
def snapshot_command(
    out: Path = typer.Option(..., "--out", "-o", help="JSON file to write."),
    workspace: WorkspaceOpt = Path("."),
    persona: str = typer.Option(None, "--persona", "-p", help="Persona id."),
    start: str = typer.Option(None, help="Only events from this time (ISO 8601)."),
    end: str = typer.Option(None, help="Only events before this time (ISO 8601)."),
    channel: str = typer.Option(None, help="Only events of this channel."),
) -> None:
    """Write the data-backed journey map as JSON (what every renderer reads)."""
    snaps = _build(
        workspace,
        [persona] if persona else None,
        False,
        {"start": start, "end": end, "channel": channel},
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(snaps[0].to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    console.print(f"wrote {out}")
