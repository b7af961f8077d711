"""Commands: spec_commands (placeholder until its owner fills it)."""
