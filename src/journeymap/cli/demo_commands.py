"""Commands: demo_commands (placeholder until its owner fills it)."""
