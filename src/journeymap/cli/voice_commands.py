"""Commands: voice_commands (placeholder until its owner fills it)."""
