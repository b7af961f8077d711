"""journeymap.engine: journey analytics (funnels, paths, flows, metrics, conformance).

``Analysis`` answers every journey question over one filtered slice of a workspace;
``analyze_events`` builds one from a plain table of events. See
:mod:`journeymap.engine.analysis` for the contract and the shared semantics.
"""

from __future__ import annotations

from journeymap.engine.analysis import Analysis
from journeymap.engine.standalone import analyze_events

__all__ = ["Analysis", "analyze_events"]
