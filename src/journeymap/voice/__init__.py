"""journeymap.voice."""
