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
from collections.abc import Iterator
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from journeymap.engine.journeys import journey_ranges
from journeymap.engine.metrics import stable_order, step_pairs
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
#: Events (or pairs, or moves) the detectors scan at a time. Every per-event temporary of
#: a detector is this size, not the log's: 256K events make 0.25-2 MB each, where a whole
#: pass made 8-80 MB at 10M events (0.1-0.8 GB at 100M); numpy still runs at full speed
#: on arrays this long. Tests lower it to check that the work split into ranges gives the
#: same answers.
RANGE_EVENTS = 1 << 18


def _chunks(n: int) -> list[slice]:
    """``0:n`` in slices of :data:`RANGE_EVENTS` (per-pair and per-move passes)."""
    return [slice(lo, min(lo + RANGE_EVENTS, n)) for lo in range(0, n, RANGE_EVENTS)]


class _Context:
    """The per-(customer, touchpoint) facts every detector needs, computed once, and the
    events as ranges of whole journeys (:meth:`ranges`).

    Events are the mapped events of :class:`JourneyFrames` in journey order (``jid``
    sorted, each journey in the engine's order). Touchpoint, stage and channel are codes
    into sorted dictionaries, so code order is name order and a table indexed by code
    lists names in the order pandas' ``groupby`` would. A *pair* is one customer at one
    touchpoint (``pair_jid``, ``pair_tp``, its first event ``pair_first``), in the order
    of :func:`journeymap.engine.metrics.step_pairs` (touchpoint, then journey), which
    touchpoint metrics read too; :attr:`_Range.pair` maps each event of a range to its pair.

    Memory: nothing per event is kept here beyond the journeys' own (shared) arrays; the
    per-event facts a detector reads (same journey as the previous event, stage rank, pair)
    are made per range by :class:`_Range` (a whole-log copy of them cost 8 bytes an event,
    0.8 GB at 100M). Kept per pair: ``conv_after`` (1 byte).
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
        self.n_journeys = len(j)
        self.n_tp = len(self.tp_names)
        # the (customer, touchpoint) pairs touchpoint metrics count: inside
        # engine.journeys.sharing (a snapshot) built once for both (0.5 s at 10M)
        pairs = step_pairs(j)
        #: run_start[i]: event i starts a run of one touchpoint (a journey's first event,
        #: or a touchpoint other than the previous event's); read only (cached)
        self.run_start = pairs.run_start
        self.pair_of_run = pairs.pair_of_run
        rank_of = {s: i for i, s in enumerate(f.stage_order)}
        #: rank of each stage code in the designed order (-1: not designed), and a
        #: trailing -1 that code -1 (no stage) picks: a range's ranks are ``table[stage]``
        self.rank_table = np.array(
            [rank_of.get(s, -1) for s in self.stage_names] + [-1], dtype=np.int16
        )
        first_stage = f.stage_order[0] if f.stage_order else None
        first_code = j.code_of(first_stage, "stage") if first_stage is not None else -1
        seen = np.zeros(len(self.channel_names) + 1, dtype=bool)
        for part in _chunks(len(tp)):
            channel = self.channel[part]
            seen[channel[(self.stage[part] == first_code) & (channel >= 0)]] = True
        #: Channels we reach customers on (the first stage's, e-mail): arriving from or
        #: being sent to them is acquisition or our own message, not a switch they chose.
        self.outbound_channels = tuple(
            sorted(
                {str(self.channel_names[c]) for c in np.flatnonzero(seen[:-1])}
                - {"store", "web", "app"}
                | {"email"}
            )
        )
        goal_stage = f.stage_of.get(f.goal) if f.goal else None
        self.goal_rank = rank_of.get(goal_stage, len(f.stage_order) - 1)
        self.pre_goal_code = np.array([self.pre_goal(str(t)) for t in self.tp_names], dtype=bool)
        self.pair_first = pairs.first
        self.pair_jid = pairs.jid
        self.pair_tp = pairs.code
        self.pair_runs = pairs.runs  # visits: runs of the touchpoint in the journey
        self.n_pairs = len(self.pair_first)
        # conversion after the first visit: the journey's last goal event comes later
        last_goal = np.full(self.n_journeys, -1, dtype=self.pair_first.dtype)
        goal_code = j.code_of(f.goal, "touchpoint") if f.goal else -1
        if goal_code >= 0:
            for part in _chunks(len(tp)):
                at_goal = np.flatnonzero(tp[part] == goal_code) + part.start
                np.maximum.at(last_goal, jid[at_goal], at_goal.astype(last_goal.dtype))
        self.conv_after = np.empty(self.n_pairs, dtype=bool)
        for part in _chunks(self.n_pairs):
            np.greater_equal(
                last_goal[self.pair_jid[part]], self.pair_first[part], out=self.conv_after[part]
            )
        del last_goal
        self.converted = f.customers["converted"].to_numpy(dtype=bool)
        #: customers at each touchpoint (touchpoint name -> count), touchpoints seen only
        self.customers_at = self.per_tp(self.pair_tp, n=None)["n"]

    def ranges(self) -> Iterator[_Range]:
        """The events in ranges of whole journeys of about :data:`RANGE_EVENTS` events (a
        journey longer than that is a range of its own): what happens within a journey
        (the previous event, the next contact, the first use of a channel) is seen whole
        in one range, and every per-event temporary is a range's size."""
        offsets = self.f.journeys.offsets
        runs_before = 0
        for first, last in journey_ranges(offsets, RANGE_EVENTS):
            lo, hi = int(offsets[first]), int(offsets[last])
            if lo == hi:  # (only empty journeys: nothing happens there)
                continue
            r = _Range(self, lo, hi, first, runs_before)
            yield r
            runs_before += int(np.count_nonzero(r.run_start))

    def pre_goal(self, tp: str) -> bool:
        """Touchpoints on the way to the goal (its stage or earlier), the goal excluded."""
        stage = self.f.stage_of.get(tp)
        r = self.f.stage_rank(stage)
        return tp != self.f.goal and 0 <= r <= self.goal_rank

    def place(self, tp: str) -> dict:
        return {"touchpoint": tp, "stage": self.f.stage_of.get(tp)}

    def count_tp(self, codes: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
        """Per touchpoint code: how many of ``codes`` there are (where ``where`` holds),
        counted a range at a time (``codes[where]`` would copy up to 4 bytes an item, and
        ``bincount`` copies int32 codes to int64: 8 bytes an item, 50 MB for 6.4M pairs)."""
        count = np.zeros(self.n_tp, dtype=np.int64)
        for part in _chunks(len(codes)):
            some = codes[part] if where is None else codes[part][where[part]]
            count += np.bincount(some, minlength=self.n_tp)
        return count

    def per_tp(self, codes: np.ndarray, **sums: np.ndarray | None) -> pd.DataFrame:
        """Per touchpoint code in ``codes``: how often each boolean of ``sums`` holds (None:
        a count of all); one row per touchpoint that occurs, indexed by name in name order
        (as a pandas ``groupby`` on the names would give)."""
        count = self.count_tp(codes)
        columns = {name: self.count_tp(codes, w) for name, w in sums.items()}
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


class _Range:
    """Events ``lo:hi`` of the log: whole journeys ``first`` onwards. The codes, times and
    journeys are views of the log's arrays; the facts below are made for the range when
    first read (a few bytes an event of the range only)."""

    def __init__(self, ctx: _Context, lo: int, hi: int, first: int, runs_before: int):
        self.ctx, self.lo, self.hi, self.first = ctx, lo, hi, first
        self.runs_before = runs_before  # runs (run starts) in the events before ``lo``
        self.tp = ctx.tp[lo:hi]
        self.stage = ctx.stage[lo:hi]
        self.channel = ctx.channel[lo:hi]
        self.jid = ctx.jid[lo:hi]
        self.ts = ctx.f.journeys.ts[lo:hi]
        self.run_start = ctx.run_start[lo:hi]

    def __len__(self) -> int:
        return self.hi - self.lo

    @cached_property
    def _same(self) -> np.ndarray:
        same = np.zeros(len(self) + 1, dtype=bool)  # [i]: events i - 1 and i share a journey
        np.equal(self.jid[1:], self.jid[:-1], out=same[1 : len(self)])
        return same

    @property
    def same_prev(self) -> np.ndarray:
        """[i]: event i - 1 is in the same journey (False at a range's start: a journey's)."""
        return self._same[:-1]

    @property
    def same_next(self) -> np.ndarray:
        """[i]: event i + 1 is in the same journey (a view of the same array, shifted)."""
        return self._same[1:]

    @cached_property
    def rank(self) -> np.ndarray:
        """Rank of each event's stage in the designed order; -1: no stage or not designed."""
        return self.ctx.rank_table[self.stage]  # code -1 picks the trailing -1

    @cached_property
    def pair(self) -> np.ndarray:
        """The pair (index into the context's pair arrays) of each event."""
        of_run = self.ctx.pair_of_run
        run_index = np.cumsum(self.run_start, dtype=of_run.dtype)
        run_index += self.runs_before - 1
        return of_run[run_index]


class _MostCommon:
    """Per group, the value seen most often in it (-1: none); a tie goes to the value
    seen first. Items come in the order they were seen, in any number of :meth:`add`
    calls (a range at a time): a dense groups x values table of counts and of the first
    item of each (touchpoints x touchpoints at most: small)."""

    def __init__(self, n_groups: int, n_values: int):
        self.n_groups, self.n_values = n_groups, n_values
        self.counts = np.zeros(n_groups * n_values, dtype=np.int64)
        self.first = np.full(n_groups * n_values, np.iinfo(np.int64).max, dtype=np.int64)
        self.seen = 0

    def add(self, groups: np.ndarray, values: np.ndarray) -> None:
        if len(groups):
            key = groups.astype(np.int64) * self.n_values + values
            self.counts += np.bincount(key, minlength=len(self.counts))
            keys, first = np.unique(key, return_index=True)
            np.minimum.at(self.first, keys, first + self.seen)
        self.seen += len(groups)

    def result(self) -> np.ndarray:
        counts = self.counts.reshape(self.n_groups, self.n_values)
        first = self.first.reshape(self.n_groups, self.n_values)
        most = counts.max(axis=1) if self.n_values else np.zeros(self.n_groups, np.int64)
        leader = (counts == most[:, None]) & (most[:, None] > 0)
        out = np.where(leader, first, np.iinfo(np.int64).max).argmin(axis=1)
        return np.where(most > 0, out, -1) if self.n_values else np.full(self.n_groups, -1)


def _most_common(
    groups: np.ndarray, values: np.ndarray, n_groups: int, n_values: int
) -> np.ndarray:
    """:class:`_MostCommon` of items all at hand."""
    acc = _MostCommon(n_groups, n_values)
    acc.add(groups, values)
    return acc.result()


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
    # personas in the order they first appear over the journeys (jid order)
    persona_code, personas = _factorize(ctx.f.customers["persona"])
    n_p = max(len(personas), 1)
    # Every count below from ONE bincount of the pairs' (touchpoint, persona + 1 (0: none),
    # exit, converted after the visit): a masked bincount per count cost 0.3 s at 10M.
    # (a range of pairs at a time: the keys of all pairs were 4 bytes a pair, 0.25 GB at 100M)
    width = (n_p + 1) * 4
    wide = np.int32 if ctx.n_tp * width < 2**31 else np.int64
    base = persona_code.astype(wide)  # per journey
    del persona_code
    base += 1
    base *= 4
    counts = np.zeros(ctx.n_tp * width, dtype=np.int64)
    for part in _chunks(ctx.n_pairs):
        pair_jid, pair_tp = ctx.pair_jid[part], ctx.pair_tp[part]
        key = base[pair_jid]
        key += pair_tp.astype(wide, copy=False) * wide(width)
        exit_ = pair_tp == last_tp[pair_jid]
        key += exit_
        key += exit_
        key += ctx.conv_after[part]
        counts += np.bincount(key, minlength=ctx.n_tp * width)
        del key, exit_
    counts = counts.reshape(ctx.n_tp, n_p + 1, 2, 2)
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


def _factorize(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(values)`` (codes in the order values first appear, -1 for missing)
    a range at a time: pandas' hash of a whole object column took 27 bytes a customer
    (46 MB at 1.8M customers), this takes the int32 codes and a range's hash."""
    codes = np.empty(len(values), dtype=np.int32)
    known: dict[Any, int] = {}
    for part in _chunks(len(values)):
        local, uniques = pd.factorize(values.iloc[part], use_na_sentinel=True)
        table = np.array([known.setdefault(u, len(known)) for u in uniques] + [-1], np.int32)
        codes[part] = table[local]  # (-1, missing, picks the trailing -1)
    return codes, pd.Index(list(known), dtype=object)


def _slow_steps(ctx: _Context) -> list[dict]:
    g = ctx.goal_rank
    n_tp = max(ctx.n_tp, 1)
    n_steps = n_tp * n_tp  # step id (src, dst) = src * n_tp + dst
    step_type = np.int16 if n_steps < 2**15 else np.int32 if n_steps < 2**31 else np.int64

    def moves(r: _Range) -> tuple[np.ndarray, np.ndarray]:
        """The moves of a range (a new touchpoint within a journey, both ends in designed
        stages up to the goal's): their events (range positions) and kind (across stages)."""
        rank = r.rank
        pre = (rank >= 0) & (rank <= g)
        is_move = r.run_start & r.same_prev & pre
        is_move[1:] &= pre[:-1]
        at = np.flatnonzero(is_move)
        return at, rank[at] != rank[at - 1]

    # Pass 1 counts the moves of each kind, pass 2 writes their gaps and steps straight
    # into the pools' arrays (8 + 2 bytes a move, 0.5 GB at 100M: collecting the ranges'
    # parts first and joining them would hold both).
    sizes = [0, 0]
    for r in ctx.ranges():
        _, cross = moves(r)
        n_cross = int(np.count_nonzero(cross))
        sizes[0] += len(cross) - n_cross
        sizes[1] += n_cross
    if not sum(sizes):
        return []
    gaps = [np.empty(s, dtype=np.int64) for s in sizes]  # whole microseconds: exact ties
    steps = [np.empty(s, dtype=step_type) for s in sizes]
    filled = [0, 0]
    none = np.iinfo(np.int64).max
    first_move = np.full(n_steps, none, dtype=np.int64)  # the step's first move (order seen)
    first_kind = np.zeros(n_steps, dtype=bool)  # ... and its kind
    customers = np.zeros(n_steps, dtype=np.int64)  # journeys with the step
    seen = 0
    for r in ctx.ranges():
        at, cross = moves(r)
        if not len(at):
            continue
        gap = r.ts[at]
        gap -= r.ts[at - 1]
        step = r.tp[at - 1].astype(step_type) * step_type(n_tp) + r.tp[at]
        for kind in (0, 1):
            mine = cross == bool(kind)
            lo, hi = filled[kind], filled[kind] + int(np.count_nonzero(mine))
            gaps[kind][lo:hi] = gap[mine]
            steps[kind][lo:hi] = step[mine]
            filled[kind] = hi
        del gap
        # the range's moves by step, in move order within a step (stable radix sort of
        # the small step ids), so each step's journeys come sorted
        order = np.argsort(step, kind="stable")
        by_step, jid = step[order], r.jid[at[order]]
        head = np.ones(len(order), dtype=bool)  # the first move of a step in the range
        head[1:] = by_step[1:] != by_step[:-1]
        codes, first = by_step[head], order[head]
        new = first_move[codes] == none
        first_move[codes[new]] = first[new] + seen
        first_kind[codes[new]] = cross[first[new]]
        seen += len(at)
        # a step's distinct journeys: the changes (ranges hold whole journeys, so they add up)
        head[1:] |= jid[1:] != jid[:-1]
        customers += np.bincount(by_step[head], minlength=n_steps)
        del at, cross, step, order, by_step, jid, head
    # The norm of a step is every other move of its kind: ranked and sorted once per kind,
    # so each step costs its own size, not a pass over all moves (10M events: 50x faster).
    pools = [_MovePool(gaps[k], steps[k], n_steps) for k in (0, 1)]
    del gaps, steps  # (each pool sorted its gaps in place and keeps them)
    count = pools[0].count + pools[1].count
    rows = []
    present = np.flatnonzero(count)
    for s in present[np.argsort(first_move[present], kind="stable")]:
        n = int(count[s])
        if n < ctx.min_n:
            continue
        src, dst = ctx.tp_name(s // n_tp), ctx.tp_name(s % n_tp)
        kind = bool(first_kind[s])
        pool = pools[kind]
        if pool.count[s] == n:  # all its moves of one kind
            n_norm = pool.size - n
            if n_norm < ctx.min_n:
                continue
            med0, p90 = pool.norm_median_p90(int(s))
            p = pool.mann_whitney_greater(int(s))
            mine_gap = pool.gaps_of(int(s))
        else:  # a step whose events disagree on their stage: its moves of both kinds
            n_norm = pool.size - int(pool.count[s])
            if n_norm < ctx.min_n:
                continue
            med0, p90 = pool.norm_median_p90(int(s))
            mine_gap = np.concatenate([pools[0].gaps_of(int(s)), pools[1].gaps_of(int(s))])
            norm = pool.gaps_without(int(s))  # (a rare case: a pool-sized copy, 8 B a move)
            p = stats.mann_whitney_greater(_log_gap(mine_gap), _log_gap(norm))
            del norm
        med = float(pd.Series(mine_gap).median())
        slow_share = float((mine_gap > p90).mean())
        words = "from one stage to the next" if kind else "within a stage"
        rows.append(
            _row(
                type="slow_step",
                **ctx.place(dst),
                related=src,
                customers_affected=int(customers[s]),
                metric="median time of the step (s)",
                observed=med,
                norm=med0,
                excess_rate=slow_share - 0.10,
                ratio=med / med0 if med0 > 0 else math.inf,
                loss_basis="experience",
                n=n,
                n_norm=n_norm,
                test="Mann-Whitney U on log time, one-sided (greater)",
                p_value=p,
                title=f"Slow step {src} -> {dst}",
                description=(
                    f"The step {src} -> {dst} takes {_duration(med)} at the median over "
                    f"{n} moves, against {_duration(med0)} for moves {words}; "
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
    Both come from one sort of the pool and a counting sort of the step ids, which gives
    the sorted positions of each step's moves: a step's rank sum is the sum of its
    positions (+1 each), with only the tied positions moved to their run's mean rank.
    The arithmetic is scipy's (``mannwhitneyu``, asymptotic with tie and continuity
    correction) and numpy's (median, linear quantile), so the results are the same floats
    as ``stats.mann_whitney_greater`` and ``Series.median``/``quantile`` on the norm.

    Memory: kept are the sorted gaps (the caller's int64 array, sorted in place: 8 bytes
    a move) and each step's sorted positions (4 bytes a move); the work between is done
    :data:`RANGE_EVENTS` moves at a time (a whole-pool pass held about 40 bytes a move:
    1.8 GB for the 45M moves of a 100M-event log).
    """

    def __init__(self, gap_us: np.ndarray, step: np.ndarray, n_steps: int):
        """``gap_us``: the moves' gaps in whole microseconds (int64, >= 0), which the pool
        sorts in place and keeps; ``step``: their step ids, small integers below
        ``n_steps``."""
        self.n_steps = n_steps
        self.size = len(gap_us)
        self.count = np.bincount(step, minlength=n_steps)
        self.first_slot = np.r_[0, np.cumsum(self.count)]
        self.gap_us, slot_step = self._sorted(gap_us, step)
        self.slots = self._slots(slot_step)
        # log10 does not reverse an order, so the logs of the sorted gaps are sorted: the
        # runs of equal logs are the ties, which share their mean rank
        eq = np.empty(max(self.size - 1, 0), dtype=bool)  # eq[i]: slot i + 1 ties with slot i
        monotone = True
        for part in _chunks(len(eq)):
            logs = _log_gap(self.gap_us[part.start : part.stop + 1] / 1e6)
            if not (logs[1:] >= logs[:-1]).all():  # never seen; to be sure
                monotone = False
                break
            np.equal(logs[1:], logs[:-1], out=eq[part])
        if monotone:  # each step's ordinal ranks are its slots + 1: summed as exact integers
            rank_step = slot_step
            ordinal = np.zeros(n_steps)
            for s in np.flatnonzero(self.count):
                lo, hi = self.first_slot[s], self.first_slot[s + 1]
                ordinal[s] = float(self.slots[lo:hi].sum(dtype=np.int64) + self.count[s])
        else:  # (a whole-pool pass)
            ranked = _log_gap(self.gap_us / 1e6)
            by_log = np.argsort(ranked, kind="stable")
            ranked, rank_step = ranked[by_log], slot_step[by_log]
            ordinal = np.bincount(rank_step, np.arange(1.0, self.size + 1), n_steps)
            eq = ranked[1:] == ranked[:-1]
            del ranked, by_log
        # Ties: only the slots in a run of equal logs move from their ordinal rank to the
        # run's mean rank. Every rank and sum is a whole or half number far below 2**53,
        # so these sums are exact in any order: the same floats as summing the mean ranks.
        edges = np.flatnonzero(np.diff(np.r_[False, eq, False].view(np.int8)))
        del eq
        starts, ends = edges[0::2], edges[1::2]  # tie runs: slots starts..ends (inclusive)
        lengths = (ends - starts + 1).astype(float)
        mean_rank = starts + 1 + (lengths - 1) / 2
        shift = np.zeros(n_steps)
        for part in _chunks(self.size):  # the tied slots of each range of slots
            k0 = int(np.searchsorted(ends, part.start, side="left"))
            k1 = int(np.searchsorted(starts, part.stop, side="left"))
            if k0 >= k1:
                continue
            lo = np.maximum(starts[k0:k1], part.start)
            hi = np.minimum(ends[k0:k1], part.stop - 1)
            width = hi - lo + 1
            before = np.cumsum(width) - width
            slot = np.repeat(lo - before, width) + np.arange(int(width.sum()))
            moved = np.repeat(mean_rank[k0:k1], width) - (slot + 1)
            shift += np.bincount(rank_step[slot], moved, n_steps)
        self.rank_sum = ordinal + shift
        self.tie_term = np.sum(lengths**3 - lengths)  # as scipy's: over the tie counts

    def _sorted(self, gap_us: np.ndarray, step: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The gaps in order (``gap_us`` itself, sorted) and the step of each. With room
        for the step id beside the gap in an int64, one plain sort of ``gap_us << bits |
        step`` in place gives both (about twice as fast as ``argsort`` and its gathers, and
        no copy); equal gaps may come in any order, as only the values and the tie runs
        are read."""
        bits = max(int(self.n_steps - 1).bit_length(), 1)
        if not len(gap_us) or (gap_us.min() >= 0 and gap_us.max() < 1 << (62 - bits)):
            packed = gap_us
            packed <<= bits
            packed |= step
            packed.sort()
            slot_step = np.empty(len(packed), dtype=step.dtype)
            for part in _chunks(len(packed)):
                slot_step[part] = packed[part] & ((1 << bits) - 1)
            packed >>= bits
            return packed, slot_step
        by_gap = np.argsort(gap_us, kind="stable")  # (gaps of thousands of years: never)
        return gap_us[by_gap], step[by_gap]

    def _slots(self, slot_step: np.ndarray) -> np.ndarray:
        """Sorted positions of each step's moves: the slots grouped by step, in slot order
        (the engine's chunked stable counting sort: no pool-sized int64 argsort)."""
        position = np.int32 if self.size < 2**31 else np.int64
        return stable_order(slot_step, position, chunk=RANGE_EVENTS)[0]

    def _count(self, step: int) -> int:
        return int(self.count[step]) if 0 <= step < self.n_steps else 0

    def gaps_of(self, step: int) -> np.ndarray:
        """The gaps in seconds of the moves of ``step`` in the pool (in order)."""
        if not self._count(step):
            return np.zeros(0)
        return self.gap_us[self.slots[self.first_slot[step] : self.first_slot[step + 1]]] / 1e6

    def gaps_without(self, step: int) -> np.ndarray:
        """The gaps in seconds of the pool without the moves of ``step`` (a copy)."""
        if not self._count(step):
            return self.gap_us / 1e6
        skip = self.slots[self.first_slot[step] : self.first_slot[step + 1]]
        return np.delete(self.gap_us, skip) / 1e6

    def mann_whitney_greater(self, step: int) -> float:
        """One-sided p that the moves of ``step`` take longer than the rest of the pool."""
        from scipy import special

        n1 = self._count(step)
        n2 = self.size - n1
        if min(n1, n2) <= 8:  # scipy may use the exact distribution: let it decide
            mine, rest = self.gaps_of(step), self.gaps_without(step)
            return stats.mann_whitney_greater(_log_gap(mine), _log_gap(rest))
        r1 = self.rank_sum[step]
        u1 = r1 - n1 * (n1 + 1) / 2
        n = n1 + n2
        s = np.sqrt(n1 * n2 / 12 * ((n + 1) - self.tie_term / (n * (n - 1))))
        z = (u1 - n1 * n2 / 2 - 0.5) / s
        return float(np.clip(special.ndtr(-z), 0.0, 1.0))

    def norm_median_p90(self, step: int) -> tuple[float, float]:
        """Median and 90th percentile (numpy's linear) of the pool's gaps without ``step``."""
        lo, hi = (self.first_slot[step], self.first_slot[step + 1]) if self._count(step) else (0, 0)
        skip = self.slots[lo:hi]
        n0 = self.size - len(skip)
        # kept_before[i]: slots not skipped below skip[i] (non-decreasing)
        kept_before = skip - np.arange(len(skip))

        def kth(k: int) -> float:  # k-th smallest (0-based) of the sorted gaps not skipped
            # every skipped slot with at most k kept slots below it lies below the answer
            return float(self.gap_us[k + np.searchsorted(kept_before, k, side="right")] / 1e6)

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
    loop = ctx.pair_runs >= 2  # per pair
    per_tp = ctx.per_tp(ctx.pair_tp, loops=loop, n=None)
    partners = _loop_partners(ctx, loop)
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


def _loop_partners(ctx: _Context, loop: np.ndarray) -> dict[str, str]:
    """Per touchpoint, the touchpoint most often visited right after it by the customers
    who loop there (one pass over the runs for all touchpoints; first seen wins a tie)."""
    best = _MostCommon(ctx.n_tp, ctx.n_tp)
    for r in ctx.ranges():
        runs = np.flatnonzero(r.run_start)
        here, after = runs[:-1], runs[1:]
        # the pair of a range's k-th run is the log's (runs_before + k)-th run's: a slice
        pair = ctx.pair_of_run[r.runs_before : r.runs_before + len(here)]
        keep = (r.jid[after] == r.jid[here]) & loop[pair]
        best.add(r.tp[here[keep]], r.tp[after[keep]])
    return {ctx.tp_name(t): ctx.tp_name(b) for t, b in enumerate(best.result()) if b >= 0}


def _backward(ctx: _Context) -> list[dict]:
    moved = np.zeros(ctx.n_pairs, dtype=bool)  # per pair
    going = _MostCommon(ctx.n_tp, ctx.n_tp)  # where the backward moves go
    for r in ctx.ranges():
        rank = r.rank
        next_rank = np.empty_like(rank)
        next_rank[:-1] = rank[1:]
        next_rank[-1:] = -1
        back = r.same_next & (next_rank >= 0) & (rank >= 0) & (next_rank < rank)
        at = np.flatnonzero(back)
        moved[r.pair[at]] = True
        going.add(r.tp[at], r.tp[at + 1])
    back_to = going.result()
    per_tp = ctx.per_tp(ctx.pair_tp, backs=moved, n=None)
    tps = [t for t in per_tp.index if ctx.pre_goal(t)]
    per_tp = per_tp.loc[tps]
    # conversion after the first visit, of the pairs that moved back and of the others
    conv = ctx.conv_after
    n_mv = ctx.count_tp(ctx.pair_tp, moved)
    c_mv = ctx.count_tp(ctx.pair_tp, moved & conv)
    n_st = ctx.count_tp(ctx.pair_tp) - n_mv
    c_st = ctx.count_tp(ctx.pair_tp, conv) - c_mv
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
    is_support = np.zeros(ctx.n_tp, dtype=bool)  # touchpoints with an event on a support channel
    if wanted:
        for part in _chunks(len(ctx.tp)):
            is_support[ctx.tp[part][np.isin(ctx.channel[part], wanted)]] = True
    support = np.flatnonzero(is_support)
    if not len(support):
        return []
    # For each visit: is there a support contact in (ts, ts + window] in its journey? The
    # events are in time order, so the first contact after the visit's last tie (same
    # journey and time) is the first one strictly later: within the visit's journey, so
    # within its range.
    window = SUPPORT_WINDOW_S * 1_000_000
    hit = np.zeros(ctx.n_pairs, dtype=bool)
    for r in ctx.ranges():
        n, ts = len(r), r.ts  # int64 microseconds: exact ties and window
        tie_start = np.ones(n, dtype=bool)
        tie_start[1:] = ~r.same_prev[1:] | (ts[1:] != ts[:-1])
        index = np.arange(n + 1, dtype=np.int32 if n < 2**31 - 1 else np.int64)

        def next_at(flags: np.ndarray, n: int = n, index: np.ndarray = index) -> np.ndarray:
            """[k]: the first index >= k where ``flags`` holds (n: none), for k in 0..n."""
            return np.minimum.accumulate(np.where(np.r_[flags, True], index, n)[::-1])[::-1]

        tie_end = next_at(tie_start)[1:]  # one past the last event of each event's tie
        c = next_at(is_support[r.tp])[tie_end]
        del tie_end, index
        found = c < n
        c[~found] = 0
        wait = ts[c]
        wait -= ts
        followed = found & (r.jid[c] == r.jid) & (wait <= window)
        del wait, c
        hit[r.pair[followed]] = True
    # the visits: pairs at touchpoints other than the support ones
    n_visits, hits = ctx.count_tp(ctx.pair_tp), ctx.count_tp(ctx.pair_tp, hit)
    n_visits[support] = 0
    hits[support] = 0
    per_tp = ctx.tp_frame(n_visits, {"hits": hits, "n": n_visits})
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
    n_ch, n_st = len(ctx.channel_names), len(ctx.stage_names)
    outbound = np.array(
        [name in ctx.outbound_channels for name in ctx.channel_names] + [False], dtype=bool
    )
    # the stage code of each touchpoint's designed stage (-1: none)
    stage_code = np.array(
        [
            ctx.f.journeys.code_of(st, "stage") if st is not None else -1
            for st in (ctx.f.stage_of.get(str(t)) for t in ctx.tp_names)
        ],
        dtype=np.int64,
    )
    n_groups = ctx.n_tp * n_ch  # (touchpoint, channel), name order
    # per stage: customers with an event in it (by the events' own stage), converted ones;
    # per group: switching customers, converted ones, and both among the stage's customers
    stage_n, stage_x = np.zeros(n_st, dtype=np.int64), np.zeros(n_st, dtype=np.int64)
    sw_n, sw_x = np.zeros(n_groups, dtype=np.int64), np.zeros(n_groups, dtype=np.int64)
    in_n, in_x = np.zeros(n_groups, dtype=np.int64), np.zeros(n_groups, dtype=np.int64)
    came = _MostCommon(n_groups, n_ch)
    for r in ctx.ranges():  # whole journeys: distinct customers add up over the ranges
        ch = r.channel  # int32 codes, not copied
        # A switch is a move to a channel the customer has not used before in the journey:
        # going back to the web after a chat is the chat's consequence, not a new switch.
        # (no channel counts as a value of its own, as pandas' ``duplicated`` counts it.)
        # One pass per channel: its events in journey order, the first of each journey is
        # a first use.
        first_use = np.zeros(len(r), dtype=bool)
        for c in range(-1, n_ch):
            at_c = np.flatnonzero(ch == c)
            if len(at_c):
                jid_c = r.jid[at_c]
                first_use[at_c[np.r_[True, jid_c[1:] != jid_c[:-1]]]] = True
        prev_ch = np.empty_like(ch)
        prev_ch[:1] = -1
        prev_ch[1:] = ch[:-1]
        switch = (
            r.same_prev
            & (prev_ch >= 0)
            & (ch >= 0)
            & first_use
            & (prev_ch != ch)
            & ~outbound[prev_ch]
            & ~outbound[ch]
            & ctx.pre_goal_code[r.tp]
        )
        del first_use
        at = np.flatnonzero(switch)
        group = r.tp[at].astype(np.int64) * n_ch + ch[at]
        came.add(group, prev_ch[at])
        del prev_ch, switch
        n_j = int(r.jid[-1]) - r.first + 1
        local = r.jid - r.first
        in_stage = np.zeros((n_st, n_j), dtype=bool)
        staged = r.stage >= 0
        in_stage[r.stage[staged], local[staged]] = True
        conv = ctx.converted[r.first : r.first + n_j]
        stage_n += in_stage.sum(axis=1)
        stage_x += (in_stage & conv).sum(axis=1)
        pairs = np.unique(group * n_j + local[at])  # distinct (group, customer)
        g, who = pairs // n_j, pairs % n_j
        code = stage_code[g // n_ch]
        member = (code >= 0) & in_stage[np.maximum(code, 0), who]
        sw_n += np.bincount(g, minlength=n_groups)
        sw_x += np.bincount(g[conv[who]], minlength=n_groups)
        in_n += np.bincount(g[member], minlength=n_groups)
        in_x += np.bincount(g[member & conv[who]], minlength=n_groups)
        del in_stage, local, pairs, g, who
    came = came.result()
    rows = []
    for g in np.flatnonzero(sw_n):
        tp, channel = ctx.tp_name(g // n_ch), str(ctx.channel_names[g % n_ch])
        stage = ctx.f.stage_of.get(tp)
        code = stage_code[g // n_ch]
        n = int(sw_n[g])
        n0 = int(stage_n[code] - in_n[g]) if code >= 0 else 0
        if n < ctx.min_n or n0 < ctx.min_n:
            continue
        x = float(sw_x[g])
        x0 = float(stage_x[code] - in_x[g]) if code >= 0 else 0.0
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
    stages = ctx.f.stage_order[: ctx.goal_rank]
    skip_n, skip_x = np.zeros(len(stages), dtype=np.int64), np.zeros(len(stages), dtype=np.int64)
    pass_n, pass_x = np.zeros(len(stages), dtype=np.int64), np.zeros(len(stages), dtype=np.int64)
    for rg in ctx.ranges():  # whole journeys: customers add up over the ranges
        # each journey as its runs of stage ranks (events without a designed stage left out)
        at = np.flatnonzero(rg.rank >= 0)
        jid, rank = rg.jid[at] - rg.first, rg.rank[at]
        keep = np.r_[True, (jid[1:] != jid[:-1]) | (rank[1:] != rank[:-1])][: len(jid)]
        jid, rank = jid[keep], rank[keep]
        same = np.r_[jid[1:] == jid[:-1], False]
        nxt = np.r_[rank[1:], -1]
        n_j = int(rg.jid[-1]) - rg.first + 1
        conv = ctx.converted[rg.first : rg.first + n_j]
        for r in range(len(stages)):
            skipped = np.zeros(n_j, dtype=bool)
            skipped[jid[same & (rank < r) & (nxt > r)]] = True
            passed = np.zeros(n_j, dtype=bool)
            passed[jid[rank == r]] = True
            passed &= ~skipped
            skip_n[r] += np.count_nonzero(skipped)
            skip_x[r] += np.count_nonzero(skipped & conv)
            pass_n[r] += np.count_nonzero(passed)
            pass_x[r] += np.count_nonzero(passed & conv)
    rows = []
    for r, stage in enumerate(stages):
        n, n0 = int(skip_n[r]), int(pass_n[r])
        if n < ctx.min_n or n0 < ctx.min_n:
            continue
        x, x0 = float(skip_x[r]), float(pass_x[r])
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
