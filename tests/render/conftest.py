"""Render test fixtures: one headless Chromium for the whole session (it takes ~1 s)."""

from __future__ import annotations

import pytest

from journeymap.render.browser import chromium


@pytest.fixture(scope="session")
def browser():
    """The system Chromium through Playwright (never downloaded)."""
    with chromium() as b:
        yield b
