"""The analysis' journeys as two small pandas frames every insight reads.

Insights ask many different questions of the same ordered journeys; reading them once into
plain frames (one row per mapped event, one row per customer) keeps each detector a few
lines of pandas that a reader can check, and keeps the order rule of the engine
(``ts, event, event_id``) because the frames come from the engine's own journeys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class JourneyFrames:
    """Mapped events in journey order and one row per customer."""

    events: pd.DataFrame  # jid, customer, pos, touchpoint, stage, channel, ts_s
    customers: pd.DataFrame  # index jid: customer, converted, persona, revenue
    goal: str | None
    stage_order: list[str]
    stage_of: dict[str, str]
    value: float  # mean revenue per converted customer (1.0 without revenue)

    def stage_rank(self, stage: str | None) -> int:
        return self.stage_order.index(stage) if stage in self.stage_order else -1


def journey_frames(analysis: Any) -> JourneyFrames:
    """Read the analysis' customer journeys at touchpoint level into :class:`JourneyFrames`."""
    a = analysis
    if a.filters.level != "touchpoint" or a.filters.sessions:
        a = analysis.filtered(level="touchpoint", sessions=False)
    j = a.journeys().mapped()
    jid = j.journey_of_event
    pos = np.arange(j.n_events) - j.offsets[:-1][jid]

    def names(kind: str) -> np.ndarray:
        table = np.append(j.names[kind].astype(object), None)
        codes = j.codes[kind]
        return table[np.where(codes >= 0, codes, len(table) - 1)]

    events = pd.DataFrame(
        {
            "jid": jid,
            "customer": j.customers[jid],
            "pos": pos,
            "touchpoint": names("touchpoint"),
            "stage": names("stage"),
            "channel": names("channel"),
            "ts_s": j.ts / 1e6,
        }
    )
    spec = a.spec
    goal = getattr(getattr(spec, "goal", None), "touchpoint", None)
    stage_order = list(getattr(spec, "stage_order", None) or [])
    stage_of = {tp.id: tp.stage for tp in getattr(spec, "touchpoints", [])} if spec else {}
    if not stage_of:
        stage_of = dict(events.dropna(subset=["stage"]).groupby("touchpoint")["stage"].first())
    customers = pd.DataFrame({"customer": j.customers})
    customers["converted"] = (
        events.loc[events["touchpoint"] == goal].groupby("jid").size().reindex(customers.index) > 0
        if goal
        else False
    )
    customers["persona"] = _personas(a, customers["customer"])
    customers["revenue"] = _revenue(a, customers["customer"])
    converted = customers.loc[customers["converted"]]
    value = float(converted["revenue"].mean()) if len(converted) else float("nan")
    if not np.isfinite(value) or value <= 0:
        value = 1.0
    return JourneyFrames(events, customers, goal, stage_order, stage_of, value)


def _personas(analysis: Any, ids: pd.Series) -> pd.Series:
    table = analysis.customers()
    if table is None or "persona" not in table.columns:
        return pd.Series([None] * len(ids), index=ids.index, dtype=object)
    frame = table.select("customer_id", "persona").to_pandas()
    lookup = dict(zip(frame["customer_id"], frame["persona"], strict=True))
    return ids.map(lookup).astype(object)


def _revenue(analysis: Any, ids: pd.Series) -> pd.Series:
    ev = analysis.events()
    if "revenue" not in ev.columns:
        return pd.Series(0.0, index=ids.index)
    sums = ev.group_by("customer_id").aggregate(revenue=ev.revenue.sum()).to_pandas()
    lookup = dict(zip(sums["customer_id"], sums["revenue"].fillna(0.0), strict=True))
    return ids.map(lookup).fillna(0.0).astype(float)
