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


# ----- every candidate of every pain type, from the tables (test_candidates.py) ---------
def z_p(x: float, n: float, x0: float, n0: float, alternative: str) -> float:
    """Two-proportion z-test p-value (pooled standard error), from the textbook formula."""
    p = (x + x0) / (n + n0)
    se = math.sqrt(p * (1 - p) * (1 / n + 1 / n0))
    d = x / n - x0 / n0
    z = d / se if se > 0 else (0.0 if d == 0 else math.copysign(math.inf, d))
    if alternative == "greater":
        return float(normal.sf(z))
    if alternative == "less":
        return float(normal.cdf(z))
    return float(2 * normal.sf(abs(z)))


def most_common(values: list) -> object:
    """The value seen most often; a tie goes to the one seen first."""
    counts: dict = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return max(counts, key=lambda v: (counts[v], -values.index(v))) if counts else None


class CandidateOracle:
    """Every candidate ``pains.candidates`` tests, recomputed with pandas and scipy.

    Built from the warehouse tables only (events, customers, feedback) and the spec, by
    the rules of the pains module docstring: mapped events in the tie order; a pair is a
    customer at a touchpoint; peers are the other touchpoints of the spec's stage among
    those tested with at least ``min_n`` customers ("pooled" norm).
    """

    def __init__(self, events, customers, feedback, spec, min_n: int, support=("phone",)):
        ev = events.loc[events["touchpoint"].notna()]
        ev = ev.sort_values(["customer_id", "ts", "event", "event_id"], kind="stable")
        self.ev = ev = ev.reset_index(drop=True)
        self.fb, self.min_n, self.support = feedback, min_n, support
        self.stage_of = {t.id: t.stage for t in spec.touchpoints}
        self.order = list(spec.stage_order)
        self.goal = spec.goal.touchpoint
        self.goal_rank = self.order.index(self.stage_of[self.goal])
        rank = {s: i for i, s in enumerate(self.order)}
        self.pre_goal = {
            t for t, s in self.stage_of.items() if rank[s] <= self.goal_rank and t != self.goal
        }
        self.persona = dict(zip(customers["customer_id"], customers["persona"], strict=True))
        ev["i"] = ev.groupby("customer_id").cumcount()
        ev["r"] = ev["stage"].map(rank)
        self.last_goal = ev.loc[ev["touchpoint"] == self.goal].groupby("customer_id")["i"].max()
        self.converted = set(self.last_goal.index)
        pairs = ev.groupby(["customer_id", "touchpoint"])["i"].min().rename("first").reset_index()
        last_tp = ev.groupby("customer_id")["touchpoint"].last()
        pairs["exit"] = pairs["customer_id"].map(last_tp) == pairs["touchpoint"]
        pairs["conv_after"] = pairs["customer_id"].map(self.last_goal).fillna(-1) >= pairs["first"]
        pairs["persona"] = pairs["customer_id"].map(self.persona)
        self.pairs = pairs

    def _pooled(self, per_tp: pd.DataFrame, tps: list[str]):
        """(tp, x, n, x0, n0) against the other tested touchpoints of its stage."""
        for tp in tps:
            peers = [
                t for t in tps
                if t != tp and self.stage_of[t] == self.stage_of[tp]
                and per_tp.at[t, "n"] >= self.min_n
            ]  # fmt: skip
            if not peers:
                continue
            x, n = per_tp.at[tp, "x"], per_tp.at[tp, "n"]
            x0, n0 = per_tp.loc[peers, "x"].sum(), per_tp.loc[peers, "n"].sum()
            if n >= self.min_n and n0 >= self.min_n:
                yield tp, int(x), int(n), int(x0), int(n0)

    def _row(self, kind, tp, x, n, x0, n0, alternative, **extra) -> dict:
        return {
            "type": kind, "touchpoint": tp, "n": n, "n_norm": n0, "observed": x / n,
            "norm": x0 / n0, "p_value": z_p(x, n, x0, n0, alternative), **extra,
        }  # fmt: skip

    def dropoff(self) -> list[dict]:
        pairs = self.pairs
        per_tp = pairs.groupby("touchpoint").agg(x=("exit", "sum"), n=("exit", "size"))
        tps = sorted(t for t in per_tp.index if t in self.pre_goal)
        rows = []

        def cont(mask) -> float:
            stay = pairs.loc[mask & ~pairs["exit"], "conv_after"]
            return float(stay.mean()) if len(stay) else 0.0

        for tp, x, n, x0, n0 in self._pooled(per_tp, tps):
            lost = (x / n - x0 / n0) * cont(pairs["touchpoint"] == tp)
            rows.append(self._row("dropoff", tp, x, n, x0, n0, "greater", persona=None,
                                  customers_affected=n, conversion_lost=lost))  # fmt: skip
        known = pairs.loc[pairs["persona"].notna()]
        for tp in tps:
            here = known.loc[known["touchpoint"] == tp]
            for p in sorted(here["persona"].unique()):
                mine, other = here.loc[here["persona"] == p], here.loc[here["persona"] != p]
                x, n = int(mine["exit"].sum()), len(mine)
                x0, n0 = int(other["exit"].sum()), len(other)
                if n < self.min_n or n0 < self.min_n:
                    continue
                mask = (pairs["touchpoint"] == tp) & (pairs["persona"] == p)
                lost = (x / n - x0 / n0) * cont(mask)
                rows.append(self._row("dropoff", tp, x, n, x0, n0, "greater", persona=p,
                                      customers_affected=n, conversion_lost=lost))  # fmt: skip
        return rows

    def slow_step(self) -> list[dict]:
        from scipy.stats import mannwhitneyu

        ev = self.ev
        prev = ev.shift(1)
        move = (
            (prev["customer_id"] == ev["customer_id"]) & (prev["touchpoint"] != ev["touchpoint"])
            & ev["r"].notna() & prev["r"].notna()
            & (ev["r"] <= self.goal_rank) & (prev["r"] <= self.goal_rank)
        )  # fmt: skip
        m = pd.DataFrame(
            {
                "customer_id": ev["customer_id"], "src": prev["touchpoint"],
                "dst": ev["touchpoint"], "cross": ev["r"] != prev["r"],
                "gap": (ev["ts"] - prev["ts"]).dt.total_seconds(),
            }
        ).loc[move]  # fmt: skip
        m["log"] = np.log10(m["gap"].clip(lower=1e-3))
        rows = []
        for (src, dst), g in m.groupby(["src", "dst"]):
            if len(g) < self.min_n:
                continue
            norm = m.loc[(m["cross"] == g["cross"].iloc[0]) & ~m.index.isin(g.index)]
            if len(norm) < self.min_n:
                continue
            p90 = norm["gap"].quantile(0.9)
            p = mannwhitneyu(g["log"], norm["log"], alternative="greater").pvalue
            rows.append({
                "type": "slow_step", "touchpoint": dst, "related": src, "n": len(g),
                "n_norm": len(norm), "observed": g["gap"].median(), "norm": norm["gap"].median(),
                "p_value": float(p), "customers_affected": g["customer_id"].nunique(),
                "excess_rate": float((g["gap"] > p90).mean()) - 0.10,
            })  # fmt: skip
        return rows

    def loop(self) -> list[dict]:
        ev = self.ev
        start = (ev["customer_id"] != ev["customer_id"].shift()) | (
            ev["touchpoint"] != ev["touchpoint"].shift()
        )
        runs = ev.loc[start, ["customer_id", "touchpoint"]].reset_index(drop=True)
        visits = runs.groupby(["customer_id", "touchpoint"]).size()
        looped = set(visits.index[visits >= 2])
        per_tp = (visits >= 2).groupby(level="touchpoint").agg(["sum", "size"])
        per_tp.columns = ["x", "n"]
        after: dict[str, list] = {}
        for k in range(len(runs) - 1):
            c, tp = runs.at[k, "customer_id"], runs.at[k, "touchpoint"]
            if runs.at[k + 1, "customer_id"] == c and (c, tp) in looped:
                after.setdefault(tp, []).append(runs.at[k + 1, "touchpoint"])
        return [
            self._row(
                "loop",
                tp,
                x,
                n,
                x0,
                n0,
                "greater",
                related=most_common(after.get(tp, [])),
                customers_affected=n,
            )  # fmt: skip
            for tp, x, n, x0, n0 in self._pooled(per_tp, sorted(per_tp.index))
        ]

    def backward(self) -> list[dict]:
        ev = self.ev
        nxt = ev.shift(-1)
        back = (nxt["customer_id"] == ev["customer_id"]) & (nxt["r"] < ev["r"])
        flags = back.groupby([ev["customer_id"], ev["touchpoint"]]).any().rename("back")
        pairs = self.pairs.join(flags, on=["customer_id", "touchpoint"])
        per_tp = pairs.groupby("touchpoint").agg(x=("back", "sum"), n=("back", "size"))
        tps = sorted(t for t in per_tp.index if t in self.pre_goal)
        rows = []
        for tp, x, n, x0, n0 in self._pooled(per_tp, tps):
            here = pairs.loc[pairs["touchpoint"] == tp]
            gap = (here.loc[~here["back"], "conv_after"].mean()
                   - here.loc[here["back"], "conv_after"].mean())  # fmt: skip
            to = most_common(list(nxt.loc[back & (ev["touchpoint"] == tp), "touchpoint"]))
            rows.append(self._row("backward", tp, x, n, x0, n0, "greater", related=to,
                                  customers_affected=x, conversion_lost=gap))  # fmt: skip
        return rows

    def voice(self) -> list[dict]:
        fb = self.fb.copy()
        low = fb["kind"].map(lambda k: SCALES.get(k, (np.nan, np.nan))[0])
        high = fb["kind"].map(lambda k: SCALES.get(k, (np.nan, np.nan))[1])
        s = (2 * (fb["score"] - low) / (high - low) - 1).clip(-1, 1)
        c = fb["sentiment"]
        fb["emotion"] = np.where(s.notna() & c.notna(), s + c, np.where(s.notna(), 2 * s, 2 * c))
        fb = fb.loc[fb["touchpoint"].notna() & fb["emotion"].notna()]
        per_tp = (fb["emotion"] < 0).groupby(fb["touchpoint"]).agg(["sum", "size"])
        reach = self.pairs.groupby("touchpoint").size()
        rows = []
        for tp in per_tp.index:
            x, n = int(per_tp.at[tp, "sum"]), int(per_tp.at[tp, "size"])
            x0, n0 = int(per_tp["sum"].sum()) - x, int(per_tp["size"].sum()) - n
            if n >= self.min_n and n0 >= self.min_n:
                rows.append(self._row("voice", tp, x, n, x0, n0, "greater",
                                      customers_affected=int(reach.get(tp, n))))  # fmt: skip
        return rows

    def support_after(self) -> list[dict]:
        ev = self.ev
        support = set(ev.loc[ev["channel"].isin(self.support), "touchpoint"])
        calls = ev.loc[ev["touchpoint"].isin(support), ["customer_id", "ts"]]
        visits = ev.loc[~ev["touchpoint"].isin(support), ["customer_id", "touchpoint", "ts"]]
        m = visits.reset_index().merge(calls, on="customer_id", how="left", suffixes=("", "_c"))
        wait = m["ts_c"] - m["ts"]
        m["hit"] = (wait > pd.Timedelta(0)) & (wait <= pd.Timedelta(hours=24))
        per = m.groupby(["customer_id", "touchpoint"])["hit"].any()
        per_tp = per.groupby(level="touchpoint").agg(["sum", "size"])
        rows = []
        for tp in per_tp.index:
            x, n = int(per_tp.at[tp, "sum"]), int(per_tp.at[tp, "size"])
            x0, n0 = int(per_tp["sum"].sum()) - x, int(per_tp["size"].sum()) - n
            if n >= self.min_n and n0 >= self.min_n:
                rows.append(self._row("support_after", tp, x, n, x0, n0, "greater",
                                      related=", ".join(sorted(support)),
                                      customers_affected=n))  # fmt: skip
        return rows

    def channel_switch(self, outbound: set[str]) -> list[dict]:
        ev = self.ev
        prev = ev.shift(1)
        first_use = ~ev.duplicated(["customer_id", "channel"])
        hit = (
            (prev["customer_id"] == ev["customer_id"]) & prev["channel"].notna()
            & ev["channel"].notna() & first_use & (prev["channel"] != ev["channel"])
            & ~prev["channel"].isin(outbound) & ~ev["channel"].isin(outbound)
            & ev["touchpoint"].isin(self.pre_goal)
        )  # fmt: skip
        rows = []
        for (tp, ch), g in ev.loc[hit].groupby(["touchpoint", "channel"]):
            who = set(g["customer_id"])
            stage = set(ev.loc[ev["stage"] == self.stage_of[tp], "customer_id"]) - who
            if len(who) < self.min_n or len(stage) < self.min_n:
                continue
            x = sum(c in self.converted for c in who)
            x0 = sum(c in self.converted for c in stage)
            row = self._row("channel_switch", tp, x, len(who), x0, len(stage), "two-sided",
                            channel=ch, customers_affected=len(who),
                            related=most_common(list(prev.loc[g.index, "channel"])))  # fmt: skip
            row["direction"] = "better" if row["observed"] > row["norm"] else "worse"
            row["conversion_lost"] = row["norm"] - row["observed"]
            rows.append(row)
        return rows

    def conformance(self) -> list[dict]:
        ev = self.ev.loc[self.ev["r"].notna()]
        keep = (ev["customer_id"] != ev["customer_id"].shift()) | (ev["r"] != ev["r"].shift())
        seq = ev.loc[keep, ["customer_id", "r"]].reset_index(drop=True)
        rows = []
        for r, stage in enumerate(self.order[: self.goal_rank]):
            skipped = {
                seq.at[k, "customer_id"] for k in range(len(seq) - 1)
                if seq.at[k + 1, "customer_id"] == seq.at[k, "customer_id"]
                and seq.at[k, "r"] < r < seq.at[k + 1, "r"]
            }  # fmt: skip
            passed = set(seq.loc[seq["r"] == r, "customer_id"]) - skipped
            if len(skipped) < self.min_n or len(passed) < self.min_n:
                continue
            x = sum(c in self.converted for c in skipped)
            x0 = sum(c in self.converted for c in passed)
            row = self._row("conformance", None, x, len(skipped), x0, len(passed), "less",
                            stage=stage, customers_affected=len(skipped))  # fmt: skip
            row["conversion_lost"] = row["norm"] - row["observed"]
            rows.append(row)
        return rows
