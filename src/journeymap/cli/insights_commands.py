"""``journeymap insights ...``: pain points, opportunities, personas, impact of a change.

Thin wrappers over :mod:`journeymap.insights.api`, printed through
:func:`journeymap.cli.output.print_frame` (Rich table, CSV or JSON).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from journeymap.cli.app import app
from journeymap.cli.output import (
    FormatOpt,
    OutputFormat,
    WorkspaceOpt,
    error_exit,
    open_workspace,
    print_frame,
    stdout_console,
)

insights_app = typer.Typer(
    help="Insights: pain points, opportunities, personas, impact of a change."
)
app.add_typer(insights_app, name="insights")

_PAIN_COLUMNS = ["rank", "type", "title", "persona", "customers_affected", "observed", "norm",
                 "impact", "q_value", "confidence", "severity"]  # fmt: skip


K_HELP = "Clusters: a number, 'auto' (silhouette) or empty (= number of authored personas)."


def _analysis(workspace: Path) -> Any:
    return open_workspace(workspace).analysis()


def _filters(text: str, option: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(
            f'expected a JSON object of filters such as \'{{"persona": "mobile_native"}}\' '
            f"({exc.msg} at column {exc.colno})",
            param_hint=option,
        ) from None
    if not isinstance(value, dict):
        raise typer.BadParameter("expected a JSON object of filters", param_hint=option)
    return value


@insights_app.command("pains")
def pains_cmd(
    workspace: WorkspaceOpt = Path("."),
    top: int = typer.Option(20, min=1, help="How many pain points to show."),
    all_columns: bool = typer.Option(False, "--all-columns", help="Every column (tables)."),
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Pain points found in the data, ranked by impact, with their test and evidence."""
    from journeymap.insights import api

    df = api.pain_points(_analysis(workspace), top=top)
    if fmt is OutputFormat.table and not all_columns:
        df = df[_PAIN_COLUMNS]
    print_frame(df, fmt, "Pain points (ranked by impact)")


@insights_app.command("opportunities")
def opportunities_cmd(
    workspace: WorkspaceOpt = Path("."),
    top: int = typer.Option(10, min=1, help="Propose from this many top pain points."),
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Authored and proposed opportunities: data impact, effort, quadrant, roadmap phase."""
    from journeymap.insights import api

    df = api.opportunities(_analysis(workspace), top=top)
    if fmt is OutputFormat.table:
        df = df[["phase", "quadrant", "origin", "title", "touchpoint", "data_impact",
                 "data_impact_score", "authored_impact", "effort", "effort_source"]]  # fmt: skip
    print_frame(df, fmt, "Opportunities (by roadmap phase)")


@insights_app.command("personas")
def personas_cmd(
    workspace: WorkspaceOpt = Path("."),
    k: str = typer.Option("", help=K_HELP),
    seed: int = typer.Option(0, help="Random seed of k-means."),
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Clusters of customers by behaviour, described in words, against the authored ones."""
    from journeymap.insights import api

    if k not in ("", "auto") and not k.isdigit():
        raise typer.BadParameter(f"expected a whole number, 'auto' or empty, got {k!r}", "--k")
    chosen = None if k == "" else ("auto" if k == "auto" else int(k))
    found = api.discover_personas(_analysis(workspace), k=chosen, seed=seed)
    print_frame(found.clusters, fmt, f"Behavioural clusters (k={found.k})")
    if fmt is OutputFormat.table:
        ari = found.adjusted_rand_index
        stdout_console().print(
            "Adjusted Rand index against the authored personas: "
            + ("n/a (no persona assigned)" if ari is None else f"{ari:.3f}")
        )
        print_frame(found.crosstab.reset_index(), fmt, "Clusters x authored personas")


@insights_app.command("compare")
def compare_cmd(
    metric: str = typer.Argument(..., help="conversion, time_to_convert, csat, nps or emotion."),
    workspace: WorkspaceOpt = Path("."),
    before: str | None = typer.Option(None, help="Compare before / from this date (UTC)."),
    segment_a: str | None = typer.Option(None, "--a", help="Filters of group A, JSON."),
    segment_b: str | None = typer.Option(None, "--b", help="Filters of group B, JSON."),
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """One metric in two periods or two segments: difference, 95% CI, effect, p-value."""
    from journeymap.insights import api

    segments = None
    if segment_a is not None or segment_b is not None:
        if segment_a is None or segment_b is None:
            raise typer.BadParameter("give both --a and --b", param_hint="--a/--b")
        segments = (_filters(segment_a, "--a"), _filters(segment_b, "--b"))
    try:
        df = api.compare(_analysis(workspace), metric, before=before, segments=segments)
    except ValueError as exc:
        raise error_exit(str(exc)) from None
    print_frame(df, fmt, f"Compare {metric}")
