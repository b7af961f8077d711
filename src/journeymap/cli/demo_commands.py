"""``journeymap demo``: a thin wrapper over :func:`journeymap.demo.generate`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from journeymap.cli.app import app


@app.command("demo")
def demo_command(
    customers: int = typer.Option(5000, "--customers", min=1, help="Number of customers."),
    seed: int = typer.Option(7, "--seed", min=0, help="Random seed; same seed, same files."),
    out: Path = typer.Option(Path("demo-workspace"), "--out", help="Folder to write."),
    force: bool = typer.Option(False, "--force", help="Replace earlier demo output in --out."),
    no_ingest: bool = typer.Option(
        False, "--no-ingest", help="Only write the files; do not build the workspace."
    ),
) -> None:
    """Generate a realistic demo workspace (online retailer) with planted ground truth."""
    from journeymap.demo import DemoError, generate

    console = Console(highlight=False, soft_wrap=True)
    try:
        result = generate(out, customers=customers, seed=seed, ingest=not no_ingest, force=force)
    except DemoError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from None
    by_system = ", ".join(f"{s} {n:,}" for s, n in result.events_by_system.items() if n)
    console.print(f"[green]Demo written to {escape(str(result.path))}[/green]")
    console.print(
        f"  {result.customers:,} customers ({result.customers_with_record:,} with a CRM record), "
        f"{result.events:,} events ({by_system}), {result.feedback:,} survey answers"
    )
    console.print("  journey.yaml, data/, ground_truth.json (planted findings), truth/")
    if result.workspace is not None:
        for report in result.ingest_reports:
            console.print(f"  {escape(str(report))}")
        if result.refresh_report is not None:
            console.print(f"  {escape(str(result.refresh_report))}")
        console.print(f"  workspace ready: journeymap.open({str(result.path)!r})")
    console.print(f"  took {result.seconds:.1f} s")
