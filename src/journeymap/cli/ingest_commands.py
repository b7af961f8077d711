"""Commands: ingest_commands (placeholder until its owner fills it)."""
