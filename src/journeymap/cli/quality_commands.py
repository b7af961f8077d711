"""Commands: quality_commands (placeholder until its owner fills it)."""
