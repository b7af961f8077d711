"""Fixtures for ingest tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import make_workspace


@pytest.fixture
def ws(tmp_path: Path):
    """A fresh workspace (UTC) in tmp_path, closed after the test."""
    workspace = make_workspace(tmp_path / "ws")
    yield workspace
    workspace.close()
