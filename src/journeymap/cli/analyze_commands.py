"""Commands: ``journeymap analyze funnel|transitions|variants|flows|metrics|conformance``.

Thin wrappers: parse options, build an :class:`journeymap.engine.Analysis` (from a
workspace, or from a plain events file with ``--events``), call one method, print the
DataFrame through :mod:`journeymap.cli.output`. The filter options every command shares are
declared once, in :func:`journey_filters`. Progress and errors go to stderr so CSV/JSON on
stdout stay clean.
"""

from __future__ import annotations

import functools
import inspect
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from journeymap.cli.app import app
from journeymap.cli.output import (
    FormatOpt,
    OutputFormat,
    WorkspaceOpt,
    error_exit,
    print_frame,
    print_json,
    records,
    stderr,
)

analyze_app = typer.Typer(
    help="Journey analytics: funnels, paths, flows, metrics, conformance.", no_args_is_help=True
)
app.add_typer(analyze_app, name="analyze")


class Level(StrEnum):
    touchpoint = "touchpoint"
    stage = "stage"
    event = "event"


EventsOpt = Annotated[
    Path | None, typer.Option("--events", help="Analyse a plain events file (no workspace).")
]
StartOpt = Annotated[
    str | None, typer.Option("--start", help="From this date/time (inclusive, UTC).")
]
EndOpt = Annotated[str | None, typer.Option("--end", help="Until this date/time (exclusive, UTC).")]
PersonaOpt = Annotated[
    list[str] | None, typer.Option("--persona", help="Only these personas (repeatable).")
]
ChannelOpt = Annotated[
    list[str] | None, typer.Option("--channel", help="Only events of these channels (repeatable).")
]
WhereOpt = Annotated[
    list[str] | None, typer.Option("--where", help="Customer attribute condition k=v (repeatable).")
]
LevelOpt = Annotated[Level, typer.Option("--level", help="Step names: touchpoint, stage or event.")]
SessionsOpt = Annotated[bool, typer.Option("--sessions", help="One journey per session.")]


@dataclass(frozen=True)
class JourneyQuery:
    """The options every analyze command shares: where the journeys come from, which of them
    count, and how to print the answer."""

    workspace: Path
    events: Path | None
    start: str | None
    end: str | None
    persona: list[str] | None
    channel: list[str] | None
    where: list[str] | None
    level: Level
    sessions: bool
    fmt: OutputFormat

    def analysis(self) -> Any:
        """The :class:`~journeymap.engine.Analysis` these options ask for (exit 2 on error)."""
        filters = {
            "start": self.start,
            "end": self.end,
            "persona": self.persona or None,
            "channel": self.channel or None,
            "where": _where(self.where),
            "level": self.level.value,
            "sessions": self.sessions,
        }
        try:
            with stderr.status("Preparing journeys..."):
                if self.events is not None:
                    from journeymap.engine import analyze_events

                    return analyze_events(self.events).filtered(**filters)
                import journeymap
                from journeymap.engine import Analysis

                return Analysis.from_workspace(journeymap.open(self.workspace), **filters)
        except (ValueError, FileNotFoundError) as exc:
            raise error_exit(str(exc), code=2) from None


def journey_filters(
    *, events: bool = True, fixed_level: Level | None = None
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Add the shared options to a command taking ``query: JourneyQuery``: workspace,
    ``--events`` (unless ``events=False``), the date, persona, channel and ``--where``
    filters, ``--level`` (unless the command answers at a ``fixed_level``), ``--sessions``
    and ``--format``. Declared once here so every command reads them the same way."""
    shared: list[tuple[str, Any, Any]] = [
        ("workspace", WorkspaceOpt, Path(".")),
        *([("events", EventsOpt, None)] if events else []),
        ("start", StartOpt, None),
        ("end", EndOpt, None),
        ("persona", PersonaOpt, None),
        ("channel", ChannelOpt, None),
        ("where", WhereOpt, None),
        *([("level", LevelOpt, Level.touchpoint)] if fixed_level is None else []),
        ("sessions", SessionsOpt, False),
        ("fmt", FormatOpt, OutputFormat.table),
    ]
    kind = inspect.Parameter.KEYWORD_ONLY

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        own = [
            p
            for p in inspect.signature(command, eval_str=True).parameters.values()
            if p.name != "query"
        ]
        added = [inspect.Parameter(n, kind, annotation=t, default=d) for n, t, d in shared]

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> None:
            values = {n: kwargs.pop(n) for n, _, _ in shared}
            values.setdefault("events", None)
            values.setdefault("level", fixed_level)
            command(query=JourneyQuery(**values), **kwargs)

        params = [p.replace(kind=kind) for p in own] + added
        wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        del wrapper.__wrapped__  # typer must read the new signature, not the command's
        return wrapper

    return decorate


def _where(items: list[str] | None) -> dict:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise error_exit(f"--where {item!r}: expected column=value", code=2)
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def _run(fn: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    try:
        with stderr.status("Computing..."):
            return fn()
    except ValueError as exc:
        raise error_exit(str(exc), code=2) from None


@analyze_app.command("funnel")
@journey_filters()
def funnel_cmd(
    query: JourneyQuery,
    steps: list[str] = typer.Argument(..., help="Funnel steps, in order."),
    window: str = typer.Option("14d", help="Conversion window from step 1 ('none': no limit)."),
    order: str = typer.Option("ordered", help="ordered, strict or unordered."),
    exclude: list[str] = typer.Option(None, "--exclude", help="Exclusion step[:from:to]."),
    reference: str = typer.Option("total", help="total or previous."),
    breakdown: str = typer.Option(None, help="Event or customer column to break down by."),
    attribution: str = typer.Option(
        "first_touch", help="first_touch, last_touch, all_events, step:N."
    ),
    open_: bool = typer.Option(False, "--open", help="Open funnel: enter at any step."),
    distribution: bool = typer.Option(False, help="Time-to-convert per customer instead."),
    directly: list[int] = typer.Option(
        None, "--directly", help="Step N must be the very next event after step N-1 (GA4)."
    ),
    within: list[str] = typer.Option(
        None, "--within", help="N=DURATION: step N within DURATION of step N-1 (GA4), e.g. 3=30m."
    ),
) -> None:
    """Conversion through ordered steps within a window."""
    a = query.analysis()
    limits = {}
    for item in within or []:
        number, _, duration = item.partition("=")
        if not number.strip().isdigit() or not duration.strip():
            raise error_exit(f"--within {item!r}: expected N=DURATION, e.g. 3=30m", code=2)
        limits[int(number)] = duration.strip()
    exclusions = []
    for item in exclude or []:
        parts = item.split(":")
        spec = {"step": parts[0]}
        if len(parts) == 3:
            spec.update({"from": int(parts[1]), "to": int(parts[2])})
        elif len(parts) != 1:
            raise error_exit(f"--exclude {item!r}: expected step or step:from:to", code=2)
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
            directly=directly or None,
            within=limits or None,
        )
    )
    print_frame(frame, query.fmt, "Funnel")


@analyze_app.command("transitions")
@journey_filters()
def transitions_cmd(
    query: JourneyQuery,
    markers: bool = typer.Option(False, help="Add (start) and (end) markers."),
) -> None:
    """Directly-follows pairs with counts and times between."""
    a = query.analysis()
    print_frame(_run(lambda: a.transitions(markers=markers)), query.fmt, "Transitions")


@analyze_app.command("variants")
@journey_filters()
def variants_cmd(
    query: JourneyQuery,
    top: int = typer.Option(20, help="Show the most common N paths (0: all)."),
    collapse_repeats: bool = typer.Option(False, help="a a b counts as a b."),
) -> None:
    """Whole-journey paths and how many customers follow each."""
    a = query.analysis()
    frame = _run(lambda: a.variants(top=top or None, collapse_repeats=collapse_repeats))
    print_frame(frame, query.fmt, "Variants")


@analyze_app.command("flows")
@journey_filters()
def flows_cmd(
    query: JourneyQuery,
    from_: str = typer.Option(None, "--from", help="Paths out of this step (its last visit)."),
    to: str = typer.Option(None, "--to", help="Paths into this step (its first visit)."),
    steps: int = typer.Option(5, help="Path length in steps."),
    edge_limit: int = typer.Option(None, help="Keep the busiest N edges."),
    clean: list[str] = typer.Option(
        None, "--clean", help="Path cleaning REGEX=ALIAS (repeatable)."
    ),
) -> None:
    """Sankey data of the paths after a start point or before an end point."""
    a = query.analysis()
    rules = []
    for item in clean or []:
        if "=" not in item:
            raise error_exit(f"--clean {item!r}: expected REGEX=ALIAS", code=2)
        regex, alias = item.rsplit("=", 1)
        rules.append({"regex": regex, "alias": alias})
    frame = _run(
        lambda: a.flows(
            start=from_, end=to, steps=steps, edge_limit=edge_limit, cleaning=rules or None
        )
    )
    print_frame(frame, query.fmt, "Flows")


@analyze_app.command("metrics")
@journey_filters(fixed_level=Level.touchpoint)
def metrics_cmd(
    query: JourneyQuery,
    by: str = typer.Option("both", help="touchpoint, stage or both."),
) -> None:
    """Reach, conversion, exits, loops and timing per touchpoint and per stage."""
    if by not in ("touchpoint", "stage", "both"):
        raise error_exit(f"--by: expected touchpoint, stage or both, got {by!r}", code=2)
    a = query.analysis()
    tables = {}
    if by in ("touchpoint", "both"):
        tables["touchpoints"] = _run(a.touchpoint_metrics)
    if by in ("stage", "both") and (a.spec is not None or query.events is None):
        tables["stages"] = _run(a.stage_metrics)
    fmt = query.fmt
    if fmt is OutputFormat.json and len(tables) > 1:
        print_json({name: records(frame) for name, frame in tables.items()})
        return
    for i, (name, frame) in enumerate(tables.items()):
        if i and fmt is OutputFormat.csv:
            sys.stdout.write("\n")
        shown = _compact_metrics(frame) if fmt is OutputFormat.table else frame
        print_frame(shown, fmt, name.capitalize())


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
@journey_filters(events=False, fixed_level=Level.stage)
def conformance_cmd(
    query: JourneyQuery,
    by_persona: bool = typer.Option(False, help="One row per persona."),
) -> None:
    """How observed journeys follow the designed stage order."""
    a = query.analysis()
    print_frame(_run(lambda: a.conformance(by_persona=by_persona)), query.fmt, "Conformance")
