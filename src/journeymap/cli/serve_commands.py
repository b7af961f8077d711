"""`journeymap serve` and `journeymap user add`: thin wrappers over journeymap.web."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from journeymap.cli.app import app

console = Console()


@app.command("serve")
def serve_command(
    workspace: Path = typer.Argument(Path("."), help="The workspace folder."),
    host: str = typer.Option("127.0.0.1", help="Address to bind (sign-in required off loopback)."),
    port: int = typer.Option(8765, help="Port to listen on."),
    require_auth: bool = typer.Option(
        False, "--require-auth", help="Require sign-in even on loopback."
    ),
    db_url: str = typer.Option(
        None, help="App database URL (default sqlite under .journeymap/app.db)."
    ),
) -> None:
    """Serve the interactive journey map, editor and REST API."""
    from journeymap.web import serve

    console.print(f"journeymap: serving {workspace.resolve()} at http://{host}:{port}/")
    serve(workspace, host=host, port=port, require_auth=require_auth or None, db_url=db_url)


user_app = typer.Typer(help="Users of the web app.", no_args_is_help=True)
app.add_typer(user_app, name="user")


@user_app.command("add")
def user_add(
    name: str = typer.Argument(..., help="User name."),
    role: str = typer.Option("viewer", help="viewer, editor or admin."),
    workspace: Path = typer.Option(Path("."), "--workspace", "-w", help="The workspace folder."),
    password: str = typer.Option(
        None, help="Password (prompted when omitted and --token is not given)."
    ),
    token: bool = typer.Option(False, "--token", help="Create an API token instead of a password."),
    db_url: str = typer.Option(None, help="App database URL (default: the workspace's)."),
) -> None:
    """Add a user; prints an API token with --token."""
    from journeymap.web.auth import add_user
    from journeymap.web.state import AppState, default_url
    from journeymap.workspace.settings import SETTINGS_FILE

    if not (workspace / SETTINGS_FILE).is_file():
        raise typer.BadParameter(f"{workspace}: not a journeymap workspace (no {SETTINGS_FILE})")
    if not token and password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    state = AppState(db_url or default_url(workspace.resolve()))
    try:
        issued = add_user(state, name, role, None if token else password)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    console.print(f"user {name!r} added with role {role}")
    if issued:
        console.print(f"API token (shown once): {issued}")
