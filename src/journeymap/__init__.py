"""journeymap: customer journey mapping from real data.

The designed map lives in ``journey.yaml``; events, feedback and customer records flow
into a workspace; every cell of the map is computed from that data.

Public names are imported lazily so that ``import journeymap`` stays fast for the CLI
and a notebook pays only for what it uses.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "Workspace": "journeymap.workspace",
    "open": "journeymap.workspace",
    "JourneySpec": "journeymap.spec",
    "load_spec": "journeymap.spec",
    "Analysis": "journeymap.engine",
    "analyze_events": "journeymap.engine",
    "analyze_table": "journeymap.workspace.spark",  # any Ibis connection; Spark in place
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'journeymap' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
