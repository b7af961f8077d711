"""Commands: analyze_commands (placeholder until its owner fills it)."""
