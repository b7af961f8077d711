"""Per-touchpoint and per-stage metrics, and conformance to the designed stage order.

Definitions (customer level; unmapped events are left out unless counted explicitly):

- ``customers``: customers with at least one event at the item; ``share``: of all
  customers with a mapped event in the analysis.
- ``conversion``: of those customers, the share with a goal event at or after their first
  event at the item (the goal touchpoint itself converts 1.0). NaN without a goal.
- ``exit_rate``: share of the item's customers whose journey ends there (last mapped event).
- ``repeat_rate`` (loops): share of the item's customers who come back to it after
  something else in between (a a b counts once, a b a is a loop).
- ``median_time_to_next_stage_s``: from a customer's first event at the item to the first
  later event in the next stage of the designed order; median over customers who get there.
- ``first_touch`` / ``last_touch``: customers whose journey starts / ends at the item.
- ``channel_mix``: share of the item's events per channel (dict).

Conformance: each customer's sequence of stages (consecutive repeats collapsed) is
compared with the designed order. A backward move goes to an earlier stage; a skip jumps
forward over one or more stages (starting the journey mid-way is not a skip). A customer
is "in order" with neither. Stages missing from the design are counted as unmapped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from journeymap.engine.funnel import _next
from journeymap.engine.journeys import Journeys, shared


def step_metrics(
    journeys: Journeys,
    *,
    goal: str | None = None,
    stage_order: list[str] | None = None,
    order: list[str] | None = None,
) -> pd.DataFrame:
    """Metrics per name at the journeys' level (touchpoint or stage); see module docstring."""
    j = journeys.mapped()
    n, steps, jid = len(j), j.steps, j.journey_of_event
    n_names = len(j.step_names)
    columns = [
        "name",
        "events",
        "customers",
        "share",
        "conversion",
        "exit_rate",
        "repeat_rate",
        "median_time_to_next_stage_s",
        "first_touch",
        "last_touch",
        "channel_mix",
    ]
    if j.n_events == 0:
        return pd.DataFrame(columns=columns)
    pairs = step_pairs(j)
    first_pos, k_code, k_jid, runs = pairs.first, pairs.code, pairs.jid, pairs.runs
    customers = np.bincount(k_code, minlength=n_names)
    events = np.bincount(steps, minlength=n_names)
    firsts, lasts = j.offsets[:-1], j.offsets[1:] - 1
    first_touch = np.bincount(steps[firsts], minlength=n_names)
    last_touch = np.bincount(steps[lasts], minlength=n_names)
    repeats = np.bincount(k_code[runs >= 2], minlength=n_names)
    conversion = np.full(n_names, np.nan)
    goal_code = j.code_of(goal, "touchpoint") if goal else -1
    if goal:
        last_goal = np.full(n, -1, dtype=np.int64)
        goal_pos = np.flatnonzero(j.codes["touchpoint"] == goal_code)
        if len(goal_pos):
            rev_j, rev_idx = np.unique(jid[goal_pos][::-1], return_index=True)
            last_goal[rev_j] = goal_pos[::-1][rev_idx]
        converted = last_goal[k_jid] >= first_pos
        conversion = np.bincount(k_code[converted], minlength=n_names) / np.maximum(customers, 1)
    med = _time_to_next_stage(j, first_pos, k_code, k_jid, stage_order, n_names)
    channel_mix = _channel_mix(j, steps, n_names)
    with np.errstate(divide="ignore", invalid="ignore"):
        frame = pd.DataFrame(
            {
                "name": j.step_names.astype(str),
                "events": events.astype("int64"),
                "customers": customers.astype("int64"),
                "share": customers / max(n, 1),
                "conversion": conversion,
                "exit_rate": last_touch / np.maximum(customers, 1),
                "repeat_rate": repeats / np.maximum(customers, 1),
                "median_time_to_next_stage_s": med,
                "first_touch": first_touch.astype("int64"),
                "last_touch": last_touch.astype("int64"),
                "channel_mix": channel_mix,
            }
        )
    if order:
        rank = {name: i for i, name in enumerate(order)}
        frame["_r"] = frame["name"].map(lambda x: rank.get(x, len(rank)))
        frame = frame.sort_values(["_r", "name"], kind="stable").drop(columns="_r")
    else:
        frame = frame.sort_values(["customers", "name"], ascending=[False, True], kind="stable")
    return frame.reset_index(drop=True)


@dataclass(frozen=True)
class StepPairs:
    """One customer (journey) at one name of the level: the pairs every per-name metric
    and the pain detectors (:mod:`journeymap.insights.pains`) count, sorted by name code
    then journey (:func:`step_pairs`; read-only arrays, as they may be shared)."""

    # (positions and run counts in int32 below 2**31 events: kept through a snapshot)
    first: np.ndarray  # int32 (int64 past 2**31 events): position of the pair's first event
    code: np.ndarray  # int32: the name's code (non-decreasing)
    jid: np.ndarray  # int32: the journey
    runs: np.ndarray  # int32 (as ``first``): runs of the name in the journey (2+: a loop)
    run_start: np.ndarray  # bool per event: first event of a run of one name
    pair_of_run: np.ndarray  # int32 (int64 past 2**31 runs): the pair of each run, in event order

    def pair_of_event(self) -> np.ndarray:
        """The pair of each event (index into the arrays above)."""
        run_index = np.cumsum(self.run_start, dtype=self.pair_of_run.dtype)
        run_index -= 1
        return self.pair_of_run[run_index]


def step_pairs(j: Journeys) -> StepPairs:
    """The (journey, name) pairs of mapped journeys ``j`` at their level; inside
    :func:`.journeys.sharing` built once and shared through ``j``'s cache (0.5 s at 10M
    events each time they are built)."""
    return shared(j, ("step_pairs", j.level), lambda: _step_pairs(j))


def _step_pairs(j: Journeys) -> StepPairs:
    steps = j.steps
    run = np.empty(j.n_events, dtype=bool)  # a run = consecutive events at one name
    if j.n_events:
        run[0] = True
        np.not_equal(steps[1:], steps[:-1], out=run[1:])
        run[j.offsets[:-1]] = True
    return _first_per_journey(steps, j.journey_of_event, run)


def _first_per_journey(steps: np.ndarray, jid: np.ndarray, run: np.ndarray) -> StepPairs:
    """Per (step, journey) pair present: first position, step, journey, and its number of
    runs (``run`` marks the first event of each run of one step).

    A pair's first event always starts a run, so only run starts are sorted. A stable sort
    on the small step codes (radix) keeps positions ascending inside each step, so
    journeys are non-decreasing there: a pair is a run of equal journeys, its first row
    is its first event and its length is its number of runs.
    """
    run_starts = np.flatnonzero(run)
    s = steps[run_starts]
    small = s.astype(np.uint16) if len(s) and s.max() < 2**16 else s
    sizes = np.bincount(s) if len(s) else np.zeros(0, dtype=np.int64)
    del s
    order = np.argsort(small, kind="stable")
    rows = run_starts[order]
    del run_starts, small  # (each is 0.3-0.8 GB at 100M events)
    # the sorted steps, without a gather
    s = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
    jj = jid[rows]
    new = np.ones(len(rows), dtype=bool)
    new[1:] = (s[1:] != s[:-1]) | (jj[1:] != jj[:-1])
    pair_of_run = np.empty(len(rows), dtype=np.int32 if len(rows) < 2**31 else np.int64)
    pair_of_run[order] = np.cumsum(new, dtype=pair_of_run.dtype) - 1
    del order
    starts = np.flatnonzero(new)
    position = np.int32 if len(run) < 2**31 else np.int64
    runs = np.empty(len(starts), dtype=position)  # (no appended copy of ``starts``)
    if len(starts):
        np.subtract(starts[1:], starts[:-1], out=runs[:-1])
        runs[-1] = len(rows) - starts[-1]
    first = rows[starts].astype(position, copy=False)
    pairs = StepPairs(first, s[starts], jj[starts], runs, run, pair_of_run)
    for array in (pairs.first, pairs.code, pairs.jid, pairs.runs, run, pair_of_run):
        array.flags.writeable = False  # cached and shared: a reader must never change them
    return pairs


def _time_to_next_stage(j, first_pos, k_code, k_jid, stage_order, n_names) -> np.ndarray:
    """Median seconds per name; the pairs come from :func:`_first_per_journey` (``k_code``
    non-decreasing, ``k_jid`` the journey of each ``first_pos``)."""
    out = np.full(n_names, np.nan)
    if not stage_order or len(first_pos) == 0:
        return out
    stage_codes = j.codes["stage"]
    code_of = {str(name): i for i, name in enumerate(j.names["stage"])}
    rank_to_code = [code_of.get(s, -1) for s in stage_order]
    next_code = np.full(len(j.names["stage"]) + 1, -1, dtype=np.int32)
    for r, code in enumerate(rank_to_code[:-1]):
        if code >= 0:
            next_code[code] = rank_to_code[r + 1]
    target = next_code[stage_codes[first_pos]]  # (no stage: code -1 picks the last, -1)
    seconds = np.full(len(first_pos), np.nan)
    ends = j.offsets[1:]  # of each journey (of a pair: ends[k_jid], for the rows asked only)
    # the stages some pair goes on to, by counting (np.unique would sort the pairs)
    for code in np.flatnonzero(np.bincount(target + 1, minlength=len(next_code) + 1)[1:]):
        rows = np.flatnonzero(target == code)
        starts, stops = first_pos[rows] + 1, ends[k_jid[rows]]
        nxt, ok = _next(np.flatnonzero(stage_codes == code), starts, stops)
        del starts, stops
        seconds[rows[ok]] = (j.ts[nxt[ok]] - j.ts[first_pos[rows[ok]]]) / 1e6
    # k_code is sorted: each name's pairs are one slice (no DataFrame / groupby: 0.5 s at
    # 10M events); np.median averages the two middle values as pandas' median does
    bounds = np.searchsorted(k_code, np.arange(n_names + 1))
    for code in range(n_names):
        values = seconds[bounds[code] : bounds[code + 1]]
        values = values[~np.isnan(values)]
        if len(values):
            out[code] = np.median(values)
    return out


def _channel_mix(j: Journeys, steps: np.ndarray, n_names: int) -> list[dict]:
    channels = j.codes["channel"]
    names = np.append(j.names["channel"].astype(str), "(none)")
    width = len(names)
    if n_names * width < 2**31:  # int32 keys: half the memory (0.4 GB at 100M events)
        key = steps * np.int32(width)
    else:
        key = steps.astype(np.int64) * width
    key += np.where(channels < 0, np.int32(width - 1), channels)
    counts = np.bincount(key, minlength=n_names * width).reshape(n_names, width)
    out = []
    for row in counts:
        total = int(row.sum())
        present = sorted((str(names[c]), int(row[c])) for c in np.flatnonzero(row))
        out.append({ch: round(v / total, 4) for ch, v in present} if total else {})
    return out


def conformance(journeys: Journeys, stage_order: list[str]) -> dict:
    """Conformance figures of customer-level journeys (see module docstring)."""
    stage_codes = journeys.codes["stage"]
    names = [str(s) for s in journeys.names["stage"]]
    rank = np.full(len(names) + 1, -1, dtype=np.int64)
    for i, name in enumerate(names):
        if name in stage_order:
            rank[i] = stage_order.index(name)
    ranks = np.where(stage_codes >= 0, rank[stage_codes], -1)
    unmapped_events = int((journeys.codes["touchpoint"] < 0).sum())
    mapped = journeys.select(ranks >= 0)
    r = ranks[ranks >= 0]
    jid = mapped.journey_of_event
    keep = np.ones(len(r), dtype=bool)
    keep[1:] = (jid[1:] != jid[:-1]) | (r[1:] != r[:-1])
    r, jid = r[keep], jid[keep]
    same = jid[1:] == jid[:-1]
    diff = (r[1:] - r[:-1])[same]
    pair_j = jid[1:][same]
    back = diff < 0
    skip = diff > 1
    n = len(mapped)
    has_back = np.zeros(n, dtype=bool)
    has_back[pair_j[back]] = True
    has_skip = np.zeros(n, dtype=bool)
    has_skip[pair_j[skip]] = True
    skipped: dict[str, set] = {s: set() for s in stage_order}
    src = r[:-1][same][skip]
    for a, d, who in zip(src, diff[skip], pair_j[skip], strict=True):
        for s in range(a + 1, a + d):
            skipped[stage_order[s]].add(int(who))
    in_order = ~(has_back | has_skip)
    return {
        "customers": n,
        "in_order": int(in_order.sum()),
        "in_order_share": float(in_order.mean()) if n else float("nan"),
        "with_skips": int(has_skip.sum()),
        "with_backward": int(has_back.sum()),
        "backward_moves": int(back.sum()),
        "skipped": {s: len(v) for s, v in skipped.items()},
        "events": journeys.n_events,
        "unmapped_events": unmapped_events,
        "unmapped_share": unmapped_events / journeys.n_events if journeys.n_events else 0.0,
    }
