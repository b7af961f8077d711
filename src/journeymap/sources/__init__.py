"""journeymap.sources."""
