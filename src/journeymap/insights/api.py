"""The four insight questions on an engine ``Analysis`` (its filters already applied).

``Analysis.pain_points/opportunities/discover_personas/compare`` delegate here; each
function only unpacks the analysis and calls the module that does the work.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa

from journeymap.insights.compare import compare_groups
from journeymap.insights.opportunities import build_opportunities
from journeymap.insights.pains import detect_pain_points
from journeymap.insights.personas import PersonaDiscovery, discover


def _out(df: pd.DataFrame, arrow: bool) -> pd.DataFrame | pa.Table:
    return pa.Table.from_pandas(df, preserve_index=False) if arrow else df


def pain_points(analysis: Any, arrow: bool = False, **kw: Any) -> pd.DataFrame | pa.Table:
    """Detected pain points ranked by impact; options in
    :func:`journeymap.insights.pains.detect_pain_points` (top, alpha, min_n, types, ...)."""
    return _out(detect_pain_points(analysis, **kw), arrow)


def opportunities(
    analysis: Any, top: int = 10, arrow: bool = False, **kw: Any
) -> pd.DataFrame | pa.Table:
    """Authored opportunities sized with data plus ones proposed from the ``top`` pain
    points, each with its impact/effort quadrant and roadmap phase."""
    pains = detect_pain_points(analysis, **kw)
    return _out(build_opportunities(analysis.spec, pains, top=top), arrow)


def discover_personas(analysis: Any, **kw: Any) -> PersonaDiscovery:
    """Behavioural clusters, described in words and compared with the authored personas;
    options in :func:`journeymap.insights.personas.discover` (k, seed, touchpoints)."""
    return discover(analysis, **kw)


def compare(
    analysis: Any,
    metric: str,
    before: Any = None,
    segments: tuple[dict, dict] | None = None,
    arrow: bool = False,
    **kw: Any,
) -> pd.DataFrame | pa.Table:
    """One metric in two periods (``before=DATE``) or two segments (``segments=(a, b)``):
    values, difference B - A, 95% CI, effect size, p-value and the test used."""
    return _out(compare_groups(analysis, metric, before=before, segments=segments, **kw), arrow)
