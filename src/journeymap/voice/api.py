"""Voice analyses on the engine's ``Analysis`` (its filters already applied).

Thin on purpose: each function unpacks the analysis (``feedback()``, ``events()``,
``customers()``, ``spec``, ``settings``) and calls the table function that does the work,
so the same logic runs from plain Ibis tables in tests and notebooks.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from journeymap.voice.drivers import driver_table
from journeymap.voice.emotions import emotion_table
from journeymap.voice.scores import score_table
from journeymap.voice.themes import theme_table
from journeymap.workspace import schemas

#: The canonical feedback columns voice reads, for an analysis without a feedback table.
_FEEDBACK_SCHEMA = schemas.subset(
    schemas.FEEDBACK,
    ["feedback_id", "customer_id", "ts", "touchpoint", "kind", "score", "text", "sentiment"],
)


def _feedback(analysis: Any) -> ir.Table:
    """The analysis' feedback, or an empty canonical table when the workspace has none."""
    table = analysis.feedback()
    if table is None:
        return ibis.memtable(pd.DataFrame(columns=list(_FEEDBACK_SCHEMA)), schema=_FEEDBACK_SCHEMA)
    return table


def _out(df: pd.DataFrame, arrow: bool) -> pd.DataFrame | pa.Table:
    """pandas by default; a pyarrow Table when asked (``arrow=True``)."""
    return pa.Table.from_pandas(df, preserve_index=False) if arrow else df


def scores(
    analysis: Any, by: str | None = "touchpoint", kind: str | None = None, arrow: bool = False
) -> pd.DataFrame | pa.Table:
    """NPS / CSAT / CES with n and 95% CI per touchpoint, stage, persona or overall (None)."""
    df = score_table(
        _feedback(analysis),
        by=by,
        kind=kind,
        spec=analysis.spec,
        customers=analysis.customers() if by == "persona" else None,
        settings=analysis.settings,
    )
    return _out(df, arrow)


def emotions(
    analysis: Any,
    by: str = "stage",
    persona: str | None = None,
    by_persona: bool = False,
    arrow: bool = False,
) -> pd.DataFrame | pa.Table:
    """The emotion curve (-2..+2) per stage or touchpoint in spec order, with n and CI."""
    df = emotion_table(
        _feedback(analysis),
        by=by,
        spec=analysis.spec,
        customers=analysis.customers() if (persona or by_persona) else None,
        persona=persona,
        by_persona=by_persona,
        settings=analysis.settings,
    )
    return _out(df, arrow)


def themes(
    analysis: Any, by: str = "touchpoint", top: int = 10, arrow: bool = False
) -> pd.DataFrame | pa.Table:
    """Phrases that set each touchpoint's (stage's) negative comments apart, with quotes."""
    df = theme_table(
        _feedback(analysis), by=by, spec=analysis.spec, settings=analysis.settings, top=top
    )
    return _out(df, arrow)


def drivers(analysis: Any, arrow: bool = False) -> pd.DataFrame | pa.Table:
    """Per touchpoint: correlation of experience with overall NPS and with conversion."""
    df = driver_table(
        _feedback(analysis), analysis.events(), spec=analysis.spec, settings=analysis.settings
    )
    return _out(df, arrow)
