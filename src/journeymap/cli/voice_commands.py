"""``journeymap voice ...``: scores, emotions, themes and drivers of a workspace.

Thin wrappers over :mod:`journeymap.voice.api`, printed through
:func:`journeymap.cli.output.print_frame` (Rich table, CSV or JSON).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from journeymap.cli.app import app
from journeymap.cli.output import (
    FormatOpt,
    OutputFormat,
    WorkspaceOpt,
    open_workspace,
    print_frame,
)

voice_app = typer.Typer(help="Voice of the customer: scores, emotions, themes, drivers.")
app.add_typer(voice_app, name="voice")


def _analysis(workspace: Path) -> Any:
    return open_workspace(workspace).analysis()


@voice_app.command("scores")
def scores_cmd(
    workspace: WorkspaceOpt = Path("."),
    by: str = typer.Option("touchpoint", help="touchpoint, stage, persona or all."),
    kind: str | None = typer.Option(None, help="nps, csat or ces (default: all)."),
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """NPS, CSAT and CES with n and 95% confidence intervals."""
    from journeymap.voice import api

    df = api.scores(_analysis(workspace), by=None if by == "all" else by, kind=kind)
    print_frame(df, fmt, "Scores")


@voice_app.command("emotions")
def emotions_cmd(
    workspace: WorkspaceOpt = Path("."),
    by: str = typer.Option("stage", help="stage or touchpoint."),
    persona: str | None = typer.Option(None, help="Only this persona's customers."),
    by_persona: bool = typer.Option(False, "--by-persona", help="One curve per persona."),
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """The emotion curve (-2..+2) in journey order, with n and 95% CI."""
    from journeymap.voice import api

    df = api.emotions(_analysis(workspace), by=by, persona=persona, by_persona=by_persona)
    print_frame(df, fmt, "Emotion curve")


@voice_app.command("themes")
def themes_cmd(
    workspace: WorkspaceOpt = Path("."),
    by: str = typer.Option("touchpoint", help="touchpoint or stage."),
    top: int = typer.Option(10, min=1, help="Themes per group."),
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Phrases that set negative comments apart, with verbatim quotes."""
    from journeymap.voice import api

    print_frame(api.themes(_analysis(workspace), by=by, top=top), fmt, "Themes")


@voice_app.command("drivers")
def drivers_cmd(workspace: WorkspaceOpt = Path("."), fmt: FormatOpt = OutputFormat.table) -> None:
    """Touchpoints ranked by how their experience goes with NPS and conversion."""
    from journeymap.voice import api

    print_frame(api.drivers(_analysis(workspace)), fmt, "Drivers")
