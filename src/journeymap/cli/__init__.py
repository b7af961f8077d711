"""Command line: thin Typer wrappers over the library; no logic lives here.

Each command module registers its commands on :data:`journeymap.cli.app.app` when
imported. Keeping one module per area lets each grow without touching the others.
"""

from __future__ import annotations

from journeymap.cli import (  # noqa: F401  (imported for their command registrations)
    analyze_commands,
    demo_commands,
    ingest_commands,
    insights_commands,
    quality_commands,
    report_commands,
    serve_commands,
    spec_commands,
    voice_commands,
)
from journeymap.cli.app import app


def main() -> None:
    """Console-script entry point (tunes the allocator first: :mod:`journeymap.runtime`)."""
    from journeymap.runtime import keep_freed_memory

    keep_freed_memory()
    app()
