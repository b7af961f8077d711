"""Commands for journey.yaml: validate, schema, init (thin wrappers over journeymap.spec)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from journeymap.cli.app import app
from journeymap.spec import spec_json_schema, starter_spec_text, validate_file
from journeymap.spec.document import atomic_write_text


class OutputFormat(StrEnum):
    """How ``journeymap validate`` prints its findings."""

    text = "text"
    json = "json"


@app.command("validate")
def validate_command(
    file: Path = typer.Argument(..., help="The journey.yaml to check (or a folder holding one)."),
    output: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text or json."),
) -> None:
    """Check a journey.yaml and print every problem; exit 1 unless it is valid."""
    if file.is_dir():
        file = file / "journey.yaml"
    issues = validate_file(file)
    errors = [issue for issue in issues if issue.severity == "error"]
    if output is OutputFormat.json:
        payload = {
            "file": str(file),
            "valid": not errors,
            "issues": [issue.to_dict() for issue in issues],
        }
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        console = Console(highlight=False, soft_wrap=True)
        for issue in issues:
            colour = "red" if issue.severity == "error" else "yellow"
            console.print(f"[{colour}]{escape(issue.format())}[/{colour}]")
        if errors:
            noun = "problem" if len(errors) == 1 else "problems"
            console.print(f"[bold red]{file}: {len(errors)} {noun}[/bold red]")
        else:
            console.print(f"[green]{escape(str(file))} is valid[/green]")
    raise typer.Exit(1 if errors else 0)


@app.command("schema")
def schema_command(
    indent: int = typer.Option(2, help="Spaces of indentation in the JSON output."),
) -> None:
    """Print the JSON Schema of journey.yaml (for editors and tools)."""
    typer.echo(json.dumps(spec_json_schema(), indent=indent, ensure_ascii=False))


@app.command("init")
def init_command(
    path: Path = typer.Argument(
        Path("journey.yaml"), help="File to write, or a folder to write journey.yaml into."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented starter journey.yaml with the five classic stages."""
    target = path / "journey.yaml" if path.is_dir() else path
    if target.exists() and not force:
        typer.echo(f"{target} already exists; use --force to overwrite it", err=True)
        raise typer.Exit(1)
    atomic_write_text(target, starter_spec_text())
    typer.echo(f"wrote {target}; check it with: journeymap validate {target}")
