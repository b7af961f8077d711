"""journeymap.spec."""
