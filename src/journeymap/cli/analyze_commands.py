"""Commands: ``journeymap analyze funnel|transitions|variants|flows|metrics|conformance``.

Thin wrappers: parse options, build an :class:`journeymap.engine.Analysis` (from a
workspace, or from a plain events file with ``--events``), call one method, print the
DataFrame as a table, CSV or JSON. Progress and errors go to stderr so CSV/JSON on stdout
stay clean.
"""

from __future__ import annotations

import json
import math
import sys
from enum import StrEnum
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from journeymap.cli.app import app

analyze_app = typer.Typer(
    help="Journey analytics: funnels, paths, flows, metrics, conformance.", no_args_is_help=True
)
app.add_typer(analyze_app, name="analyze")

err = Console(stderr=True)


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


class Level(StrEnum):
    touchpoint = "touchpoint"
    stage = "stage"
    event = "event"


WorkspaceOpt = typer.Option(Path("."), "--workspace", "-w", help="Workspace folder.")
EventsOpt = typer.Option(None, "--events", help="Analyse a plain events file (no workspace).")
StartOpt = typer.Option(None, "--start", help="From this date/time (inclusive, UTC).")
EndOpt = typer.Option(None, "--end", help="Until this date/time (exclusive, UTC).")
PersonaOpt = typer.Option(None, "--persona", help="Only these personas (repeatable).")
ChannelOpt = typer.Option(None, "--channel", help="Only events of these channels (repeatable).")
WhereOpt = typer.Option(None, "--where", help="Customer attribute condition k=v (repeatable).")
LevelOpt = typer.Option(Level.touchpoint, "--level", help="Step names: touchpoint, stage or event.")
SessionsOpt = typer.Option(False, "--sessions", help="One journey per session.")
FormatOpt = typer.Option(Format.table, "--format", "-f", help="table, csv or json.")


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)


def _where(items: list[str] | None) -> dict:
    out = {}
    for item in items or []:
        if "=" not in item:
            _fail(f"--where {item!r}: expected column=value")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def _analysis(workspace, events, start, end, persona, channel, where, level, sessions):
    filters = {
        "start": start,
        "end": end,
        "persona": persona or None,
        "channel": channel or None,
        "where": _where(where),
        "level": level.value,
        "sessions": sessions,
    }
    try:
        with err.status("Preparing journeys..."):
            if events is not None:
                from journeymap.engine import analyze_events

                return analyze_events(events).filtered(**filters)
            import journeymap

            ws = journeymap.open(workspace)
            from journeymap.engine import Analysis

            return Analysis.from_workspace(ws, **filters)
    except (ValueError, FileNotFoundError) as exc:
        _fail(str(exc))


def _cell(value) -> str:
    if isinstance(value, tuple | list):
        return " > ".join(map(str, value))
    if isinstance(value, dict):
        return ", ".join(
            f"{k} {v:.0%}" if isinstance(v, float) else f"{k} {v}" for k, v in value.items()
        )  # noqa: E501
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if value is None or value is pd.NA:
        return ""
    return str(value)


def _json_ready(value):
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def show(frame: pd.DataFrame, fmt: Format, title: str | None = None) -> None:
    """Print ``frame`` as a Rich table, CSV or JSON records."""
    if fmt is Format.json:
        records = [{k: _json_ready(v) for k, v in row.items()} for row in frame.to_dict("records")]
        sys.stdout.write(json.dumps(records, ensure_ascii=False, default=str) + "\n")
    elif fmt is Format.csv:
        frame.map(_cell).to_csv(sys.stdout, index=False)
    else:
        table = Table(title=title, show_lines=False)
        for col in frame.columns:
            numeric = pd.api.types.is_numeric_dtype(frame[col])
            table.add_column(str(col), justify="right" if numeric else "left")
        for row in frame.itertuples(index=False):
            table.add_row(*(_cell(v) for v in row))
        console = Console()
        if not console.is_terminal:
            console = Console(width=160)
        console.print(table)


def _run(fn):
    try:
        with err.status("Computing..."):
            return fn()
    except ValueError as exc:
        _fail(str(exc))


@analyze_app.command("funnel")
def funnel_cmd(
    steps: list[str] = typer.Argument(..., help="Funnel steps, in order."),
    window: str = typer.Option("14d", help="Conversion window from step 1 ('none': no limit)."),
    order: str = typer.Option("ordered", help="ordered, strict or unordered."),
    exclude: list[str] = typer.Option(None, "--exclude", help="Exclusion step[:from:to]."),
    reference: str = typer.Option("total", help="total or previous."),
    breakdown: str = typer.Option(None, help="Event or customer column to break down by."),
    attribution: str = typer.Option(
        "first_touch", help="first_touch, last_touch, all_events, step:N."
    ),  # noqa: E501
    open_: bool = typer.Option(False, "--open", help="Open funnel: enter at any step."),
    distribution: bool = typer.Option(False, help="Time-to-convert per customer instead."),
    workspace: Path = WorkspaceOpt,
    events: Path = EventsOpt,
    start: str = StartOpt,
    end: str = EndOpt,
    persona: list[str] = PersonaOpt,
    channel: list[str] = ChannelOpt,
    where: list[str] = WhereOpt,
    level: Level = LevelOpt,
    sessions: bool = SessionsOpt,
    fmt: Format = FormatOpt,
) -> None:
    """Conversion through ordered steps within a window."""
    a = _analysis(workspace, events, start, end, persona, channel, where, level, sessions)
    exclusions = []
    for item in exclude or []:
        parts = item.split(":")
        spec = {"step": parts[0]}
        if len(parts) == 3:
            spec.update({"from": int(parts[1]), "to": int(parts[2])})
        elif len(parts) != 1:
            _fail(f"--exclude {item!r}: expected step or step:from:to")
        exclusions.append(spec)
    frame = _run(
        lambda: a.funnel(
            steps,
            window=None if window.lower() == "none" else window,
            order=order,
            exclusions=exclusions,
            reference=reference,
            breakdown=breakdown,
            attribution=attribution,
            open=open_,
            distribution=distribution,
        )
    )
    show(frame, fmt, "Funnel")


@analyze_app.command("transitions")
def transitions_cmd(
    markers: bool = typer.Option(False, help="Add (start) and (end) markers."),
    workspace: Path = WorkspaceOpt,
    events: Path = EventsOpt,
    start: str = StartOpt,
    end: str = EndOpt,
    persona: list[str] = PersonaOpt,
    channel: list[str] = ChannelOpt,
    where: list[str] = WhereOpt,
    level: Level = LevelOpt,
    sessions: bool = SessionsOpt,
    fmt: Format = FormatOpt,
) -> None:
    """Directly-follows pairs with counts and times between."""
    a = _analysis(workspace, events, start, end, persona, channel, where, level, sessions)
    show(_run(lambda: a.transitions(markers=markers)), fmt, "Transitions")


@analyze_app.command("variants")
def variants_cmd(
    top: int = typer.Option(20, help="Show the most common N paths (0: all)."),
    collapse_repeats: bool = typer.Option(False, help="a a b counts as a b."),
    workspace: Path = WorkspaceOpt,
    events: Path = EventsOpt,
    start: str = StartOpt,
    end: str = EndOpt,
    persona: list[str] = PersonaOpt,
    channel: list[str] = ChannelOpt,
    where: list[str] = WhereOpt,
    level: Level = LevelOpt,
    sessions: bool = SessionsOpt,
    fmt: Format = FormatOpt,
) -> None:
    """Whole-journey paths and how many customers follow each."""
    a = _analysis(workspace, events, start, end, persona, channel, where, level, sessions)
    show(
        _run(lambda: a.variants(top=top or None, collapse_repeats=collapse_repeats)),
        fmt,
        "Variants",
    )  # noqa: E501


@analyze_app.command("flows")
def flows_cmd(
    from_: str = typer.Option(None, "--from", help="Paths out of this step (its last visit)."),
    to: str = typer.Option(None, "--to", help="Paths into this step (its first visit)."),
    steps: int = typer.Option(5, help="Path length in steps."),
    edge_limit: int = typer.Option(None, help="Keep the busiest N edges."),
    clean: list[str] = typer.Option(
        None, "--clean", help="Path cleaning REGEX=ALIAS (repeatable)."
    ),  # noqa: E501
    workspace: Path = WorkspaceOpt,
    events: Path = EventsOpt,
    start: str = StartOpt,
    end: str = EndOpt,
    persona: list[str] = PersonaOpt,
    channel: list[str] = ChannelOpt,
    where: list[str] = WhereOpt,
    level: Level = LevelOpt,
    sessions: bool = SessionsOpt,
    fmt: Format = FormatOpt,
) -> None:
    """Sankey data of the paths after a start point or before an end point."""
    a = _analysis(workspace, events, start, end, persona, channel, where, level, sessions)
    rules = []
    for item in clean or []:
        if "=" not in item:
            _fail(f"--clean {item!r}: expected REGEX=ALIAS")
        regex, alias = item.rsplit("=", 1)
        rules.append({"regex": regex, "alias": alias})
    frame = _run(
        lambda: a.flows(
            start=from_, end=to, steps=steps, edge_limit=edge_limit, cleaning=rules or None
        )
    )
    show(frame, fmt, "Flows")


@analyze_app.command("metrics")
def metrics_cmd(
    by: str = typer.Option("both", help="touchpoint, stage or both."),
    workspace: Path = WorkspaceOpt,
    events: Path = EventsOpt,
    start: str = StartOpt,
    end: str = EndOpt,
    persona: list[str] = PersonaOpt,
    channel: list[str] = ChannelOpt,
    where: list[str] = WhereOpt,
    sessions: bool = SessionsOpt,
    fmt: Format = FormatOpt,
) -> None:
    """Reach, conversion, exits, loops and timing per touchpoint and per stage."""
    if by not in ("touchpoint", "stage", "both"):
        _fail(f"--by: expected touchpoint, stage or both, got {by!r}")
    a = _analysis(
        workspace, events, start, end, persona, channel, where, Level.touchpoint, sessions
    )
    tables = {}
    if by in ("touchpoint", "both"):
        tables["touchpoints"] = _run(a.touchpoint_metrics)
    if by in ("stage", "both") and (a.spec is not None or events is None):
        tables["stages"] = _run(a.stage_metrics)
    if fmt is Format.json and len(tables) > 1:
        out = {
            k: [{c: _json_ready(v) for c, v in r.items()} for r in t.to_dict("records")]
            for k, t in tables.items()
        }
        sys.stdout.write(json.dumps(out, ensure_ascii=False, default=str) + "\n")
        return
    for i, (name, frame) in enumerate(tables.items()):
        if i and fmt is Format.csv:
            sys.stdout.write("\n")
        show(_compact_metrics(frame) if fmt is Format.table else frame, fmt, name.capitalize())


def _duration(seconds: float) -> str:
    if seconds is None or math.isnan(seconds):
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def _compact_metrics(frame: pd.DataFrame) -> pd.DataFrame:
    """The metrics table for a terminal: key columns, percentages, readable durations."""
    out = pd.DataFrame({frame.columns[0]: frame.iloc[:, 0]})
    if "stage" in frame.columns and frame.columns[0] != "stage":
        out["stage"] = frame["stage"]
    out["customers"] = frame["customers"]
    for col, label in (
        ("share", "reach"),
        ("conversion", "conversion"),
        ("exit_rate", "exit"),
        ("repeat_rate", "loops"),
    ):
        out[label] = [("" if math.isnan(v) else f"{v:.0%}") for v in frame[col]]
    out["to next stage"] = [_duration(v) for v in frame["median_time_to_next_stage_s"]]
    out["first"] = frame["first_touch"]
    out["last"] = frame["last_touch"]
    return out


@analyze_app.command("conformance")
def conformance_cmd(
    by_persona: bool = typer.Option(False, help="One row per persona."),
    workspace: Path = WorkspaceOpt,
    start: str = StartOpt,
    end: str = EndOpt,
    persona: list[str] = PersonaOpt,
    channel: list[str] = ChannelOpt,
    where: list[str] = WhereOpt,
    sessions: bool = SessionsOpt,
    fmt: Format = FormatOpt,
) -> None:
    """How observed journeys follow the designed stage order."""
    a = _analysis(workspace, None, start, end, persona, channel, where, Level.stage, sessions)
    show(_run(lambda: a.conformance(by_persona=by_persona)), fmt, "Conformance")
