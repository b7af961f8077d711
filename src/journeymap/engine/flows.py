"""Flows (Sankey data) of the paths after a start point or before an end point.

Rules, as PostHog and Heap paths:

- Path cleaning first: each rule ``{"regex": ..., "alias": ...}`` rewrites step names
  with ``re.sub`` in the order given (rules apply one after another), so several names can
  merge into one alias.
- ``start`` only: the path out of the customer's LAST occurrence of ``start``, ``steps``
  steps long (start included).
- ``end`` only: the path into the customer's FIRST occurrence of ``end``: up to ``steps``
  steps ending with it.
- both: from the last ``start`` before the first ``end`` that follows a ``start``, to that
  ``end``, cut to ``steps`` steps from the start side.
- neither: the first ``steps`` steps of every journey.
- A forward path that stops because the journey ended gets an edge to ``(end)``.
- Customers without the start / end point are not in the flow.

Rows: ``source_step, source, target_step, target, customers`` (customers = journeys taking
that edge at that position). ``edge_limit`` keeps the busiest edges.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pandas as pd

from journeymap.engine.funnel import _next
from journeymap.engine.journeys import Journeys
from journeymap.engine.paths import END


def clean(journeys: Journeys, rules: list[dict] | None) -> Journeys:
    """Journeys with step names rewritten by the cleaning rules (names may merge)."""
    if not rules:
        return journeys
    names = [str(n) for n in journeys.step_names]
    for i, rule in enumerate(rules):
        if "regex" not in rule or "alias" not in rule:
            raise ValueError(f"path cleaning rule {i + 1}: expected keys 'regex' and 'alias'")
        try:
            pattern = re.compile(rule["regex"])
        except re.error as exc:
            raise ValueError(
                f"path cleaning rule {i + 1}: bad regex {rule['regex']!r}: {exc}"
            ) from None
        names = [pattern.sub(str(rule["alias"]), n) for n in names]
    new_names = np.array(sorted(set(names)), dtype=object)
    remap = np.searchsorted(new_names.astype(str), np.array(names, dtype=str))
    steps = journeys.steps
    new_steps = np.where(steps >= 0, remap[np.maximum(steps, 0)], -1).astype(np.int32)
    codes = {**journeys.codes, journeys.level: new_steps}
    names_by_kind = {**journeys.names, journeys.level: new_names}
    return replace(journeys, codes=codes, names=names_by_kind, _cache={})


def _first_last(positions: np.ndarray, offsets: np.ndarray, last: bool) -> np.ndarray:
    """Per journey, the first (or last) of the ascending event ``positions`` in it, -1 if
    none. Journeys are contiguous, so the positions' journeys are non-decreasing and each
    journey's are one run (no sort, as ``np.unique`` would do); they are found by a search
    in ``offsets``, not read from per-event journey numbers (4 bytes an event, kept in
    the journeys' cache once built: 0.4 GB at 100M events)."""
    out = np.full(len(offsets) - 1, -1, dtype=np.int64)
    if len(positions) == 0:
        return out
    owners = np.searchsorted(offsets, positions, side="right") - 1
    edge = np.empty(len(owners), dtype=bool)
    if last:
        edge[-1] = True
        np.not_equal(owners[1:], owners[:-1], out=edge[:-1])
    else:
        edge[0] = True
        np.not_equal(owners[1:], owners[:-1], out=edge[1:])
    out[owners[edge]] = positions[edge]
    return out


def _counted(keys: np.ndarray, table: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``keys`` (ascending, each below ``table``) and how often each occurs:
    by ``bincount`` when a table of that size is modest beside the keys, else a sort."""
    if table <= 4 * len(keys) + 2**20:
        counts = np.bincount(keys)
        present = np.flatnonzero(counts)
        return present, counts[present]
    return np.unique(keys, return_counts=True)


def flows(
    journeys: Journeys,
    *,
    start: str | None = None,
    end: str | None = None,
    steps: int = 5,
    edge_limit: int | None = None,
    cleaning: list[dict] | None = None,
    after: np.ndarray | None = None,
) -> pd.DataFrame:
    """Sankey edges (see module docstring). ``after``: per-journey start positions."""
    if steps < 2:
        raise ValueError(f"flows: steps must be at least 2, got {steps}")
    j = clean(journeys.mapped(), cleaning)
    n = len(j)
    begin, stop = j.offsets[:-1], j.offsets[1:]
    forward = True
    if after is not None:
        a = after
        b = np.where(a >= 0, np.minimum(a + steps, stop), -1)
    elif start is None and end is None:
        a, b = begin.copy(), np.minimum(begin + steps, stop)
    else:
        s_pos = np.flatnonzero(j.steps == j.code_of(start)) if start else None
        e_pos = np.flatnonzero(j.steps == j.code_of(end)) if end else None
        if start and not end:
            a = _first_last(s_pos, j.offsets, last=True)
            b = np.where(a >= 0, np.minimum(a + steps, stop), -1)
        elif end and not start:
            forward = False
            e = _first_last(e_pos, j.offsets, last=False)
            a = np.where(e >= 0, np.maximum(begin, e - steps + 1), -1)
            b = np.where(e >= 0, e + 1, -1)
        else:
            first_s = _first_last(s_pos, j.offsets, last=False)
            has = first_s >= 0
            e = np.full(n, -1, dtype=np.int64)
            nxt, ok = _next(e_pos, first_s[has] + 1, stop[has])
            e[np.flatnonzero(has)[ok]] = nxt[ok]
            a = np.full(n, -1, dtype=np.int64)
            got = e >= 0
            a[got] = s_pos[np.searchsorted(s_pos, e[got]) - 1]
            b = np.where(got, np.minimum(e + 1, a + steps), -1)
            forward = False
    inside = a >= 0
    a, b, stop_in = a[inside], b[inside], stop[inside]
    del inside
    lengths = b - a
    names = np.append(j.step_names.astype(str), END)
    width = len(names)
    # END's code: width - 1, or the step's own if a cleaning alias is literally "(end)"
    # (the edges then merge, as their names do)
    end_code = int(np.flatnonzero(names == END)[0])
    # one integer per edge, (source_step - 1, source, target) in base ``width``, counted
    # without strings or a pandas groupby (0.4 s at 10M events); the sorts below give
    # the order, so how the edges are counted does not show. Step by step: arrays of the
    # paths (a few bytes a journey), not of every event on them (about 70 bytes an event
    # of the paths at once before: 1.3 GB at 100M events).
    level = j.steps
    keys, counts = [], []
    for k in range(int(lengths.max()) - 1 if len(lengths) else 0):
        source = a[lengths > k + 1] + k
        pair = level[source].astype(np.int64) * width + level[source + 1]
        present, customers = _counted(pair, width * width)
        keys.append(present + k * width * width)
        counts.append(customers)
    if forward:
        ended = (b == stop_in) & (lengths < steps)
        last = b[ended] - 1
        end_key = ((lengths[ended].astype(np.int64) - 1) * width + level[last]) * width
        end_key += end_code
        present, customers = _counted(end_key, steps * width * width)
        keys.append(present)
        counts.append(customers)
    # (an "(end)" alias's edges and the ended paths' can share keys: added up)
    present, where = np.unique(np.concatenate(keys or [np.zeros(0, np.int64)]), return_inverse=True)
    customers = np.zeros(len(present), dtype=np.int64)
    np.add.at(customers, where, np.concatenate(counts or [np.zeros(0, np.int64)]))
    step0, rest = np.divmod(present, width * width)
    out = pd.DataFrame(
        {
            "source_step": (step0 + 1).astype("int64"),
            "source": names[rest // width],
            "target_step": (step0 + 2).astype("int64"),
            "target": names[rest % width],
            "customers": customers.astype("int64"),
        }
    )
    if edge_limit is not None:
        out = out.sort_values(
            ["customers", "source_step", "source", "target"],
            ascending=[False, True, True, True],
            kind="stable",
        ).head(edge_limit)
    return out.sort_values(
        ["source_step", "customers", "source", "target"],
        ascending=[True, False, True, True],
        kind="stable",
    ).reset_index(drop=True)
