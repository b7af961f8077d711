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

from journeymap.engine.funnel import RANGE_EVENTS, _next
from journeymap.engine.journeys import Journeys, journey_numbers, shared

#: Rows per chunk of :func:`stable_order`: a chunk's codes, order and counts stay in the
#: CPU caches (a quarter faster than chunks of RANGE_EVENTS at 10M events).
SORT_CHUNK = 1 << 17


def step_metrics(
    journeys: Journeys,
    *,
    goal: str | None = None,
    stage_order: list[str] | None = None,
    order: list[str] | None = None,
) -> pd.DataFrame:
    """Metrics per name at the journeys' level (touchpoint or stage); see module docstring."""
    j = journeys.mapped()
    n, steps = len(j), j.steps
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
    first_touch = np.bincount(steps[j.offsets[:-1]], minlength=n_names)
    last_touch = np.bincount(steps[j.offsets[1:] - 1], minlength=n_names)
    repeats = np.bincount(k_code[runs >= 2], minlength=n_names)
    conversion = np.full(n_names, np.nan)
    goal_code = j.code_of(goal, "touchpoint") if goal else -1
    if goal:
        last_goal = np.full(n, -1, dtype=first_pos.dtype)
        goal_pos = np.flatnonzero(j.codes["touchpoint"] == goal_code)
        if len(goal_pos):
            # (their journeys by a search: the per-event journey numbers, 4 bytes an event,
            # would be built and kept in ``j``'s cache for a few goal events)
            owner = np.searchsorted(j.offsets, goal_pos, side="right") - 1
            rev_j, rev_idx = np.unique(owner[::-1], return_index=True)
            last_goal[rev_j] = goal_pos[::-1][rev_idx]
        converted = last_goal[k_jid] >= first_pos
        del last_goal
        conversion = np.bincount(k_code[converted], minlength=n_names) / np.maximum(customers, 1)
        del converted
    med = _time_to_next_stage(j, first_pos, k_code, k_jid, stage_order, n_names)
    channel_mix, events = _channel_mix(j, steps, n_names)
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
        """The pair of each event (index into the arrays above). Each event's run is
        numbered ``RANGE_EVENTS`` events at a time, not for the whole log at once beside
        the result (4 bytes an event more, 0.4 GB at 100M)."""
        out = np.empty(len(self.run_start), dtype=self.pair_of_run.dtype)
        before = 0  # runs started before the chunk
        for lo in range(0, len(out), RANGE_EVENTS):
            run_index = np.cumsum(self.run_start[lo : lo + RANGE_EVENTS], dtype=out.dtype)
            run_index += before - 1
            before = int(run_index[-1]) + 1
            np.take(self.pair_of_run, run_index, out=out[lo : lo + RANGE_EVENTS])
        return out


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
    return _first_per_journey(steps, j.offsets, run)


def _first_per_journey(steps: np.ndarray, offsets: np.ndarray, run: np.ndarray) -> StepPairs:
    """Per (step, journey) pair present: first position, step, journey, and its number of
    runs (``run`` marks the first event of each run of one step, and so of each journey
    of ``offsets``).

    A pair's first event always starts a run, so only run starts are sorted. A stable sort
    on the small step codes (:func:`stable_order`) keeps positions ascending inside each
    step, so journeys are non-decreasing there: a pair is a run of equal journeys, its
    first row is its first event and its length is its number of runs.

    Memory: every temporary is 4 bytes a run (2 for the codes), not 8 as numpy's
    ``argsort``/``flatnonzero`` give, and each is let go once used: at most about 20 bytes
    a run beside the pairs, against about 45 before (3.2 GB at 100M events). The journey
    of each run start comes from numbering the journeys' first events among the run
    starts, not from per-event journey numbers (4 bytes an event, kept in the journeys'
    cache once built).
    """
    position = np.int32 if len(run) < 2**31 else np.int64
    run_starts = flatnonzero_as(run, position)
    small = steps[run_starts]
    if len(small) and small.max() < 2**16:
        small = small.astype(np.uint16)  # (numpy's radix sort)
    order, sizes = stable_order(small, position)
    code = small.dtype
    del small
    jj = _journey_of_run(run_starts, offsets)[order]
    rows = run_starts[order]
    del run_starts
    # the sorted steps, without a gather
    s = np.repeat(np.arange(len(sizes), dtype=code), sizes)
    new = np.ones(len(rows), dtype=bool)
    new[1:] = (s[1:] != s[:-1]) | (jj[1:] != jj[:-1])
    starts = flatnonzero_as(new, position)
    runs = np.empty(len(starts), dtype=position)  # (no appended copy of ``starts``)
    if len(starts):
        np.subtract(starts[1:], starts[:-1], out=runs[:-1])
        runs[-1] = len(rows) - starts[-1]
    first = rows[starts]
    del rows
    codes = s[starts].astype(np.int32)
    del s
    journeys = jj[starts]
    del starts
    # the pair of each run, in event order: the running pair number through ``jj``'s memory
    counter = np.int32 if len(new) < 2**31 else np.int64
    running = jj if jj.dtype == counter else np.empty(len(new), dtype=counter)
    np.cumsum(new, dtype=counter, out=running)
    running -= 1
    del new
    pair_of_run = np.empty(len(running), dtype=counter)
    pair_of_run[order] = running
    del order, running, jj
    pairs = StepPairs(first, codes, journeys, runs, run, pair_of_run)
    for array in (pairs.first, pairs.code, pairs.jid, pairs.runs, run, pair_of_run):
        array.flags.writeable = False  # cached and shared: a reader must never change them
    return pairs


def _journey_of_run(run_starts: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The journey (int32) of each of the ascending ``run_starts``, among which every
    non-empty journey's first event is: the running count of those first events."""
    nonempty = np.flatnonzero(offsets[1:] > offsets[:-1])
    first = np.zeros(len(run_starts), dtype=bool)
    first[np.searchsorted(run_starts, offsets[nonempty].astype(run_starts.dtype))] = True
    number = np.cumsum(first, dtype=np.int32)
    number -= 1
    return number if len(nonempty) == len(offsets) - 1 else nonempty[number].astype(np.int32)


def flatnonzero_as(
    values: np.ndarray, dtype, code: int | None = None, chunk: int | None = None
) -> np.ndarray:
    """``np.flatnonzero(values)`` (of ``values == code`` with a ``code``) as ``dtype``
    (int32 below 2**31), ``chunk`` elements at a time: numpy's gives int64, after a mask
    of the whole log (9 bytes an element at once, 0.9 GB at 100M events)."""
    chunk = chunk or RANGE_EVENTS  # (read now: tests lower it)
    pieces = []
    for lo in range(0, len(values), chunk):
        part = values[lo : lo + chunk]
        found = np.flatnonzero(part if code is None else part == code)
        found += lo
        pieces.append(found.astype(dtype, copy=False))
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=dtype)


def stable_order(
    codes: np.ndarray, dtype, chunk: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``np.argsort(codes, kind="stable")`` as ``dtype`` (int32 below 2**31 rows) and
    ``np.bincount(codes)``, for non-negative integer codes, ``chunk`` codes at a time (each
    chunk's sorted rows go after the earlier chunks' rows of the same code, which keeps
    the sort stable): numpy's argsort gives int64 and bincount copies the codes as int64
    (8 bytes a row each, 0.8 GB at 100M). Sparse large codes (pairs of many names) are
    first renumbered densely, so each chunk counts only the codes present."""
    chunk = chunk or SORT_CHUNK  # (read now: tests lower it)
    n_codes = int(codes.max()) + 1 if len(codes) else 0
    sizes = np.zeros(n_codes, dtype=np.int64)
    step = max(chunk, n_codes)  # (each count costs n_codes: not more often than a row each)
    for lo in range(0, len(codes), step):
        sizes += np.bincount(codes[lo : lo + step], minlength=n_codes)
    present = np.flatnonzero(sizes)
    dense = None
    if n_codes > 2**16:  # (uint16 dense codes up to 65536 present: numpy's radix sort)
        dense = np.zeros(n_codes, dtype=np.uint16 if len(present) <= 2**16 else np.int32)
        dense[present] = np.arange(len(present))
    order = np.empty(len(codes), dtype=dtype)
    free = (np.cumsum(sizes) - sizes)[present] if dense is not None else np.cumsum(sizes) - sizes
    width = len(free)  # next free slot of each (dense) code
    for lo in range(0, len(codes), chunk):
        part = codes[lo : lo + chunk] if dense is None else dense[codes[lo : lo + chunk]]
        local = np.argsort(part, kind="stable")
        counts = np.bincount(part, minlength=width)
        ordered = part[local]
        slot = np.arange(len(part)) - (np.cumsum(counts) - counts)[ordered]
        slot += free[ordered]
        local += lo
        order[slot] = local
        free += counts
    return order, sizes


def _time_to_next_stage(
    j, first_pos, k_code, k_jid, stage_order, n_names, chunk: int | None = None
) -> np.ndarray:
    """Median seconds per name; the pairs come from :func:`_first_per_journey` (``k_code``
    non-decreasing, ``k_jid`` the journey of each ``first_pos``).

    Name by name (each one slice of the pairs), ``chunk`` pairs at a time, so only one
    name's times are held (not a time for every pair: 8 bytes a pair, 0.5 GB at 100M),
    beside the positions of the target stages' events (4 bytes each below 2**31)."""
    # (a quarter of a range: searching costs about 30 bytes a pair; read now: tests lower it)
    chunk = chunk or max(RANGE_EVENTS // 4, 1)
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
    where = {  # (same dtype as the pairs' positions: searchsorted then copies neither)
        int(code): flatnonzero_as(stage_codes, first_pos.dtype, int(code), chunk)
        for code in np.unique(next_code[next_code >= 0])
    }
    ends = j.offsets[1:]  # of each journey (of a pair: ends[k_jid], for the rows asked only)
    # k_code is sorted; (values of its dtype: else searchsorted copies it as int64)
    bounds = np.searchsorted(k_code, np.arange(n_names + 1, dtype=k_code.dtype))
    for name in range(n_names):
        found = []
        for lo in range(bounds[name], bounds[name + 1], chunk):
            hi = min(lo + chunk, bounds[name + 1])
            firsts = first_pos[lo:hi]
            target = next_code[stage_codes[firsts]]  # (no stage: code -1 picks the last, -1)
            # the stages some pair goes on to, by counting (np.unique would sort the pairs)
            for code in np.flatnonzero(np.bincount(target + 1, minlength=len(next_code) + 1)[1:]):
                rows = np.flatnonzero(target == code)
                starts = firsts[rows]
                starts += 1
                nxt, ok = _next(where[int(code)], starts, ends[k_jid[lo:hi][rows]])
                found.append((j.ts[nxt[ok]] - j.ts[firsts[rows[ok]]]) / 1e6)
        if found:  # np.median averages the two middle values as pandas' median does
            values = np.concatenate(found)
            if len(values):
                out[name] = np.median(values)
    return out


def _channel_mix(j: Journeys, steps: np.ndarray, n_names: int) -> tuple[list[dict], np.ndarray]:
    """Share of each name's events per channel, and each name's number of events.

    Counted ``RANGE_EVENTS`` events at a time: a key per event of the whole log, and
    ``bincount``'s int64 copy of it, would be 12 bytes an event (1.2 GB at 100M)."""
    channels = j.codes["channel"]
    names = np.append(j.names["channel"].astype(str), "(none)")
    width = len(names)
    key_type = np.int32 if n_names * width < 2**31 else np.int64
    counts = np.zeros(n_names * width, dtype=np.int64)
    for lo in range(0, len(steps), RANGE_EVENTS):
        key = steps[lo : lo + RANGE_EVENTS].astype(key_type)
        key *= width
        part = channels[lo : lo + RANGE_EVENTS]
        key += np.where(part < 0, np.int32(width - 1), part)
        counts += np.bincount(key, minlength=n_names * width)
    counts = counts.reshape(n_names, width)
    out = []
    for row in counts:
        total = int(row.sum())
        present = sorted((str(names[c]), int(row[c])) for c in np.flatnonzero(row))
        out.append({ch: round(v / total, 4) for ch, v in present} if total else {})
    return out, counts.sum(axis=1)


def conformance(journeys: Journeys, stage_order: list[str]) -> dict:
    """Conformance figures of customer-level journeys (see module docstring).

    Read from the designed-stage rank of each event (2 bytes) and its journey (4), not
    from a copy of the journeys with a stage (:meth:`.Journeys.select`: times, sessions
    and 8-byte ranks, about 30 bytes an event; 2 GB at 100M events)."""
    stage_codes = journeys.codes["stage"]
    names = [str(s) for s in journeys.names["stage"]]
    small = np.int16 if len(stage_order) < 2**15 else np.int64
    rank = np.full(len(names) + 1, -1, dtype=small)  # (the last: no stage, code -1)
    for i, name in enumerate(names):
        if name in stage_order:
            rank[i] = stage_order.index(name)
    ranks = rank[stage_codes]
    unmapped_events = int(np.count_nonzero(journeys.codes["touchpoint"] < 0))
    staged = ranks >= 0
    r = ranks[staged]
    del ranks
    jid = journey_numbers(journeys.offsets)[staged]
    del staged
    keep = np.ones(len(r), dtype=bool)
    keep[1:] = (jid[1:] != jid[:-1]) | (r[1:] != r[:-1])
    r, jid = r[keep], jid[keep]
    del keep
    same = jid[1:] == jid[:-1]
    n = len(jid) - int(np.count_nonzero(same))  # journeys with a staged event
    diff = (r[1:] - r[:-1])[same]
    pair_j = jid[1:][same]  # (non-decreasing)
    src = r[:-1][same]
    del r, jid, same
    back = diff < 0
    skip = diff > 1
    has_back = np.zeros(len(journeys), dtype=bool)
    has_back[pair_j[back]] = True
    has_skip = np.zeros(len(journeys), dtype=bool)
    has_skip[pair_j[skip]] = True
    in_order = n - int(np.count_nonzero(has_back | has_skip))
    src, span, who = src[skip], diff[skip], pair_j[skip]
    skipped: dict[str, int] = {}
    for name in dict.fromkeys(stage_order):  # a stage skipped: strictly inside a jump
        over = np.zeros(len(who), dtype=bool)
        for s in (i for i, x in enumerate(stage_order) if x == name):
            over |= (src < s) & (s < src + span)
        hit = who[over]
        skipped[name] = int(np.count_nonzero(hit[1:] != hit[:-1])) + 1 if len(hit) else 0
    return {
        "customers": n,
        "in_order": in_order,
        "in_order_share": in_order / n if n else float("nan"),
        "with_skips": int(np.count_nonzero(has_skip)),
        "with_backward": int(np.count_nonzero(has_back)),
        "backward_moves": int(np.count_nonzero(back)),
        "skipped": skipped,
        "events": journeys.n_events,
        "unmapped_events": unmapped_events,
        "unmapped_share": unmapped_events / journeys.n_events if journeys.n_events else 0.0,
    }
