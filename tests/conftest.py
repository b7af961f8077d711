"""Shared test configuration.

Sets RETENTIONEERING_NO_TRACK before anything imports retentioneering: the oracle
library sends telemetry otherwise, and tests must never touch the network.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("RETENTIONEERING_NO_TRACK", "1")


@pytest.fixture(scope="session")
def browser():
    """One system Chromium through Playwright for the whole session (never downloaded).

    Shared by the render and web tests: Playwright's sync API runs one event loop per
    thread, so a second `sync_playwright()` while the first is open fails.
    """
    from journeymap.render.browser import chromium

    with chromium() as b:
        yield b
