"""journeymap.insights: pain points, opportunities, persona discovery, impact of a change.

Everything takes an engine ``Analysis``; :mod:`journeymap.insights.api` holds the four
entry points the ``Analysis`` methods delegate to.
"""

from __future__ import annotations

from journeymap.insights.api import compare, discover_personas, opportunities, pain_points

__all__ = ["compare", "discover_personas", "opportunities", "pain_points"]
