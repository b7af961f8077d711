"""journeymap.engine."""
