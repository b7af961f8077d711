"""Pain points found in the data: each a tested, sized and explained departure from a norm.

Every detector compares a place (a touchpoint, a touchpoint for one persona, a step from
one touchpoint to the next, a stage) with the norm around it and states the test:

============== ==================================================== ===========================
type           observed at the place vs the norm                    test
============== ==================================================== ===========================
dropoff        journeys ending at a touchpoint before the goal,     two-proportion z (greater)
               vs the other touchpoints of its stage; per persona,
               vs the other personas at the same touchpoint
slow_step      time of a step a -> b (a pre-goal move) vs all       Mann-Whitney U (greater)
               moves of the same kind (within a stage / across)
loop           customers coming back to a touchpoint after          two-proportion z (greater)
               something else, vs the other touchpoints of its stage
backward       customers moving from a touchpoint to an earlier     two-proportion z (greater)
               stage, vs the other touchpoints of its stage
voice          share of negative answers (emotion < 0) about a      two-proportion z (greater)
               touchpoint, vs all other answers
support_after  customers contacting support (phone touchpoints)     two-proportion z (greater)
               within 24 h of a touchpoint, vs other touchpoints
channel_switch conversion of customers switching channel into a     two-proportion z (2-sided)
               touchpoint, vs the rest of its stage ("failing" /
               "better")
conformance    conversion of customers skipping a stage, vs those   two-proportion z (less)
               passing through it
============== ==================================================== ===========================

p-values are corrected across all candidates with Benjamini-Hochberg; a pain point is
reported when its q-value is below ``alpha`` and the effect is large enough to matter
(``min_excess`` points and ``min_ratio`` times the norm; slow steps 3x the norm's median).

Size and rank: ``impact = customers_affected x loss x value``. ``loss`` is the
``conversion_lost`` for pains that cost conversion (drop-off: the excess drop-off rate
times the conversion of those who carried on; backward moves, channel switches and stage
skips: the conversion gap of the customers affected) and the ``excess_rate`` of the bad
experience for the others (slow steps, loops, negative answers, support contacts), as the
``loss_basis`` column says. ``value`` is the mean revenue per converted customer (1
without revenue). Steps after the goal's stage are not tested for drop-off, slowness or
backward moves: after the purchase, journeys end and waits are deliveries.

Definitions worth knowing: a channel switch is a move to a channel the customer has not
used before in the journey, neither end being an outbound channel (e-mail and the ad
channels of the first stage: arriving from an ad or being sent an e-mail is not a choice
to switch). A "better" switch (switchers convert more) is reported too, with
``direction="better"`` and the conversion gained as its loss. A loop a <-> b seen from
both ends is reported once. ``min_ratio`` does not apply to switches and stage skips,
whose norm is a conversion rate, not a rate of something bad.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from journeymap.insights import stats
from journeymap.insights.frames import JourneyFrames, journey_frames

COLUMNS = [
    "rank",
    "id",
    "type",
    "title",
    "stage",
    "touchpoint",
    "persona",
    "channel",
    "related",
    "direction",
    "customers_affected",
    "metric",
    "observed",
    "norm",
    "excess_rate",
    "conversion_lost",
    "loss_basis",
    "value",
    "impact",
    "n",
    "n_norm",
    "ci_low",
    "ci_high",
    "test",
    "p_value",
    "q_value",
    "confidence",
    "severity",
    "description",
]
SUPPORT_WINDOW_S = 24 * 3600


def detect_pain_points(
    analysis: Any,
    *,
    top: int | None = None,
    alpha: float = 0.05,
    min_n: int = 30,
    min_excess: float = 0.05,
    min_ratio: float = 1.5,
    support_channels: tuple[str, ...] = ("phone",),
    types: tuple[str, ...] | None = None,
    include_better: bool = True,
    stage_norm: str = "pooled",
) -> pd.DataFrame:
    """All pain points that pass the tests, ranked by impact (see the module docstring)."""
    f = journey_frames(analysis)
    if stage_norm not in ("typical", "pooled"):
        raise ValueError(f"stage_norm: expected 'typical' or 'pooled', got {stage_norm!r}")
    ctx = _Context(f, min_n=min_n, support_channels=support_channels, stage_norm=stage_norm)
    detectors = {
        "dropoff": _dropoff,
        "slow_step": _slow_steps,
        "loop": _loops,
        "backward": _backward,
        "voice": lambda c: _voice(c, analysis),
        "support_after": _support_after,
        "channel_switch": _channel_switch,
        "conformance": _conformance,
    }
    unknown = set(types or ()) - set(detectors)
    if unknown:
        raise ValueError(f"types: unknown {sorted(unknown)}; known: {', '.join(detectors)}")
    rows: list[dict] = []
    for name, detector in detectors.items():
        if types is None or name in types:
            rows.extend(detector(ctx))
    return _rank(_merge_loop_pairs(rows), f, alpha, min_excess, min_ratio, include_better, top)


def _merge_loop_pairs(rows: list[dict]) -> list[dict]:
    """A loop a <-> b found from both ends is one finding: keep the end with more impact."""
    loops = {(r["touchpoint"], r["related"]): r for r in rows if r["type"] == "loop"}
    drop = set()
    for (a, b), r in loops.items():
        twin = loops.get((b, a))
        if twin is not None and id(r) not in drop and id(twin) not in drop:
            size = r["customers_affected"] * r["excess_rate"]
            if size >= twin["customers_affected"] * twin["excess_rate"]:
                drop.add(id(twin))
            else:
                drop.add(id(r))
    return [r for r in rows if id(r) not in drop]


# ----- shared per-journey facts --------------------------------------------------------
class _Context:
    """Derived columns every detector needs, computed once."""

    def __init__(
        self,
        f: JourneyFrames,
        min_n: int,
        support_channels: tuple[str, ...],
        stage_norm: str = "pooled",
    ):
        self.f, self.min_n, self.support_channels = f, min_n, support_channels
        self.stage_norm = stage_norm
        first_stage = f.stage_order[0] if f.stage_order else None
        #: Channels we reach customers on (the first stage's, e-mail): arriving from or
        #: being sent to them is acquisition or our own message, not a switch they chose.
        self.outbound_channels = tuple(
            sorted(
                set(f.events.loc[f.events["stage"] == first_stage, "channel"].dropna())
                - {"store", "web", "app"}
                | {"email"}
            )
        )
        ev = f.events.copy()
        same_next = ev["jid"].shift(-1) == ev["jid"]
        same_prev = ev["jid"].shift(1) == ev["jid"]
        ev["next_tp"] = ev["touchpoint"].shift(-1).where(same_next)
        ev["next_stage"] = ev["stage"].shift(-1).where(same_next)
        ev["prev_tp"] = ev["touchpoint"].shift(1).where(same_prev)
        ev["prev_stage"] = ev["stage"].shift(1).where(same_prev)
        ev["prev_channel"] = ev["channel"].shift(1).where(same_prev)
        ev["gap_s"] = (ev["ts_s"] - ev["ts_s"].shift(1)).where(same_prev)
        ev["is_last"] = ~same_next
        rank = {s: i for i, s in enumerate(f.stage_order)}
        ev["rank"] = ev["stage"].map(rank)
        ev["next_rank"] = ev["next_stage"].map(rank)
        ev["prev_rank"] = ev["prev_stage"].map(rank)
        self.ev = ev
        goal_stage = f.stage_of.get(f.goal) if f.goal else None
        self.goal_rank = rank.get(goal_stage, len(f.stage_order) - 1)
        #: (jid, touchpoint) -> first position; customers at a touchpoint.
        first = ev.groupby(["jid", "touchpoint"], sort=False)["pos"].min().rename("first_pos")
        self.first = first.reset_index()
        goal_pos = ev.loc[ev["touchpoint"] == f.goal].groupby("jid")["pos"].max()
        self.first["conv_after"] = (
            self.first["jid"].map(goal_pos).fillna(-1).to_numpy()
            >= self.first["first_pos"].to_numpy()
        )
        self.customers_at = self.first.groupby("touchpoint").size()
        self.n_customers = len(f.customers)

    def pre_goal(self, tp: str) -> bool:
        """Touchpoints on the way to the goal (its stage or earlier), the goal excluded."""
        stage = self.f.stage_of.get(tp)
        r = self.f.stage_rank(stage)
        return tp != self.f.goal and 0 <= r <= self.goal_rank

    def place(self, tp: str) -> dict:
        return {"touchpoint": tp, "stage": self.f.stage_of.get(tp)}


def _proportion_fields(t: dict, n: float, n0: float, side: str) -> dict:
    """The fields every two-proportion candidate shares: both rates, sizes, CI and test."""
    return {
        "observed": t["p1"],
        "norm": t["p2"],
        "n": int(n),
        "n_norm": int(n0),
        "ci_low": t["ci_low"],
        "ci_high": t["ci_high"],
        "test": f"two-proportion z-test, {side}",
        "p_value": t["p_value"],
    }


def _row(**kw: Any) -> dict:
    base = {c: None for c in COLUMNS}
    base.update(kw)
    return base


def _stage_norm_rows(
    ctx: _Context, per_tp: pd.DataFrame, hit: str, total: str, tps: list[str]
) -> list[tuple[str, float, float, float, float, str]]:
    """(touchpoint, hits, n, norm hits, norm n, norm in words) against its stage's norm.

    ``pooled`` (the default): all other touchpoints of the stage together. ``typical``:
    the peer touchpoint with the median rate (the lower median for an even count), among
    peers with at least ``min_n`` customers, so that the norm does not carry the stage's
    other pain points; on the demo it ranks more ordinary steps above the planted ones.
    """
    out = []
    stage_of = ctx.f.stage_of
    for tp in tps:
        if tp not in per_tp.index:
            continue
        peers = [t for t in per_tp.index if t != tp and stage_of.get(t) == stage_of.get(tp)]
        peers = [t for t in peers if per_tp.at[t, total] >= ctx.min_n]
        if not peers:
            continue
        x, n = per_tp.at[tp, hit], per_tp.at[tp, total]
        if ctx.stage_norm == "typical":
            rates = sorted(peers, key=lambda t: (per_tp.at[t, hit] / per_tp.at[t, total], t))
            peer = rates[(len(rates) - 1) // 2]
            x0, n0 = per_tp.at[peer, hit], per_tp.at[peer, total]
            words = f"at {peer}, the typical touchpoint of its stage"
        else:
            x0, n0 = per_tp.loc[peers, hit].sum(), per_tp.loc[peers, total].sum()
            words = "at the other touchpoints of its stage"
        if n >= ctx.min_n and n0 >= ctx.min_n:
            out.append((tp, float(x), float(n), float(x0), float(n0), words))
    return out


def _pct(v: float) -> str:
    return f"{100 * v:.1f}%"


# ----- detectors -----------------------------------------------------------------------
def _dropoff(ctx: _Context) -> list[dict]:
    ev, first = ctx.ev, ctx.first
    last = ev.loc[ev["is_last"], ["jid", "touchpoint"]].assign(exit=True)
    at = first.merge(last, on=["jid", "touchpoint"], how="left")
    at["exit"] = at["exit"].notna()
    at["persona"] = at["jid"].map(ctx.f.customers["persona"])
    per_tp = at.groupby("touchpoint").agg(exits=("exit", "sum"), n=("exit", "size"))
    tps = [t for t in per_tp.index if ctx.pre_goal(t)]
    per_tp = per_tp.loc[tps]  # the goal and later steps are no norm for drop-off
    rows = []

    # conversion of those who carried on, per touchpoint and per (touchpoint, persona):
    # grouped once rather than one scan of all (customer, touchpoint) rows per candidate
    stay = at.loc[~at["exit"]]
    cont_tp = stay.groupby("touchpoint")["conv_after"].mean()
    cont_tp_p = stay.groupby(["touchpoint", "persona"])["conv_after"].mean()

    def make(tp, persona, x, n, x0, n0, norm_words):
        t = stats.two_proportion_test(x, n, x0, n0, "greater")
        key = tp if persona is None else (tp, persona)
        table = cont_tp if persona is None else cont_tp_p
        cont = float(table[key]) if key in table.index else 0.0
        who = f"{persona} customers" if persona else "customers"
        return _row(
            type="dropoff",
            **ctx.place(tp),
            persona=persona,
            customers_affected=int(n),
            metric="drop-off rate (journeys ending here)",
            **_proportion_fields(t, n, n0, "one-sided (greater)"),
            excess_rate=t["diff"],
            conversion_lost=t["diff"] * cont,
            loss_basis="conversion",
            title=f"Drop-off at {tp}" + (f" ({persona})" if persona else ""),
            description=(
                f"{_pct(t['p1'])} of {int(n)} {who} at {tp} end their journey there, against "
                f"{_pct(t['p2'])} {norm_words}; {_pct(cont)} of those who carry on convert."
            ),
        )

    for tp, x, n, x0, n0, words in _stage_norm_rows(ctx, per_tp, "exits", "n", tps):
        rows.append(make(tp, None, x, n, x0, n0, words))
    personas = [p for p in at["persona"].dropna().unique()]
    # (touchpoint, persona) -> customers and exits; "others" = the touchpoint's other personas
    by_tp_p = at.groupby(["touchpoint", "persona"]).agg(exits=("exit", "sum"), n=("exit", "size"))
    by_tp = by_tp_p.groupby(level="touchpoint").sum()
    for tp in tps:
        if tp not in by_tp.index:
            continue
        for p in personas:
            have = (tp, p) in by_tp_p.index
            n = int(by_tp_p.at[(tp, p), "n"]) if have else 0
            x = int(by_tp_p.at[(tp, p), "exits"]) if have else 0
            n0, x0 = int(by_tp.at[tp, "n"]) - n, int(by_tp.at[tp, "exits"]) - x
            if n < ctx.min_n or n0 < ctx.min_n:
                continue
            rows.append(make(tp, p, x, n, x0, n0, "of the other personas there"))
    return rows


def _slow_steps(ctx: _Context) -> list[dict]:
    ev = ctx.ev
    is_move = (
        ev["prev_tp"].notna()
        & (ev["prev_tp"] != ev["touchpoint"])
        & ev["rank"].notna()
        & ev["prev_rank"].notna()
    )
    # only the columns a step needs: copying all of ev's columns cost seconds at 10M events
    moves = ev.loc[is_move, ["jid", "prev_tp", "touchpoint", "rank", "prev_rank", "gap_s"]]
    moves = moves.loc[(moves["rank"] <= ctx.goal_rank) & (moves["prev_rank"] <= ctx.goal_rank)]
    moves["cross"] = moves["rank"] != moves["prev_rank"]
    moves["log_gap"] = np.log10(moves["gap_s"].clip(lower=1e-3))
    moves = moves.reset_index(drop=True)
    # The norm of a step is every other move of its kind: ranked and sorted once per kind,
    # so each step costs its own size, not a pass over all moves (10M events: 50x faster).
    pools = {kind: _MovePool(moves, kind) for kind in (False, True)}
    rows = []
    for (src, dst), grp in moves.groupby(["prev_tp", "touchpoint"], sort=False):
        if len(grp) < ctx.min_n or dst == src:
            continue
        kind = bool(grp["cross"].iloc[0])
        pool = pools[kind]
        if grp["cross"].nunique() == 1:
            n_norm = pool.size - len(grp)
            if n_norm < ctx.min_n:
                continue
            med0, p90 = pool.norm_median_p90(grp.index.to_numpy())
            p = pool.mann_whitney_greater(grp.index.to_numpy())
        else:  # a step whose events disagree on their stage: the plain computation
            norm = moves.loc[
                (moves["cross"] == kind)
                & ~((moves["prev_tp"] == src) & (moves["touchpoint"] == dst))
            ]
            n_norm = len(norm)
            if n_norm < ctx.min_n:
                continue
            med0, p90 = float(norm["gap_s"].median()), float(norm["gap_s"].quantile(0.9))
            p = stats.mann_whitney_greater(grp["log_gap"].to_numpy(), norm["log_gap"].to_numpy())
        med = float(grp["gap_s"].median())
        slow_share = float((grp["gap_s"] > p90).mean())
        customers = int(grp["jid"].nunique())
        words = "from one stage to the next" if kind else "within a stage"
        rows.append(
            _row(
                type="slow_step",
                **ctx.place(dst),
                related=src,
                customers_affected=customers,
                metric="median time of the step (s)",
                observed=med,
                norm=med0,
                excess_rate=slow_share - 0.10,
                ratio=med / med0 if med0 > 0 else math.inf,
                loss_basis="experience",
                n=len(grp),
                n_norm=n_norm,
                test="Mann-Whitney U on log time, one-sided (greater)",
                p_value=p,
                title=f"Slow step {src} -> {dst}",
                description=(
                    f"The step {src} -> {dst} takes {_duration(med)} at the median over "
                    f"{len(grp)} moves, against {_duration(med0)} for moves {words}; "
                    f"{_pct(slow_share)} take longer than 90% of those ({_duration(p90)})."
                ),
            )
        )
    return rows


class _MovePool:
    """All moves of one kind, ranked and sorted once, to test a step against the others.

    A step's norm is the pool without the step's own moves, so the step and its norm
    together are the pool: the Mann-Whitney U of the step is the sum of its ranks in the
    pool, and the norm's order statistics are the pool's with the step's positions skipped.
    The arithmetic is scipy's (``mannwhitneyu``, asymptotic with tie and continuity
    correction) and numpy's (median, linear quantile), so the results are the same floats
    as ``stats.mann_whitney_greater`` and ``Series.median``/``quantile`` on the norm.
    """

    def __init__(self, moves: pd.DataFrame, kind: bool):
        rows = np.flatnonzero(moves["cross"].to_numpy() == kind)
        self.size = len(rows)
        self.local = np.full(len(moves), -1, dtype=np.int64)  # moves row -> pool position
        self.local[rows] = np.arange(self.size)
        self.log_gap = log_gap = moves["log_gap"].to_numpy(dtype=float)[rows]
        order = np.argsort(log_gap, kind="stable")
        ranked = log_gap[order]
        starts = np.flatnonzero(np.r_[True, ranked[:-1] != ranked[1:]]) if self.size else []
        counts = np.diff(np.r_[starts, self.size]).astype(float)
        self.ranks = np.empty(self.size)
        self.ranks[order] = np.repeat(np.asarray(starts) + 1 + (counts - 1) / 2, counts.astype(int))
        ties = np.zeros(self.size)
        ties[starts] = counts
        self.tie_term = np.sum(ties**3 - ties)
        gap = moves["gap_s"].to_numpy(dtype=float)[rows]
        by_gap = np.argsort(gap, kind="stable")
        self.gap_sorted = gap[by_gap]
        self.gap_pos = np.empty(self.size, dtype=np.int64)  # pool position -> sorted slot
        self.gap_pos[by_gap] = np.arange(self.size)

    def mann_whitney_greater(self, rows: np.ndarray) -> float:
        """One-sided p that the moves ``rows`` take longer than the rest of the pool."""
        from scipy import special

        n1 = len(rows)
        n2 = self.size - n1
        if min(n1, n2) <= 8:  # scipy may use the exact distribution: let it decide
            mine = np.zeros(self.size, dtype=bool)
            mine[self.local[rows]] = True
            return stats.mann_whitney_greater(self.log_gap[mine], self.log_gap[~mine])
        r1 = np.sum(self.ranks[self.local[rows]])
        u1 = r1 - n1 * (n1 + 1) / 2
        n = n1 + n2
        s = np.sqrt(n1 * n2 / 12 * ((n + 1) - self.tie_term / (n * (n - 1))))
        z = (u1 - n1 * n2 / 2 - 0.5) / s
        return float(np.clip(special.ndtr(-z), 0.0, 1.0))

    def norm_median_p90(self, rows: np.ndarray) -> tuple[float, float]:
        """Median and 90th percentile (numpy's linear) of the pool's gaps without ``rows``."""
        skip = np.sort(self.gap_pos[self.local[rows]])
        n0 = self.size - len(skip)

        def kth(k: int) -> float:  # k-th smallest (0-based) of the sorted gaps not skipped
            lo, hi = k, k + len(skip)
            while lo < hi:
                mid = (lo + hi) // 2
                if mid + 1 - np.searchsorted(skip, mid, side="right") >= k + 1:
                    hi = mid
                else:
                    lo = mid + 1
            return float(self.gap_sorted[lo])

        half = n0 // 2
        median = kth(half) if n0 % 2 else float(np.median([kth(half - 1), kth(half)]))
        vi = (n0 - 1) * np.float64(0.9)
        if vi >= n0 - 1:
            return median, kth(n0 - 1)
        prev = int(np.floor(vi))
        a, b, g = kth(prev), kth(prev + 1), vi - prev
        d = b - a
        p90 = b - d * (1 - g) if g >= 0.5 else a + d * g
        return median, float(p90)


def _duration(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.0f} s"


def _loops(ctx: _Context) -> list[dict]:
    ev = ctx.ev
    # Runs of the same touchpoint collapse: a a b counts once, a b a is a return (loop).
    run_start = (ev["prev_tp"] != ev["touchpoint"]) | ev["prev_tp"].isna()
    runs = ev.loc[run_start, ["jid", "touchpoint"]]
    visits = runs.groupby(["jid", "touchpoint"]).size().rename("visits").reset_index()
    visits["loop"] = visits["visits"] >= 2
    per_tp = visits.groupby("touchpoint").agg(loops=("loop", "sum"), n=("loop", "size"))
    partners = _loop_partners(runs, visits)
    rows = []
    for tp, x, n, x0, n0, words in _stage_norm_rows(ctx, per_tp, "loops", "n", list(per_tp.index)):
        t = stats.two_proportion_test(x, n, x0, n0, "greater")
        partner = partners.get(tp)
        rows.append(
            _row(
                type="loop",
                **ctx.place(tp),
                related=partner,
                customers_affected=int(n),
                metric="share of customers coming back (loop)",
                **_proportion_fields(t, n, n0, "one-sided (greater)"),
                excess_rate=t["diff"],
                loss_basis="experience",
                title=f"Loop at {tp}" + (f" <-> {partner}" if partner else ""),
                description=(
                    f"{_pct(t['p1'])} of {int(n)} customers at {tp} come back to it after "
                    f"something else (mostly {partner}), against {_pct(t['p2'])} {words}."
                ),
            )
        )
    return rows


def _loop_partners(runs: pd.DataFrame, visits: pd.DataFrame) -> dict[str, str]:
    """Per touchpoint, the touchpoint most often visited right after it by the customers
    who loop there (one pass over the runs for all touchpoints; first seen wins a tie)."""
    same = runs["jid"].shift(-1) == runs["jid"]
    after = runs.loc[same, ["jid", "touchpoint"]].assign(nxt=runs["touchpoint"].shift(-1)[same])
    loopers = visits.loc[visits["loop"], ["jid", "touchpoint"]]
    after = after.merge(loopers, on=["jid", "touchpoint"], how="inner", sort=False)
    out = {}
    for tp, grp in after.groupby("touchpoint", sort=False):
        counts = grp["nxt"].dropna().value_counts()
        if len(counts):
            out[tp] = str(counts.index[0])
    return out


def _backward(ctx: _Context) -> list[dict]:
    ev = ctx.ev
    ev_back = ev["next_rank"].notna() & (ev["next_rank"] < ev["rank"])
    flags = (
        ev[["jid", "touchpoint"]]
        .assign(back=ev_back)
        .groupby(["jid", "touchpoint"])["back"]
        .any()
        .reset_index()
    )
    flags = flags.merge(ctx.first[["jid", "touchpoint", "conv_after"]], on=["jid", "touchpoint"])
    per_tp = flags.groupby("touchpoint").agg(backs=("back", "sum"), n=("back", "size"))
    tps = [t for t in per_tp.index if ctx.pre_goal(t)]
    per_tp = per_tp.loc[tps]
    flags_of = dict(tuple(flags.groupby("touchpoint", sort=False)))
    back_to = dict(tuple(ev.loc[ev_back, ["touchpoint", "next_tp"]].groupby("touchpoint")))
    rows = []
    for tp, x, n, x0, n0, words in _stage_norm_rows(ctx, per_tp, "backs", "n", tps):
        t = stats.two_proportion_test(x, n, x0, n0, "greater")
        sub = flags_of[tp]
        movers, stayers = sub.loc[sub["back"]], sub.loc[~sub["back"]]
        gap = float(stayers["conv_after"].mean() - movers["conv_after"].mean())
        where = back_to[tp]["next_tp"].value_counts() if tp in back_to else pd.Series()
        to = str(where.index[0]) if len(where) else None
        rows.append(
            _row(
                type="backward",
                **ctx.place(tp),
                related=to,
                customers_affected=int(x),
                metric="share of customers moving back to an earlier stage",
                **_proportion_fields(t, n, n0, "one-sided (greater)"),
                excess_rate=t["diff"],
                conversion_lost=gap,
                loss_basis="conversion",
                title=f"Backward moves from {tp}",
                description=(
                    f"{_pct(t['p1'])} of {int(n)} customers at {tp} go back to an earlier "
                    f"stage (mostly to {to}), against {_pct(t['p2'])} {words}; they convert "
                    f"{_pct(gap)} less than those who do not."
                ),
            )
        )
    return rows


def _voice(ctx: _Context, analysis: Any) -> list[dict]:
    answers = _answer_emotions(analysis)
    if answers is None or not len(answers):
        return []
    answers = answers.dropna(subset=["touchpoint", "emotion"])
    answers["negative"] = answers["emotion"] < 0
    per_tp = answers.groupby("touchpoint").agg(neg=("negative", "sum"), n=("negative", "size"))
    themes = _top_themes(analysis)
    rows = []
    for tp in per_tp.index:
        x, n = per_tp.at[tp, "neg"], per_tp.at[tp, "n"]
        x0, n0 = per_tp["neg"].sum() - x, per_tp["n"].sum() - n
        if n < ctx.min_n or n0 < ctx.min_n:
            continue
        t = stats.two_proportion_test(float(x), float(n), float(x0), float(n0), "greater")
        customers = int(ctx.customers_at.get(tp, n))
        theme = themes.get(tp)
        said = f" {_pct(theme[1])} of its negative comments mention '{theme[0]}'." if theme else ""
        rows.append(
            _row(
                type="voice",
                **ctx.place(tp),
                related=theme[0] if theme else None,
                customers_affected=customers,
                metric="share of negative answers (emotion < 0)",
                **_proportion_fields(t, n, n0, "one-sided (greater)"),
                excess_rate=t["diff"],
                loss_basis="experience",
                title=f"Negative feedback at {tp}" + (f": '{theme[0]}'" if theme else ""),
                description=(
                    f"{_pct(t['p1'])} of {int(n)} answers about {tp} are negative, against "
                    f"{_pct(t['p2'])} of all other answers.{said}"
                ),
            )
        )
    return rows


def _answer_emotions(analysis: Any) -> pd.DataFrame | None:
    """One row per feedback answer: touchpoint and emotion (-2..+2, journeymap.voice)."""
    from journeymap.voice.formulas import emotion_expr
    from journeymap.voice.settings import voice_settings

    fb = analysis.feedback()
    if fb is None:
        return None
    vs = voice_settings(analysis.settings)
    return fb.select("touchpoint", emotion=emotion_expr(fb, vs)).to_pandas()


def _top_themes(analysis: Any) -> dict[str, tuple[str, float]]:
    """Per touchpoint, the leading theme of its negative comments and its share."""
    try:
        frame = analysis.themes(by="touchpoint", top=3)
    except Exception:  # noqa: BLE001 - themes are evidence, never a reason to fail
        return {}
    out: dict[str, tuple[str, float]] = {}
    if frame is None or not len(frame):
        return out
    for tp, grp in frame.groupby("touchpoint"):
        best = grp.sort_values(["share", "words"], ascending=False)
        best = best.loc[best["share"] >= 0.3]
        if len(best):
            out[str(tp)] = (str(best.iloc[0]["theme"]), float(best.iloc[0]["share"]))
    return out


def _support_after(ctx: _Context) -> list[dict]:
    ev = ctx.ev
    support = set(ev.loc[ev["channel"].isin(ctx.support_channels), "touchpoint"].dropna())
    if not support:
        return []
    contacts = ev.loc[ev["touchpoint"].isin(support), ["jid", "ts_s"]]
    visits = ev.loc[~ev["touchpoint"].isin(support), ["jid", "touchpoint", "ts_s"]]
    # For each visit: is there a support contact in (ts, ts + window]?
    c = contacts.sort_values(["jid", "ts_s"])
    merged = pd.merge_asof(
        visits.sort_values("ts_s").rename(columns={"ts_s": "t"}),
        c.rename(columns={"ts_s": "contact_t"}).sort_values("contact_t"),
        left_on="t",
        right_on="contact_t",
        by="jid",
        direction="forward",
        allow_exact_matches=False,
    )
    merged["followed"] = (merged["contact_t"] - merged["t"]) <= SUPPORT_WINDOW_S
    per = merged.groupby(["jid", "touchpoint"])["followed"].any().reset_index()
    per_tp = per.groupby("touchpoint").agg(hits=("followed", "sum"), n=("followed", "size"))
    rows = []
    names = ", ".join(sorted(support))
    for tp in per_tp.index:
        x, n = per_tp.at[tp, "hits"], per_tp.at[tp, "n"]
        x0, n0 = per_tp["hits"].sum() - x, per_tp["n"].sum() - n
        if n < ctx.min_n or n0 < ctx.min_n:
            continue
        t = stats.two_proportion_test(float(x), float(n), float(x0), float(n0), "greater")
        rows.append(
            _row(
                type="support_after",
                **ctx.place(tp),
                related=names,
                channel=",".join(ctx.support_channels),
                customers_affected=int(n),
                metric="share of customers contacting support within 24 h",
                **_proportion_fields(t, n, n0, "one-sided (greater)"),
                excess_rate=t["diff"],
                loss_basis="experience",
                title=f"Support contacts after {tp}",
                description=(
                    f"{_pct(t['p1'])} of {int(n)} customers at {tp} contact support ({names}) "
                    f"within 24 h, against {_pct(t['p2'])} after other touchpoints."
                ),
            )
        )
    return rows


def _channel_switch(ctx: _Context) -> list[dict]:
    ev, f = ctx.ev, ctx.f
    converted = f.customers["converted"]
    outbound = set(ctx.outbound_channels)
    # A switch is a move to a channel the customer has not used before in the journey:
    # going back to the web after a chat is the chat's consequence, not a new switch.
    seen_before = ev.duplicated(["jid", "channel"])
    switch = (
        ev["prev_channel"].notna()
        & ~seen_before
        & (ev["prev_channel"] != ev["channel"])
        & ~ev["prev_channel"].isin(outbound)
        & ~ev["channel"].isin(outbound)
        & ev["touchpoint"].map(_pre_goal_of(ctx, ev["touchpoint"])).fillna(False).astype(bool)
    )
    sw = ev.loc[switch]
    jids_in = {stage: set(g) for stage, g in ev.groupby("stage", sort=False)["jid"]}
    rows = []
    for (tp, ch), grp in sw.groupby(["touchpoint", "channel"]):
        who = set(grp["jid"])
        stage = f.stage_of.get(tp)
        in_stage = jids_in.get(stage, set()) - who
        n, n0 = len(who), len(in_stage)
        if n < ctx.min_n or n0 < ctx.min_n:
            continue
        x = float(converted.loc[list(who)].sum())
        x0 = float(converted.loc[list(in_stage)].sum())
        t = stats.two_proportion_test(x, n, x0, n0, "two-sided")
        came_from = grp["prev_channel"].value_counts().index[0]
        better = t["diff"] > 0
        rows.append(
            _row(
                type="channel_switch",
                **ctx.place(tp),
                channel=ch,
                related=str(came_from),
                direction="better" if better else "worse",
                customers_affected=n,
                metric="conversion of customers switching channel here",
                **_proportion_fields(t, n, n0, "two-sided"),
                excess_rate=-t["diff"],
                conversion_lost=-t["diff"],
                loss_basis="conversion",
                title=(
                    f"Switching to {ch} at {tp} "
                    + ("converts better" if better else "fails to convert")
                ),
                description=(
                    f"{_pct(t['p1'])} of {n} customers who switch to {ch} at {tp} (mostly from "
                    f"{came_from}) convert, against {_pct(t['p2'])} of the other customers in "
                    f"the {stage} stage."
                ),
            )
        )
    return rows


def _pre_goal_of(ctx: _Context, touchpoints: pd.Series) -> dict[str, bool]:
    """:meth:`_Context.pre_goal` of each distinct touchpoint (one call each, not per event)."""
    return {t: ctx.pre_goal(t) for t in touchpoints.dropna().unique()}


def _conformance(ctx: _Context) -> list[dict]:
    ev, f = ctx.ev, ctx.f
    conv = f.customers["converted"]
    ranks = ev.dropna(subset=["rank"])
    keep = (ranks["jid"] != ranks["jid"].shift()) | (ranks["rank"] != ranks["rank"].shift())
    seq = ranks.loc[keep, ["jid", "rank"]]
    same = seq["jid"].shift(-1) == seq["jid"]
    nxt = seq["rank"].shift(-1)
    rows = []
    for r, stage in enumerate(f.stage_order[: ctx.goal_rank]):
        skipped = set(seq.loc[same & (seq["rank"] < r) & (nxt > r), "jid"])
        passed = set(seq.loc[seq["rank"] == r, "jid"]) - skipped
        n, n0 = len(skipped), len(passed)
        if n < ctx.min_n or n0 < ctx.min_n:
            continue
        x, x0 = float(conv.loc[list(skipped)].sum()), float(conv.loc[list(passed)].sum())
        t = stats.two_proportion_test(x, n, x0, n0, "less")
        rows.append(
            _row(
                type="conformance",
                stage=stage,
                customers_affected=n,
                metric="conversion of customers skipping the stage",
                **_proportion_fields(t, n, n0, "one-sided (less)"),
                excess_rate=-t["diff"],
                conversion_lost=-t["diff"],
                loss_basis="conversion",
                title=f"Customers skipping the {stage} stage convert less",
                description=(
                    f"{n} customers jump over the {stage} stage; {_pct(t['p1'])} of them "
                    f"convert, against {_pct(t['p2'])} of those who pass through it."
                ),
            )
        )
    return rows


# ----- ranking -------------------------------------------------------------------------
def _rank(
    rows: list[dict],
    f: JourneyFrames,
    alpha: float,
    min_excess: float,
    min_ratio: float,
    include_better: bool,
    top: int | None,
) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame(columns=COLUMNS)
    df = pd.DataFrame(rows)
    df["q_value"] = stats.benjamini_hochberg(df["p_value"].astype(float).to_numpy())
    df["direction"] = df["direction"].fillna("worse")
    ratio = df.pop("ratio") if "ratio" in df else pd.Series(np.nan, index=df.index)
    big = df["excess_rate"].abs() >= min_excess
    rate_kind = df["type"] != "slow_step"
    well_above = np.where(
        rate_kind,
        (df["observed"] >= min_ratio * df["norm"]) | (df["direction"] == "better")
        | (df["type"].isin(["channel_switch", "conformance"])),
        ratio.fillna(0) >= 3.0,
    )  # fmt: skip
    is_pain = (df["direction"] == "worse") & (df["excess_rate"] > 0)
    is_better = (df["direction"] == "better") & include_better
    df = df.loc[(df["q_value"] < alpha) & big & well_above & (is_pain | is_better)].copy()
    if df.empty:
        return pd.DataFrame(columns=COLUMNS)
    loss = np.where(df["loss_basis"] == "conversion", df["conversion_lost"], df["excess_rate"])
    loss = loss.astype(float) * np.where(df["direction"] == "better", -1.0, 1.0)
    df["value"] = f.value
    df["impact"] = df["customers_affected"].astype(float) * loss * f.value
    df = df.loc[df["impact"] > 0]
    lost_share = df["impact"] / f.value / max(len(f.customers), 1)
    df["severity"] = pd.cut(
        lost_share,
        [-np.inf, 0.005, 0.02, 0.05, np.inf],
        labels=["low", "medium", "high", "critical"],
    ).astype(str)
    df["confidence"] = [
        stats.confidence_level(min(a, b)) for a, b in zip(df["n"], df["n_norm"], strict=True)
    ]
    df = df.sort_values(["impact", "q_value"], ascending=[False, True], kind="stable")
    df["rank"] = np.arange(1, len(df) + 1)
    df["id"] = [_slug(r) for r in df.to_dict("records")]
    df = df.reset_index(drop=True)[COLUMNS]
    return df.head(top) if top else df


def _slug(r: dict) -> str:
    parts = [r["type"], r.get("related") if r["type"] == "slow_step" else None]
    parts += [r.get("touchpoint") or r.get("stage"), r.get("persona"), r.get("channel")]
    if r["type"] == "support_after":
        parts = [r["type"], r.get("touchpoint")]
    return "detected_" + "_".join(str(p).replace(",", "_") for p in parts if p)
