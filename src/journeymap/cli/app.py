"""The one Typer application every command module registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="journeymap",
    help="Customer journey mapping from real data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
