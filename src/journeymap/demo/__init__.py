"""journeymap.demo."""
