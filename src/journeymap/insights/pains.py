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
whose norm is a conversion rate, not a rate of something bad. Times are the engine's
whole microseconds: waits are exact differences (equal waits tie), and a support contact
exactly 24 h after a visit counts. "Mostly X" (the loop partner, where backward moves go,
the channel switchers came from) is the most frequent value, the first seen on a tie.

How it runs: every detector reads the journey store's integer codes (touchpoint, stage,
channel) and times as numpy arrays (:class:`_Context`, built once per call), never pandas
frames of names: at 10M events each pass costs tens of milliseconds instead of seconds.
:func:`candidates` lists every place tested, before the filters and the ranking.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from journeymap.engine.metrics import step_pairs
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
    rows, f = _candidate_rows(analysis, min_n, support_channels, types, stage_norm)
    return _rank(_merge_loop_pairs(rows), f, alpha, min_excess, min_ratio, include_better, top)


def candidates(
    analysis: Any,
    *,
    min_n: int = 30,
    support_channels: tuple[str, ...] = ("phone",),
    types: tuple[str, ...] | None = None,
    stage_norm: str = "pooled",
) -> pd.DataFrame:
    """Every place tested, before the significance and size filters and the ranking.

    One row per candidate with its counts, rates, CI and p-value (plus ``ratio``, the
    step's median over the norm's, for slow steps); ``rank``, ``q_value``, ``impact`` and
    the other ranking columns are empty. Why a place is *not* reported can be read here,
    and the tests check these figures against an independent pandas recomputation.
    """
    rows, _ = _candidate_rows(analysis, min_n, support_channels, types, stage_norm)
    return pd.DataFrame(rows, columns=[*COLUMNS, "ratio"])


_DETECTORS = (
    "dropoff",
    "slow_step",
    "loop",
    "backward",
    "voice",
    "support_after",
    "channel_switch",
    "conformance",
)


def _candidate_rows(
    analysis: Any,
    min_n: int,
    support_channels: tuple[str, ...],
    types: tuple[str, ...] | None,
    stage_norm: str,
) -> tuple[list[dict], JourneyFrames]:
    """The candidates of every detector asked for, and the frames they were read from."""
    if stage_norm not in ("typical", "pooled"):
        raise ValueError(f"stage_norm: expected 'typical' or 'pooled', got {stage_norm!r}")
    unknown = set(types or ()) - set(_DETECTORS)
    if unknown:
        raise ValueError(f"types: unknown {sorted(unknown)}; known: {', '.join(_DETECTORS)}")
    f = journey_frames(analysis)
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
    rows: list[dict] = []
    for name in _DETECTORS:
        if types is None or name in types:
            rows.extend(detectors[name](ctx))
    return rows, f


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
    """The per-event and per-(customer, touchpoint) facts every detector needs, computed
    once as numpy arrays over the journey store's integer codes.

    Events are the mapped events of :class:`JourneyFrames` in journey order (``jid``
    sorted, each journey in the engine's order). Touchpoint, stage and channel are codes
    into sorted dictionaries, so code order is name order and a table indexed by code
    lists names in the order pandas' ``groupby`` would. A *pair* is one customer at one
    touchpoint (``pair_jid``, ``pair_tp``, its first event ``pair_first``), in the order
    of :func:`journeymap.engine.metrics.step_pairs` (touchpoint, then journey), which
    touchpoint metrics read too; ``pair`` maps each event to its pair.
    """

    def __init__(
        self,
        f: JourneyFrames,
        min_n: int,
        support_channels: tuple[str, ...],
        stage_norm: str = "pooled",
    ):
        self.f, self.min_n, self.support_channels = f, min_n, support_channels
        self.stage_norm = stage_norm
        j = f.journeys
        self.tp_names = j.names["touchpoint"]
        self.channel_names = j.names["channel"]
        self.stage_names = j.names["stage"]
        # int32 codes as the store holds them: no copies (each 10M-event pass counts)
        self.jid = jid = j.journey_of_event
        self.tp = tp = j.codes["touchpoint"]
        self.stage = j.codes["stage"]
        self.channel = j.codes["channel"]
        n = len(jid)
        self.n_journeys = len(j)
        self.n_tp = len(self.tp_names)
        #: same_prev[i]: event i - 1 is in the same journey; same_next[i]: event i + 1 is.
        self.same_prev = np.zeros(n, dtype=bool)
        self.same_prev[1:] = jid[1:] == jid[:-1]
        self.same_next = np.zeros(n, dtype=bool)
        self.same_next[:-1] = self.same_prev[1:]
        # the (customer, touchpoint) pairs touchpoint metrics count: inside
        # engine.journeys.sharing (a snapshot) built once for both (0.5 s at 10M)
        pairs = step_pairs(j)
        #: run_start[i]: event i starts a run of one touchpoint (a journey's first event,
        #: or a touchpoint other than the previous event's); read only (cached)
        self.run_start = pairs.run_start
        rank_of = {s: i for i, s in enumerate(f.stage_order)}
        #: rank of each event's stage in the designed order; -1: no stage or not designed.
        table = np.array([rank_of.get(s, -1) for s in self.stage_names] + [-1], dtype=np.int16)
        self.rank = table[self.stage]  # code -1 picks the trailing -1
        first_stage = f.stage_order[0] if f.stage_order else None
        first_code = j.code_of(first_stage, "stage") if first_stage is not None else -1
        seen = np.unique(self.channel[(self.stage == first_code) & (self.channel >= 0)])
        #: Channels we reach customers on (the first stage's, e-mail): arriving from or
        #: being sent to them is acquisition or our own message, not a switch they chose.
        self.outbound_channels = tuple(
            sorted({str(self.channel_names[c]) for c in seen} - {"store", "web", "app"} | {"email"})
        )
        goal_stage = f.stage_of.get(f.goal) if f.goal else None
        self.goal_rank = rank_of.get(goal_stage, len(f.stage_order) - 1)
        self.pre_goal_code = np.array([self.pre_goal(str(t)) for t in self.tp_names], dtype=bool)
        self.pair = pairs.pair_of_event()
        self.pair_first = pairs.first
        self.pair_jid = pairs.jid
        self.pair_tp = pairs.code
        self.pair_runs = pairs.runs  # visits: runs of the touchpoint in the journey
        self.n_pairs = len(self.pair_first)
        # conversion after the first visit: the journey's last goal event comes later
        last_goal = np.full(self.n_journeys, -1, dtype=np.int64)
        goal_code = j.code_of(f.goal, "touchpoint") if f.goal else -1
        if goal_code >= 0:
            at_goal = np.flatnonzero(tp == goal_code)
            np.maximum.at(last_goal, jid[at_goal], at_goal)
        self.conv_after = last_goal[self.pair_jid] >= self.pair_first
        self.converted = f.customers["converted"].to_numpy(dtype=bool)
        #: customers at each touchpoint (touchpoint name -> count), touchpoints seen only
        self.customers_at = self.per_tp(self.pair_tp, n=None)["n"]

    def pre_goal(self, tp: str) -> bool:
        """Touchpoints on the way to the goal (its stage or earlier), the goal excluded."""
        stage = self.f.stage_of.get(tp)
        r = self.f.stage_rank(stage)
        return tp != self.f.goal and 0 <= r <= self.goal_rank

    def place(self, tp: str) -> dict:
        return {"touchpoint": tp, "stage": self.f.stage_of.get(tp)}

    def per_tp(self, codes: np.ndarray, **sums: np.ndarray | None) -> pd.DataFrame:
        """Per touchpoint code in ``codes``: how often each boolean of ``sums`` holds (None:
        a count of all); one row per touchpoint that occurs, indexed by name in name order
        (as a pandas ``groupby`` on the names would give)."""
        count = np.bincount(codes, minlength=self.n_tp)
        columns = {
            name: (count if w is None else np.bincount(codes[w], minlength=self.n_tp))
            for name, w in sums.items()
        }
        return self.tp_frame(count, columns)

    def tp_frame(self, count: np.ndarray, columns: dict[str, np.ndarray]) -> pd.DataFrame:
        """:meth:`per_tp`'s frame from counts per touchpoint code already made: the rows
        of touchpoints whose ``count`` is not 0."""
        present = np.flatnonzero(count > 0)
        return pd.DataFrame(
            {name: v[present].astype(np.int64) for name, v in columns.items()},
            index=pd.Index(self.tp_names[present].astype(object), name="touchpoint"),
        )

    def tp_name(self, code: int) -> str:
        return str(self.tp_names[code])


def _most_common(
    groups: np.ndarray, values: np.ndarray, n_groups: int, n_values: int
) -> np.ndarray:
    """Per group, the value seen most often in it (-1: none); a tie goes to the value
    seen first. ``groups`` and ``values`` are codes, in the order the items were seen.

    Counted in a dense groups x values table (touchpoints x touchpoints at most: small);
    only groups with a tie at the top look at the order of the items."""
    out = np.full(n_groups, -1, dtype=np.int64)
    if not len(groups):
        return out
    key = groups.astype(np.int64) * n_values + values
    counts = np.bincount(key, minlength=n_groups * n_values).reshape(n_groups, n_values)
    most = counts.max(axis=1)
    top = (counts == most[:, None]) & (most[:, None] > 0)
    n_top = top.sum(axis=1)
    single = n_top == 1
    out[single] = counts[single].argmax(axis=1)
    tied = np.flatnonzero(n_top > 1)
    if len(tied):  # the first item whose value is one of its group's tied leaders
        is_tied = np.zeros(n_groups, dtype=bool)
        is_tied[tied] = True
        g, v = key // n_values, key % n_values
        lead = np.flatnonzero(is_tied[g] & top[g, v])
        groups_seen, first = np.unique(g[lead], return_index=True)
        out[groups_seen] = v[lead[first]]
    return out


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
    j = ctx.f.journeys
    # a pair is an exit when its touchpoint is the one its journey ends at
    last_tp = ctx.tp[j.offsets[1:] - 1]
    exit_ = ctx.pair_tp == last_tp[ctx.pair_jid]
    # personas in the order they first appear over the journeys (jid order)
    persona_code, personas = pd.factorize(ctx.f.customers["persona"], use_na_sentinel=True)
    n_p = max(len(personas), 1)
    # Every count below from ONE bincount of the pairs' (touchpoint, persona + 1 (0: none),
    # exit, converted after the visit): a masked bincount per count cost 0.3 s at 10M.
    width = (n_p + 1) * 4
    wide = np.int32 if ctx.n_tp * width < 2**31 else np.int64
    key = ((persona_code + 1) * 4).astype(wide)[ctx.pair_jid]
    key += ctx.pair_tp.astype(wide, copy=False) * wide(width)
    key += exit_
    key += exit_
    key += ctx.conv_after
    counts = np.bincount(key, minlength=ctx.n_tp * width).reshape(ctx.n_tp, n_p + 1, 2, 2)
    del key
    n_all = counts.sum(axis=(1, 2, 3))
    per_tp = ctx.tp_frame(n_all, {"exits": counts[:, :, 1, :].sum(axis=(1, 2)), "n": n_all})
    tps = [t for t in per_tp.index if ctx.pre_goal(t)]
    per_tp = per_tp.loc[tps]  # the goal and later steps are no norm for drop-off
    rows = []

    # conversion of those who carried on, per touchpoint and per (touchpoint, persona)
    stay_n = counts[:, :, 0, :].sum(axis=(1, 2))
    stay_conv = counts[:, :, 0, 1].sum(axis=1)
    known = counts[:, 1:]  # customers with a persona
    n_tp_p = known.sum(axis=(2, 3))
    exits_tp_p = known[:, :, 1, :].sum(axis=2)
    stay_n_p = known[:, :, 0, :].sum(axis=2)
    stay_conv_p = known[:, :, 0, 1]
    code = {str(name): c for c, name in enumerate(ctx.tp_names)}

    def make(tp, persona, x, n, x0, n0, norm_words):
        t = stats.two_proportion_test(x, n, x0, n0, "greater")
        c = code[tp]
        if persona is None:
            cont = stay_conv[c] / stay_n[c] if stay_n[c] else 0.0
        else:
            p = personas.get_loc(persona)
            cont = stay_conv_p[c, p] / stay_n_p[c, p] if stay_n_p[c, p] else 0.0
        cont = float(cont)
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
    # per persona: against the touchpoint's other personas (customers without one left out)
    for tp in tps:
        c = code[tp]
        if not n_tp_p[c].sum():
            continue
        for p, persona in enumerate(personas):
            n, x = int(n_tp_p[c, p]), int(exits_tp_p[c, p])
            n0, x0 = int(n_tp_p[c].sum()) - n, int(exits_tp_p[c].sum()) - x
            if n < ctx.min_n or n0 < ctx.min_n:
                continue
            rows.append(make(tp, persona, x, n, x0, n0, "of the other personas there"))
    return rows


def _slow_steps(ctx: _Context) -> list[dict]:
    rank, g = ctx.rank, ctx.goal_rank
    # a move: a new touchpoint within a journey, both ends in designed stages up to the goal's
    pre = (rank >= 0) & (rank <= g)
    is_move = ctx.run_start & ctx.same_prev & pre
    is_move[1:] &= pre[:-1]
    at = np.flatnonzero(is_move)
    if not len(at):
        return []
    # the moves as plain arrays (a DataFrame would copy them into one block: 0.5 s at 10M)
    before = at - 1  # the event each move comes from
    cross = rank[at] != rank[before]
    ts = ctx.f.journeys.ts
    # seconds from the exact microsecond difference: equal waits stay equal (ties)
    gap_us = ts[at]
    gap_us -= ts[before]
    gap_s = gap_us / 1e6
    wide = np.int32 if ctx.n_tp**2 < 2**31 else np.int64
    step = ctx.tp[before].astype(wide) * max(ctx.n_tp, 1) + ctx.tp[at]  # step id (src, dst)
    del before  # (the source and journey of a move are read from ``at`` where needed)
    if ctx.n_tp**2 < 2**15:  # numpy sorts 16-bit integers by radix (stable, linear time)
        step = step.astype(np.int16)
    moves = {"cross": cross, "gap_s": gap_s, "gap_us": gap_us, "step": step}
    # The norm of a step is every other move of its kind: ranked and sorted once per kind,
    # so each step costs its own size, not a pass over all moves (10M events: 50x faster).
    pools = {kind: _MovePool(moves, kind) for kind in (False, True)}
    del moves, gap_us  # the pools hold what they need (each is one int64 a move)
    # steps (src, dst) in the order they are first seen; each step's moves in move order
    order = np.argsort(step, kind="stable")
    # each step's slice of ``order``, from the counts (no gathers of the sorted steps)
    sizes = np.bincount(step)
    ends = np.cumsum(sizes[sizes > 0])
    starts = ends - sizes[sizes > 0]
    rows = []
    for s in np.argsort(order[starts], kind="stable"):
        idx = order[starts[s] : ends[s]]
        if len(idx) < ctx.min_n:
            continue
        src, dst = ctx.tp_name(ctx.tp[at[idx[0]] - 1]), ctx.tp_name(ctx.tp[at[idx[0]]])
        kind = bool(cross[idx[0]])
        pool = pools[kind]
        if cross[idx].all() or not cross[idx].any():
            n_norm = pool.size - len(idx)
            if n_norm < ctx.min_n:
                continue
            med0, p90 = pool.norm_median_p90(int(step[idx[0]]))
            p = pool.mann_whitney_greater(int(step[idx[0]]))
        else:  # a step whose events disagree on their stage: the plain computation
            mine = np.zeros(len(at), dtype=bool)
            mine[idx] = True
            norm = (cross == kind) & ~mine
            n_norm = int(norm.sum())
            if n_norm < ctx.min_n:
                continue
            med0 = float(pd.Series(gap_s[norm]).median())
            p90 = float(pd.Series(gap_s[norm]).quantile(0.9))
            p = stats.mann_whitney_greater(_log_gap(gap_s[idx]), _log_gap(gap_s[norm]))
        mine_gap = gap_s[idx]
        med = float(pd.Series(mine_gap).median())
        slow_share = float((mine_gap > p90).mean())
        # moves are in journey order, so a step's journeys come sorted: count the changes
        customers = int(1 + np.count_nonzero(np.diff(ctx.jid[at[idx]])))
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
                n=len(idx),
                n_norm=n_norm,
                test="Mann-Whitney U on log time, one-sided (greater)",
                p_value=p,
                title=f"Slow step {src} -> {dst}",
                description=(
                    f"The step {src} -> {dst} takes {_duration(med)} at the median over "
                    f"{len(idx)} moves, against {_duration(med0)} for moves {words}; "
                    f"{_pct(slow_share)} take longer than 90% of those ({_duration(p90)})."
                ),
            )
        )
    return rows


class _MovePool:
    """All moves of one kind, ranked and sorted once, to test each step against the others.

    A step's norm is the pool without the step's own moves, so the step and its norm
    together are the pool: the Mann-Whitney U of the step is the sum of its ranks in the
    pool, and the norm's order statistics are the pool's with the step's positions skipped.
    Both come from one sort of the pool and one stable (radix) sort of the step ids, which
    gives the sorted positions of each step's moves: a step's rank sum is the sum of its
    positions (+1 each), with only the tied positions moved to their run's mean rank.
    The arithmetic is scipy's (``mannwhitneyu``, asymptotic with tie and continuity
    correction) and numpy's (median, linear quantile), so the results are the same floats
    as ``stats.mann_whitney_greater`` and ``Series.median``/``quantile`` on the norm.
    """

    def __init__(self, moves: Mapping[str, Any], kind: bool):
        """``moves``: columns ``cross``, ``gap_s`` and ``step`` (the step's id, a small
        non-negative integer), and optionally ``gap_us``, the same gaps in whole
        microseconds (``gap_s == gap_us / 1e6``), as arrays or a DataFrame."""
        cross = np.asarray(moves["cross"])
        all_steps = np.asarray(moves["step"])
        self.n_steps = int(all_steps.max()) + 1 if len(all_steps) else 0
        rows = np.flatnonzero(cross == kind)
        if len(rows) < 2**31:  # kept for the pool's life: half the memory (100M: 0.2 GB)
            rows = rows.astype(np.int32)
        self.size = len(rows)
        self.step = step = all_steps[rows]
        self._gap_s, self._rows = moves["gap_s"], rows  # the pool's gaps, when needed
        gap_us = np.asarray(moves["gap_us"])[rows] if "gap_us" in moves else None
        self.gap_sorted, slot_step = self._sorted(gap_us, step)
        self.count = np.bincount(step, minlength=self.n_steps)
        # sorted positions of each step's moves: the slots grouped by step, in slot order
        small = slot_step.astype(np.int16) if self.n_steps < 2**15 else slot_step
        self.slots = np.argsort(small, kind="stable")  # (16 bits: radix, linear time)
        if self.size < 2**31:  # (sums of slots below are taken in the platform's int64)
            self.slots = self.slots.astype(np.int32)
        del small
        self.first_slot = np.r_[0, np.cumsum(self.count)]
        # log10 does not reverse an order, so the logs of the sorted gaps are sorted: the
        # runs of equal logs are the ties, which share their mean rank
        ranked = _log_gap(self.gap_sorted)
        if self.size and not (ranked[1:] >= ranked[:-1]).all():  # never seen; to be sure
            by_log = np.argsort(ranked, kind="stable")
            ranked, rank_step = ranked[by_log], slot_step[by_log]
            ordinal = np.bincount(rank_step, np.arange(1.0, self.size + 1), self.n_steps)
        else:  # each step's ordinal ranks are its slots + 1: summed as exact integers
            rank_step = slot_step
            sums = np.r_[0, np.cumsum(self.slots)][self.first_slot]
            ordinal = (np.diff(sums) + self.count).astype(float)
        # Ties: only the slots in a run of equal logs move from their ordinal rank to the
        # run's mean rank. Every rank and sum is a whole or half number far below 2**53,
        # so these sums are exact: the same floats as summing the mean ranks themselves.
        eq = ranked[1:] == ranked[:-1]  # eq[i]: slot i + 1 ties with slot i
        tied = np.flatnonzero(np.r_[eq, False] | np.r_[False, eq])
        head = np.ones(len(tied), dtype=bool)  # first slot of each run of ties
        head[1:] = ~eq[tied[1:] - 1]
        run_at = np.flatnonzero(head)
        lengths = np.diff(np.r_[run_at, len(tied)]).astype(float)
        mean_rank = tied[run_at] + 1 + (lengths - 1) / 2
        shift = np.repeat(mean_rank, lengths.astype(np.int64)) - (tied + 1)
        self.rank_sum = ordinal + np.bincount(rank_step[tied], shift, self.n_steps)
        self.tie_term = np.sum(lengths**3 - lengths)  # as scipy's: over the tie counts

    @property
    def gap(self) -> np.ndarray:
        """The pool's gaps in seconds, in move order."""
        return np.asarray(self._gap_s, dtype=float)[self._rows]

    def _sorted(self, gap_us: np.ndarray | None, step: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The gaps in order and the step of each. With whole microseconds that leave room
        for the step id in an int64, one plain sort of ``gap_us << bits | step`` gives
        both (about twice as fast as ``argsort`` and its gathers); equal gaps may come in
        any order, as only the values and the tie runs are read."""
        bits = max(int(self.n_steps - 1).bit_length(), 1)
        if gap_us is not None and (
            not len(gap_us) or (gap_us.min() >= 0 and gap_us.max() < 1 << (62 - bits))
        ):
            # in place: ``gap_us`` is the pool's own copy (one int64 a move at 100M: 0.4 GB)
            packed = gap_us.astype(np.int64, copy=False)
            packed <<= bits
            packed |= step
            packed.sort()
            slot_step = (packed & ((1 << bits) - 1)).astype(step.dtype)
            packed >>= bits
            return packed / 1e6, slot_step
        gap = self.gap
        by_gap = np.argsort(gap)
        return gap[by_gap], step[by_gap]

    def _count(self, step: int) -> int:
        return int(self.count[step]) if 0 <= step < self.n_steps else 0

    def mann_whitney_greater(self, step: int) -> float:
        """One-sided p that the moves of ``step`` take longer than the rest of the pool."""
        from scipy import special

        n1 = self._count(step)
        n2 = self.size - n1
        if min(n1, n2) <= 8:  # scipy may use the exact distribution: let it decide
            mine = self.step == step
            return stats.mann_whitney_greater(_log_gap(self.gap[mine]), _log_gap(self.gap[~mine]))
        r1 = self.rank_sum[step]
        u1 = r1 - n1 * (n1 + 1) / 2
        n = n1 + n2
        s = np.sqrt(n1 * n2 / 12 * ((n + 1) - self.tie_term / (n * (n - 1))))
        z = (u1 - n1 * n2 / 2 - 0.5) / s
        return float(np.clip(special.ndtr(-z), 0.0, 1.0))

    def norm_median_p90(self, step: int) -> tuple[float, float]:
        """Median and 90th percentile (numpy's linear) of the pool's gaps without ``step``."""
        skip = self.slots[self.first_slot[step] : self.first_slot[step + 1]]
        n0 = self.size - len(skip)
        # kept_before[i]: slots not skipped below skip[i] (non-decreasing)
        kept_before = skip - np.arange(len(skip))

        def kth(k: int) -> float:  # k-th smallest (0-based) of the sorted gaps not skipped
            # every skipped slot with at most k kept slots below it lies below the answer
            return float(self.gap_sorted[k + np.searchsorted(kept_before, k, side="right")])

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


def _log_gap(gap_s: np.ndarray) -> np.ndarray:
    """The scale slow steps are tested on: log10 seconds, waits under 1 ms counted as 1 ms."""
    return np.log10(np.clip(gap_s, 1e-3, None))


def _duration(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.0f} s"


def _loops(ctx: _Context) -> list[dict]:
    # Runs of the same touchpoint collapse: a a b counts once, a b a is a return (loop).
    runs = np.flatnonzero(ctx.run_start)
    loop = ctx.pair_runs >= 2  # per pair
    per_tp = ctx.per_tp(ctx.pair_tp, loops=loop, n=None)
    partners = _loop_partners(ctx, runs, loop)
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


def _loop_partners(ctx: _Context, runs: np.ndarray, loop: np.ndarray) -> dict[str, str]:
    """Per touchpoint, the touchpoint most often visited right after it by the customers
    who loop there (one pass over the runs for all touchpoints; first seen wins a tie)."""
    here, after = runs[:-1], runs[1:]
    keep = (ctx.jid[after] == ctx.jid[here]) & loop[ctx.pair[here]]
    best = _most_common(ctx.tp[here[keep]], ctx.tp[after[keep]], ctx.n_tp, ctx.n_tp)
    return {ctx.tp_name(t): ctx.tp_name(b) for t, b in enumerate(best) if b >= 0}


def _backward(ctx: _Context) -> list[dict]:
    next_rank = np.r_[ctx.rank[1:], -1]
    back = ctx.same_next & (next_rank >= 0) & (ctx.rank >= 0) & (next_rank < ctx.rank)
    moved = np.zeros(ctx.n_pairs, dtype=bool)  # per pair
    moved[ctx.pair[back]] = True
    per_tp = ctx.per_tp(ctx.pair_tp, backs=moved, n=None)
    tps = [t for t in per_tp.index if ctx.pre_goal(t)]
    per_tp = per_tp.loc[tps]
    # conversion after the first visit, of the pairs that moved back and of the others
    conv = ctx.conv_after
    n_mv = np.bincount(ctx.pair_tp[moved], minlength=ctx.n_tp)
    c_mv = np.bincount(ctx.pair_tp[moved & conv], minlength=ctx.n_tp)
    n_st = np.bincount(ctx.pair_tp[~moved], minlength=ctx.n_tp)
    c_st = np.bincount(ctx.pair_tp[~moved & conv], minlength=ctx.n_tp)
    at = np.flatnonzero(back)
    back_to = _most_common(ctx.tp[at], ctx.tp[at + 1], ctx.n_tp, ctx.n_tp)
    code = {str(name): c for c, name in enumerate(ctx.tp_names)}
    rows = []
    for tp, x, n, x0, n0, words in _stage_norm_rows(ctx, per_tp, "backs", "n", tps):
        t = stats.two_proportion_test(x, n, x0, n0, "greater")
        c = code[tp]
        stayers = c_st[c] / n_st[c] if n_st[c] else math.nan
        movers = c_mv[c] / n_mv[c] if n_mv[c] else math.nan
        gap = float(stayers - movers)
        to = ctx.tp_name(back_to[c]) if back_to[c] >= 0 else None
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
    wanted = [c for c, name in enumerate(ctx.channel_names) if name in ctx.support_channels]
    support = np.array([], int)
    if wanted:  # touchpoints with an event on a support channel, counted (no sort)
        on_support = np.bincount(ctx.tp[np.isin(ctx.channel, wanted)], minlength=ctx.n_tp)
        support = np.flatnonzero(on_support)
    if not len(support):
        return []
    n = len(ctx.tp)
    # For each visit: is there a support contact in (ts, ts + window] in its journey? The
    # events are in time order, so the first contact after the visit's last tie (same
    # journey and time) is the first one strictly later.
    ts = ctx.f.journeys.ts  # int64 microseconds: exact ties and window
    tie_start = np.ones(n, dtype=bool)
    tie_start[1:] = ~ctx.same_prev[1:] | (ts[1:] != ts[:-1])
    index = np.arange(n + 1, dtype=np.int32 if n < 2**31 - 1 else np.int64)

    def next_at(flags: np.ndarray) -> np.ndarray:
        """[k]: the first index >= k where ``flags`` holds (n: none), for k in 0..n."""
        return np.minimum.accumulate(np.where(np.r_[flags, True], index, n)[::-1])[::-1]

    tie_end = next_at(tie_start)[1:]  # one past the last event of each event's tie
    c = next_at(np.isin(ctx.tp, support))[tie_end]
    del tie_end
    found = c < n
    c[~found] = 0
    window = SUPPORT_WINDOW_S * 1_000_000
    wait = ts[c]
    wait -= ts
    followed = found & (ctx.jid[c] == ctx.jid) & (wait <= window)
    del wait, c
    visit_pairs = ~np.isin(ctx.pair_tp, support)
    hit = np.zeros(ctx.n_pairs, dtype=bool)
    hit[ctx.pair[followed]] = True
    per_tp = ctx.per_tp(ctx.pair_tp[visit_pairs], hits=hit[visit_pairs], n=None)
    rows = []
    names = ", ".join(sorted(ctx.tp_name(t) for t in support))
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
    f, ch = ctx.f, ctx.channel  # int32 codes, not copied (each copy: 4-8 bytes an event)
    n_ch = len(ctx.channel_names)
    outbound = np.array(
        [name in ctx.outbound_channels for name in ctx.channel_names] + [False], dtype=bool
    )
    # A switch is a move to a channel the customer has not used before in the journey:
    # going back to the web after a chat is the chat's consequence, not a new switch.
    # (no channel counts as a value of its own, as pandas' ``duplicated`` counts it.) One
    # pass per channel: its events in journey order, the first of each journey is a first use.
    first_use = np.zeros(len(ch), dtype=bool)
    for c in range(-1, n_ch):
        at_c = np.flatnonzero(ch == c)
        if len(at_c):
            jid_c = ctx.jid[at_c]
            first_use[at_c[np.r_[True, jid_c[1:] != jid_c[:-1]]]] = True
    prev_ch = np.empty_like(ch)
    prev_ch[:1] = -1
    prev_ch[1:] = ch[:-1]
    switch = (
        ctx.same_prev
        & (prev_ch >= 0)
        & (ch >= 0)
        & first_use
        & (prev_ch != ch)
        & ~outbound[prev_ch]
        & ~outbound[ch]
        & ctx.pre_goal_code[ctx.tp]
    )
    at = np.flatnonzero(switch)
    # customers with an event in each stage (by the events' own stage)
    in_stage = np.zeros((len(ctx.stage_names), ctx.n_journeys), dtype=bool)
    staged = ctx.stage >= 0
    in_stage[ctx.stage[staged], ctx.jid[staged]] = True
    conv = ctx.converted
    group = ctx.tp[at] * n_ch + ch[at]  # (touchpoint, channel), name order
    came = _most_common(group, prev_ch[at], ctx.n_tp * n_ch, n_ch)
    by_group = np.argsort(group, kind="stable")
    grouped = group[by_group]
    cuts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1], True]) if len(at) else [0]
    rows = []
    for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
        g = group[by_group[lo]]
        # the group's switches in event order (stable sort), so their journeys come sorted:
        # the distinct ones are the changes (np.unique would sort them again)
        jids = ctx.jid[at[by_group[lo:hi]]]
        who = jids[np.r_[True, jids[1:] != jids[:-1]]]
        tp, channel = ctx.tp_name(g // n_ch), str(ctx.channel_names[g % n_ch])
        stage = f.stage_of.get(tp)
        code = ctx.f.journeys.code_of(stage, "stage") if stage is not None else -1
        members = in_stage[code] if code >= 0 else np.zeros(ctx.n_journeys, dtype=bool)
        n = len(who)
        n0 = int(members.sum() - members[who].sum())
        if n < ctx.min_n or n0 < ctx.min_n:
            continue
        x = float(conv[who].sum())
        x0 = float(conv[members].sum() - conv[who[members[who]]].sum())
        t = stats.two_proportion_test(x, n, x0, n0, "two-sided")
        came_from = str(ctx.channel_names[came[g]])
        better = t["diff"] > 0
        rows.append(
            _row(
                type="channel_switch",
                **ctx.place(tp),
                channel=channel,
                related=came_from,
                direction="better" if better else "worse",
                customers_affected=n,
                metric="conversion of customers switching channel here",
                **_proportion_fields(t, n, n0, "two-sided"),
                excess_rate=-t["diff"],
                conversion_lost=-t["diff"],
                loss_basis="conversion",
                title=(
                    f"Switching to {channel} at {tp} "
                    + ("converts better" if better else "fails to convert")
                ),
                description=(
                    f"{_pct(t['p1'])} of {n} customers who switch to {channel} at {tp} (mostly "
                    f"from {came_from}) convert, against {_pct(t['p2'])} of the other customers "
                    f"in the {stage} stage."
                ),
            )
        )
    return rows


def _conformance(ctx: _Context) -> list[dict]:
    f, conv = ctx.f, ctx.converted
    # each journey as its runs of stage ranks (events without a designed stage left out)
    at = np.flatnonzero(ctx.rank >= 0)
    jid, rank = ctx.jid[at], ctx.rank[at]
    keep = np.r_[True, (jid[1:] != jid[:-1]) | (rank[1:] != rank[:-1])][: len(jid)]
    jid, rank = jid[keep], rank[keep]
    same = np.r_[jid[1:] == jid[:-1], False]
    nxt = np.r_[rank[1:], -1]
    rows = []
    for r, stage in enumerate(f.stage_order[: ctx.goal_rank]):
        skipped = np.zeros(ctx.n_journeys, dtype=bool)
        skipped[jid[same & (rank < r) & (nxt > r)]] = True
        passed = np.zeros(ctx.n_journeys, dtype=bool)
        passed[jid[rank == r]] = True
        passed &= ~skipped
        n, n0 = int(skipped.sum()), int(passed.sum())
        if n < ctx.min_n or n0 < ctx.min_n:
            continue
        x, x0 = float(conv[skipped].sum()), float(conv[passed].sum())
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
