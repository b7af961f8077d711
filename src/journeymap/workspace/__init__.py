"""journeymap.workspace."""
