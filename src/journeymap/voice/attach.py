"""Refresh step 4: attach each feedback row to a touchpoint and fill its sentiment.

Rules, in order (docs/contracts.md, refresh pipeline):

1. ``touchpoint_given`` names a touchpoint of the spec -> keep it (method ``given``).
2. Else the customer's last *mapped* event (``events.touchpoint`` not NULL) at or before
   the response, if it is at most ``[voice] attach_window_hours`` older -> its touchpoint
   (method ``event``). Events tied on ``ts`` are ordered by (ts, event, event_id) as
   everywhere in journeymap, so the last of the tie wins.
3. Else ``touchpoint`` stays NULL. Such rows are kept and counted by reason:
   ``no_customer_or_time`` (customer_id or ts missing), ``no_event_before`` (no mapped
   event at or before the response), ``outside_window`` (the last one is too old).

The matching is one ASOF join through Ibis on DuckDB, run per range of customers
(:mod:`journeymap.workspace.customer_ranges`) above ``ATTACH_SLICE_ROWS`` events; Spark
has no ASOF join (Ibis refuses it), so there the same rule is a join of each response
with the customer's mapped events inside the window plus each customer's first mapped
event (:func:`_last_event`, the one place that picks the form). ``sentiment`` is the
VADER compound of ``text`` from the ``sentiment_cache`` table (NULL when the text is
empty); only texts never seen before are scored (see :mod:`journeymap.voice.sentiment`).
On a Spark workspace the cache stays in the workspace's DuckDB file (it outlives the
Spark session) and a copy is joined in Spark.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir

from journeymap.voice.sentiment import cache_for, fill_cache, has_text, text_hash
from journeymap.voice.settings import voice_settings
from journeymap.voice.spec_view import touchpoint_ids
from journeymap.workspace import backend
from journeymap.workspace.customer_ranges import customer_bounds, in_ranges

UNATTACHED_REASONS = ("no_customer_or_time", "no_event_before", "outside_window")
#: Events per range of customers matched at once on DuckDB. The as-of join sorts the
#: events it reads (after picking one per customer and instant): over 100M events it ran
#: out of a 5 GB cap, while the 10M benchmark's attach, in one piece, peaked at 2.1 GB.
#: Each extra range costs one filtered scan of ``events``.
ATTACH_SLICE_ROWS = 8_000_000


@dataclass
class AttachReport:
    """What :func:`attach_feedback` did; every feedback row is in exactly one count."""

    rows: int = 0
    given: int = 0
    by_event: int = 0
    unattached: dict[str, int] = field(default_factory=lambda: dict.fromkeys(UNATTACHED_REASONS, 0))
    #: rows whose touchpoint_given is not a touchpoint of the spec (then rules 2-3 apply)
    given_unknown: int = 0
    texts_scored: int = 0
    window_hours: float = 72.0

    @property
    def unattached_total(self) -> int:
        return sum(self.unattached.values())

    def lines(self) -> list[str]:
        """Human summary for the CLI."""
        out = [
            f"feedback rows: {self.rows}",
            f"  attached by given touchpoint: {self.given}",
            f"  attached by last event within {self.window_hours:g} h: {self.by_event}",
            f"  unattached: {self.unattached_total}"
            + "".join(f", {k}={v}" for k, v in self.unattached.items() if v),
        ]
        if self.given_unknown:
            out.append(f"  touchpoint_given not in the spec: {self.given_unknown}")
        out.append(f"new texts scored for sentiment: {self.texts_scored}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def attach_feedback(ws: Any, *, progress: bool = True) -> AttachReport:
    """Refresh step 4 on a workspace: rewrite ``feedback.touchpoint`` and ``.sentiment``.

    Runs inside ``ws.transaction()`` (re-entrant), so the cache and feedback change together.
    """
    transaction = getattr(ws, "transaction", None)
    with transaction() if transaction is not None else nullcontext():
        return attach_feedback_in(
            ws.con,
            touchpoint_ids(ws.spec),
            ws.settings,
            progress=progress,
            cache_con=getattr(ws, "state", ws.con),
        )


def attach_feedback_in(
    con: ibis.BaseBackend,
    touchpoints: Collection[str],
    settings: Mapping[str, Any] | None,
    *,
    progress: bool = False,
    workers: int | None = None,
    cache_con: ibis.BaseBackend | None = None,
    slice_rows: int = ATTACH_SLICE_ROWS,
) -> AttachReport:
    """:func:`attach_feedback` on a bare Ibis connection holding ``feedback`` and ``events``.

    ``workers`` processes score new texts (default: every core). ``cache_con`` holds the
    ``sentiment_cache`` table (default ``con``; a Spark workspace keeps it in its DuckDB
    file). ``slice_rows``: events per range of customers matched at once on DuckDB.
    """
    vs = voice_settings(settings)
    report = AttachReport(window_hours=vs.attach_window_hours)
    tables = set(con.list_tables())
    if "feedback" not in tables:
        return report
    fb = con.table("feedback")
    columns = list(fb.columns)
    if "touchpoint_given" not in columns:
        # First run on a table written without it: what is in `touchpoint` now is the input.
        fb = fb.mutate(touchpoint_given=fb.touchpoint)
        columns.append("touchpoint_given")

    matched = "_voice_feedback_matched"
    attached = _attached_by_range(
        con, fb, tables, set(touchpoints), vs.attach_window_hours, slice_rows, matched
    )
    cache_con = con if cache_con is None else cache_con
    report.texts_scored = fill_cache(
        con, fb.text, workers=workers, progress=progress, cache_con=cache_con
    )
    cache, cache_copy = cache_for(con, cache_con)
    cache = cache.select(_cache_hash=cache.text_hash, _cached=cache.sentiment)
    keyed = attached.mutate(
        _hash=ibis.ifelse(has_text(attached.text), text_hash(attached.text), ibis.null("string"))
    )
    scored = keyed.left_join(cache, keyed._hash == cache._cache_hash)
    result = scored.select(
        *[
            scored._touchpoint.name("touchpoint")
            if c == "touchpoint"
            else scored._cached.cast("float64").name("sentiment")
            if c == "sentiment"
            else scored[c]
            for c in columns
        ],
        _method=scored._method,
        _given_unknown=scored._given_unknown,
    )
    tmp = "_voice_feedback_attached"
    try:
        staged = backend.write_table(con, tmp, result, temp=True)
        counts = staged.group_by(method="_method", unknown="_given_unknown").aggregate(
            n=staged.count()
        )
        for row in counts.to_pandas().itertuples(index=False):
            n = int(row.n)
            report.rows += n
            report.given_unknown += n if row.unknown else 0
            if row.method == "given":
                report.given += n
            elif row.method == "event":
                report.by_event += n
            else:
                report.unattached[row.method] += n
        expected = int(con.to_pyarrow(fb.count()).as_py())
        if report.rows != expected:  # a range missed rows: never drop feedback silently
            raise RuntimeError(f"feedback attachment: matched {report.rows} of {expected} rows")
        backend.write_table(con, "feedback", staged.drop("_method", "_given_unknown"))
    finally:
        backend.drop_table(con, tmp)
        backend.drop_table(con, matched)
        if cache_copy:
            backend.drop_table(con, cache_copy)
    return report


def _attached_by_range(
    con: ibis.BaseBackend,
    fb: ir.Table,
    tables: set[str],
    touchpoints: set[str],
    window_hours: float,
    slice_rows: int,
    scratch: str,
) -> ir.Table:
    """:func:`_attached` over the whole tables; on DuckDB above ``slice_rows`` events, run
    per range of customers into table ``scratch`` (same rows: every rule is per customer).
    Spark spreads the join over its executors, so there it is one piece."""
    ev = con.table("events") if "events" in tables else None
    bounds = []
    if ev is not None and not backend.is_spark(con):
        total = int(con.to_pyarrow(ev.count()).as_py())
        bounds = customer_bounds(con, ev, total, slice_rows)
    if not bounds:
        return _attached(con, fb, ev, touchpoints, window_hours)
    pieces = zip(in_ranges(fb, bounds), in_ranges(ev, bounds), strict=True)
    for i, (fb_part, ev_part) in enumerate(pieces):
        part = _attached(con, fb_part, ev_part, touchpoints, window_hours)
        if i == 0:
            backend.write_table(con, scratch, part, temp=True)
        else:
            backend.append_rows(con, scratch, part)
    return con.table(scratch)


def _attached(
    con: ibis.BaseBackend,
    fb: ir.Table,
    ev: ir.Table | None,
    touchpoints: set[str],
    window_hours: float,
) -> ir.Table:
    """``fb`` plus ``_touchpoint`` (attached), ``_method`` and ``_given_unknown``, matched
    against ``ev`` (the events, or None when the workspace has none)."""
    if ev is not None:
        ev = ev.filter(ev.touchpoint.notnull() & ev.customer_id.notnull() & ev.ts.notnull())
        # One event per (customer, ts): the last by (event, event_id), the journeymap tie order.
        rank = ibis.row_number().over(
            group_by=[ev.customer_id, ev.ts], order_by=[ibis.desc(ev.event), ibis.desc(ev.event_id)]
        )
        ev = ev.mutate(_rank=rank).filter(lambda t: t._rank == 0)
        ev = ev.select(_ev_customer=ev.customer_id, _ev_ts=ev.ts, _ev_touchpoint=ev.touchpoint)
        window = ibis.interval(seconds=round(window_hours * 3600))
        joined, has_event, within = _last_event(con, fb, ev, window)
    else:
        joined = fb.mutate(_ev_touchpoint=ibis.null("string"))
        has_event = ibis.literal(False)
        within = ibis.literal(False)

    given = joined.touchpoint_given
    given_ok = given.isin(list(touchpoints)) if touchpoints else ibis.literal(False)
    method = ibis.cases(
        (given_ok, "given"),
        (within, "event"),
        (joined.customer_id.isnull() | joined.ts.isnull(), "no_customer_or_time"),
        (~has_event, "no_event_before"),
        else_="outside_window",
    )
    touchpoint = ibis.cases(
        (given_ok, given), (within, joined._ev_touchpoint), else_=ibis.null("string")
    )
    return joined.mutate(
        _touchpoint=touchpoint,
        _method=method,
        _given_unknown=(given.notnull() & ~given_ok).fill_null(False),
    ).drop(*[c for c in _EV_COLUMNS if c in joined.columns])


#: Helper columns of :func:`_last_event`, dropped once the method is known.
_EV_COLUMNS = ("_ev_customer", "_ev_ts", "_ev_touchpoint", "_first_customer", "_first_ts")


def _last_event(
    con: ibis.BaseBackend, fb: ir.Table, ev: ir.Table, window: ir.IntervalScalar
) -> tuple[ir.Table, ir.BooleanValue, ir.BooleanValue]:
    """``fb`` with ``_ev_touchpoint`` (the last mapped event at or before ``ts`` if within
    ``window``), and the conditions "has a mapped event at or before" and "within window".

    ``ev`` has one row per (``_ev_customer``, ``_ev_ts``). The one place that picks the
    join's form: DuckDB's ASOF join (one sort-merge pass); Spark has no ASOF join, so
    there the responses (distinct customer and time) are joined with the customer's events
    inside the window (few per response), the latest kept, plus each customer's first
    mapped event to tell "no event before" from "outside the window". Same rows on both
    (tests/spark/test_voice.py).
    """
    if not backend.is_spark(con):
        joined = fb.asof_join(
            ev, on=fb.ts >= ev._ev_ts, predicates=[fb.customer_id == ev._ev_customer]
        )
        has_event = joined._ev_touchpoint.notnull()
        return joined, has_event, has_event & (joined._ev_ts >= joined.ts - window)
    asked = fb.select(_q_customer=fb.customer_id, _q_ts=fb.ts).distinct()
    near = asked.join(
        ev,
        [
            asked._q_customer == ev._ev_customer,
            ev._ev_ts <= asked._q_ts,
            ev._ev_ts >= asked._q_ts - window,
        ],
    )
    latest = near.group_by(["_q_customer", "_q_ts"]).aggregate(_last_ts=near._ev_ts.max())
    latest = latest.join(
        ev, [latest._q_customer == ev._ev_customer, latest._last_ts == ev._ev_ts]
    ).select("_q_customer", "_q_ts", "_ev_ts", "_ev_touchpoint")
    first = ev.group_by(_first_customer=ev._ev_customer).aggregate(_first_ts=ev._ev_ts.min())
    joined = fb.left_join(
        latest, [fb.customer_id == latest._q_customer, fb.ts == latest._q_ts]
    ).drop("_q_customer", "_q_ts")
    joined = joined.left_join(first, joined.customer_id == first._first_customer)
    has_event = joined._first_ts.notnull() & (joined._first_ts <= joined.ts)
    return joined, has_event.fill_null(False), joined._ev_touchpoint.notnull()
