"""``journeymap voice ...``: scores, emotions, themes and drivers of a workspace.

Thin wrappers over :mod:`journeymap.voice.api`; the only work here is printing a
DataFrame as a Rich table, CSV or JSON.
"""

from __future__ import annotations

import enum
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from journeymap.cli.app import app

voice_app = typer.Typer(help="Voice of the customer: scores, emotions, themes, drivers.")
app.add_typer(voice_app, name="voice")


class OutputFormat(enum.StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


WORKSPACE = typer.Option(Path("."), "--workspace", "-w", help="Workspace folder.")
FORMAT = typer.Option(OutputFormat.table, "--format", "-f", help="table, csv or json.")


def _analysis(workspace: Path) -> Any:
    import journeymap

    return journeymap.open(workspace).analysis()


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return " | ".join(f"{q['feedback_id']}: {q['text']}" for q in value)
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.3f}"
    return "" if value is None else str(value)


def emit(df: pd.DataFrame, fmt: OutputFormat, title: str) -> None:
    """Print ``df`` in the chosen format to stdout."""
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(json.loads(df.to_json(orient="records")), ensure_ascii=False))
        return
    if fmt is OutputFormat.csv:
        typer.echo(df.map(_cell).to_csv(index=False), nl=False)
        return
    table = Table(title=title)
    for col in df.columns:
        table.add_column(str(col), overflow="fold")
    for row in df.itertuples(index=False):
        table.add_row(*[_cell(v) for v in row])
    Console().print(table)


@voice_app.command("scores")
def scores_cmd(
    workspace: Path = WORKSPACE,
    by: str = typer.Option("touchpoint", help="touchpoint, stage, persona or all."),
    kind: str | None = typer.Option(None, help="nps, csat or ces (default: all)."),
    fmt: OutputFormat = FORMAT,
) -> None:
    """NPS, CSAT and CES with n and 95% confidence intervals."""
    from journeymap.voice import api

    df = api.scores(_analysis(workspace), by=None if by == "all" else by, kind=kind)
    emit(df, fmt, "Scores")


@voice_app.command("emotions")
def emotions_cmd(
    workspace: Path = WORKSPACE,
    by: str = typer.Option("stage", help="stage or touchpoint."),
    persona: str | None = typer.Option(None, help="Only this persona's customers."),
    by_persona: bool = typer.Option(False, "--by-persona", help="One curve per persona."),
    fmt: OutputFormat = FORMAT,
) -> None:
    """The emotion curve (-2..+2) in journey order, with n and 95% CI."""
    from journeymap.voice import api

    df = api.emotions(_analysis(workspace), by=by, persona=persona, by_persona=by_persona)
    emit(df, fmt, "Emotion curve")


@voice_app.command("themes")
def themes_cmd(
    workspace: Path = WORKSPACE,
    by: str = typer.Option("touchpoint", help="touchpoint or stage."),
    top: int = typer.Option(10, min=1, help="Themes per group."),
    fmt: OutputFormat = FORMAT,
) -> None:
    """Phrases that set negative comments apart, with verbatim quotes."""
    from journeymap.voice import api

    emit(api.themes(_analysis(workspace), by=by, top=top), fmt, "Themes")


@voice_app.command("drivers")
def drivers_cmd(workspace: Path = WORKSPACE, fmt: OutputFormat = FORMAT) -> None:
    """Touchpoints ranked by how their experience goes with NPS and conversion."""
    from journeymap.voice import api

    emit(api.drivers(_analysis(workspace)), fmt, "Drivers")
