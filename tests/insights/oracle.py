"""Plain-pandas recomputation of pain-point figures straight from the warehouse tables.

Independent of journeymap.insights and the engine's journey arrays: it reads the canonical
``events``, ``customers`` and ``feedback`` tables and follows the documented rules (order
by ts, event, event_id; unmapped events left out).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import norm as normal

SCALES = {"nps": (0.0, 10.0), "csat": (1.0, 5.0), "ces": (1.0, 7.0)}


class Oracle:
    def __init__(self, ws):
        ev = ws.to_pandas("events")
        ev = ev.loc[ev["touchpoint"].notna()]
        self.ev = ev.sort_values(["customer_id", "ts", "event", "event_id"]).reset_index(drop=True)
        cust = ws.to_pandas("customers")
        self.persona = dict(zip(cust["customer_id"], cust["persona"], strict=True))
        self.fb = ws.to_pandas("feedback")
        self.spec = ws.spec
        self.stage_of = {t.id: t.stage for t in ws.spec.touchpoints}
        self.goal = ws.spec.goal.touchpoint
        order = ws.spec.stage_order
        goal_rank = order.index(self.stage_of[self.goal])
        self.pre_goal = {
            t for t, s in self.stage_of.items() if order.index(s) <= goal_rank and t != self.goal
        }

    # each returns (observed, norm, x, n, x0, n0)
    def dropoff(self, tp: str, persona: str | None):
        last = self.ev.groupby("customer_id")["touchpoint"].last()
        at = self.ev[["customer_id", "touchpoint"]].drop_duplicates()
        at = at.assign(exit=at["customer_id"].map(last) == at["touchpoint"])
        at["persona"] = at["customer_id"].map(self.persona)
        if persona is None:
            mine = at["touchpoint"] == tp
            peers = [t for t in self.pre_goal if self.stage_of[t] == self.stage_of[tp] and t != tp]
            other = at["touchpoint"].isin(peers)
        else:
            here = at["touchpoint"] == tp
            mine = here & (at["persona"] == persona)
            other = here & at["persona"].notna() & (at["persona"] != persona)
        return _props(at.loc[mine, "exit"], at.loc[other, "exit"])

    def loop(self, tp: str):
        ev = self.ev
        new_run = (ev["customer_id"] != ev["customer_id"].shift()) | (
            ev["touchpoint"] != ev["touchpoint"].shift()
        )
        runs = ev.loc[new_run].groupby(["customer_id", "touchpoint"]).size().reset_index(name="k")
        runs["loop"] = runs["k"] >= 2
        peers = [t for t in self.stage_of if self.stage_of[t] == self.stage_of[tp] and t != tp]
        return _props(
            runs.loc[runs["touchpoint"] == tp, "loop"],
            runs.loc[runs["touchpoint"].isin(peers), "loop"],
        )

    def voice(self, tp: str):
        fb = self.fb.copy()
        low = fb["kind"].map(lambda k: SCALES.get(k, (np.nan, np.nan))[0])
        high = fb["kind"].map(lambda k: SCALES.get(k, (np.nan, np.nan))[1])
        s = (2 * (fb["score"] - low) / (high - low) - 1).clip(-1, 1)
        c = fb["sentiment"]
        emotion = np.where(s.notna() & c.notna(), s + c, np.where(s.notna(), 2 * s, 2 * c))
        fb["emotion"] = emotion
        fb = fb.loc[fb["touchpoint"].notna() & fb["emotion"].notna()]
        neg = fb["emotion"] < 0
        return _props(neg[fb["touchpoint"] == tp], neg[fb["touchpoint"] != tp])

    def support_after(self, tp: str, window_s: float = 86400):
        ev = self.ev
        calls = ev.loc[ev["channel"] == "phone", ["customer_id", "ts"]]
        support_tps = set(ev.loc[ev["channel"] == "phone", "touchpoint"])
        visits = ev.loc[~ev["touchpoint"].isin(support_tps), ["customer_id", "touchpoint", "ts"]]
        m = visits.merge(calls, on="customer_id", how="left", suffixes=("", "_call"))
        gap = (m["ts_call"] - m["ts"]).dt.total_seconds()
        m["hit"] = (gap > 0) & (gap <= window_s)
        per = m.groupby(["customer_id", "touchpoint"])["hit"].any().reset_index()
        return _props(
            per.loc[per["touchpoint"] == tp, "hit"], per.loc[per["touchpoint"] != tp, "hit"]
        )

    def step_median_s(self, src: str, dst: str) -> float:
        ev = self.ev
        same = ev["customer_id"] == ev["customer_id"].shift()
        prev = ev["touchpoint"].shift()
        gap = (ev["ts"] - ev["ts"].shift()).dt.total_seconds()
        return float(gap[same & (prev == src) & (ev["touchpoint"] == dst)].median())

    def converted(self) -> pd.Series:
        return self.ev.groupby("customer_id")["touchpoint"].agg(lambda s: (s == self.goal).any())


def _props(a: pd.Series, b: pd.Series):
    x, n, x0, n0 = int(a.sum()), len(a), int(b.sum()), len(b)
    return x / n, x0 / n0, x, n, x0, n0


def z_p_greater(x, n, x0, n0) -> float:
    """One-sided two-proportion z-test p-value, written out from the textbook formula."""
    p = (x + x0) / (n + n0)
    se = math.sqrt(p * (1 - p) * (1 / n + 1 / n0))
    return float(normal.sf((x / n - x0 / n0) / se))


def _stage_rank(o: Oracle) -> dict[str, int]:
    order = o.spec.stage_order
    return {t: order.index(s) for t, s in o.stage_of.items()}


def backward(o: Oracle, tp: str):
    """Customers at tp whose next event is in an earlier stage, vs the stage's peers."""
    ev = o.ev.copy()
    rank = _stage_rank(o)
    same = ev["customer_id"] == ev["customer_id"].shift(-1)
    ev["back"] = same & (ev["touchpoint"].shift(-1).map(rank) < ev["touchpoint"].map(rank))
    per = ev.groupby(["customer_id", "touchpoint"])["back"].any().reset_index()
    peers = [t for t in o.pre_goal if o.stage_of[t] == o.stage_of[tp] and t != tp]
    return _props(
        per.loc[per["touchpoint"] == tp, "back"], per.loc[per["touchpoint"].isin(peers), "back"]
    )


def channel_switch(o: Oracle, tp: str, channel: str, outbound: set[str]):
    """Conversion of customers switching to a new channel at tp vs the rest of its stage."""
    ev = o.ev.copy()
    same = ev["customer_id"] == ev["customer_id"].shift()
    prev = ev["channel"].shift()
    first_use = ~ev.duplicated(["customer_id", "channel"])
    hit = (
        same
        & first_use
        & (prev != ev["channel"])
        & ~prev.isin(outbound)
        & ~ev["channel"].isin(outbound)
        & (ev["touchpoint"] == tp)
        & (ev["channel"] == channel)
    )
    who = set(ev.loc[hit, "customer_id"])
    stage = set(ev.loc[ev["touchpoint"].map(o.stage_of) == o.stage_of[tp], "customer_id"]) - who
    conv = o.converted()
    return _props(conv.loc[sorted(who)], conv.loc[sorted(stage)])
