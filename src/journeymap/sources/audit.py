"""Data-quality audit of a workspace: what is wrong with the data, with counts.

Every check is a set-based Ibis query over the canonical tables (docs/contracts.md); only
small aggregates come back to Python. Checks, and exactly what each counts:

- ``sources``: rows per table and ``source``.
- ``quarantine``: quarantined rows per table, source and reason (table ``quarantine``).
- ``duplicates``: groups of events with the same customer_id, event, ts and properties
  under two or more different event_ids; ``extra`` = copies beyond the first.
- ``time_outliers``: events after ``now`` (``future``) or before ``[audit] oldest``
  (default 2000-01-01, ``too_old``), per source.
- ``clock_skew``: per source, for each of its events the nearest event of the same
  customer from any *other* source within ``[audit] skew_window_hours`` (default 24),
  either side (on a tie the earlier one); the median signed gap (this event minus the
  other) is the source's offset.
  Its spread is the median absolute deviation of those gaps. A wrong clock shifts every
  event by the same amount (tight gaps), while journey order (an ad click minutes to
  hours before the visit) gives gaps that vary widely; so a source is flagged when
  |median| > ``skew_threshold_minutes`` (default 30), spread <= ``skew_max_spread``
  (default 0.25) x |median|, and there are at least ``skew_min_n`` (default 20) pairs.
  Every source with pairs is listed, with ``n`` and the spread.
- ``one_event_customers``: customers with exactly one event, out of all event customers.
- ``unmapped_events``: events whose touchpoint is NULL, by event name (and channel),
  most frequent first, so the user knows which match rules to add.
- ``unattached_feedback``: feedback whose touchpoint is NULL, by kind and source.
- ``coverage_gaps``: for each channel, runs of days with no event between the channel's
  first and last day, reported when such a run is unlikely by chance: with ``m`` the
  channel's median events per active day, a run of ``d`` empty days is reported when
  exp(-m * d) (the Poisson chance of it) is below ``gap_max_probability`` (default
  0.001). A quiet day of a sparse channel is not an outage; a day without the 80
  page views a day usually brings is. Days are UTC calendar days; events in the
  future or before ``oldest`` are left out here (they are reported as time outliers and
  would otherwise open a decades-long "gap").
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

CHECKS: tuple[str, ...] = (
    "sources",
    "quarantine",
    "duplicates",
    "time_outliers",
    "clock_skew",
    "one_event_customers",
    "unmapped_events",
    "unattached_feedback",
    "coverage_gaps",
)

#: How many example rows a frame keeps where the full list could be long.
EXAMPLES = 50


class AuditSettingsError(ValueError):
    """An ``[audit]`` setting has a value journeymap cannot use."""


@dataclass(frozen=True)
class AuditSettings:
    """Resolved ``[audit]`` settings (all optional in journeymap.toml)."""

    oldest: dt.datetime = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    skew_threshold_minutes: float = 30.0
    skew_min_n: int = 20
    skew_window_hours: float = 24.0
    skew_max_spread: float = 0.25
    gap_max_probability: float = 0.001


def audit_settings(settings: Mapping[str, Any] | None) -> AuditSettings:
    """Read ``[audit]`` from a workspace settings dict, filling defaults."""
    section = dict((settings or {}).get("audit") or {})
    where = "journeymap.toml [audit]"
    base = AuditSettings()
    oldest = section.get("oldest", base.oldest)
    try:
        stamp = pd.Timestamp(oldest)
    except (TypeError, ValueError) as exc:
        raise AuditSettingsError(
            f"{where} oldest = {oldest!r}: expected a date such as 2000-01-01"
        ) from exc
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    values: dict[str, float] = {}
    names = (
        "skew_threshold_minutes",
        "skew_min_n",
        "skew_window_hours",
        "skew_max_spread",
        "gap_max_probability",
    )
    for name in names:
        raw = section.get(name, getattr(base, name))
        ok = isinstance(raw, int | float) and not isinstance(raw, bool) and raw >= 0
        if name == "skew_min_n":
            ok = ok and isinstance(raw, int) and raw >= 1
        if not ok or (isinstance(raw, float) and math.isnan(raw)):
            kind = "a whole number >= 1" if name == "skew_min_n" else "a number >= 0"
            raise AuditSettingsError(f"{where} {name} = {raw!r}: expected {kind}")
        values[name] = raw
    return AuditSettings(
        oldest=stamp.to_pydatetime(),
        skew_threshold_minutes=float(values["skew_threshold_minutes"]),
        skew_min_n=int(values["skew_min_n"]),
        skew_window_hours=float(values["skew_window_hours"]),
        skew_max_spread=float(values["skew_max_spread"]),
        gap_max_probability=float(values["gap_max_probability"]),
    )


@dataclass
class AuditReport:
    """Result of :func:`audit`: one summary count and one frame per check (:data:`CHECKS`)."""

    generated_at: dt.datetime
    summary: dict[str, int] = field(default_factory=dict)
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    settings: AuditSettings = field(default_factory=AuditSettings)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The per-check frames, in :data:`CHECKS` order."""
        return {name: self.frames[name] for name in CHECKS if name in self.frames}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: timestamps as ISO text, missing values as None."""
        return {
            "generated_at": self.generated_at.isoformat(),
            "settings": {
                "oldest": self.settings.oldest.isoformat(),
                "skew_threshold_minutes": self.settings.skew_threshold_minutes,
                "skew_min_n": self.settings.skew_min_n,
                "skew_window_hours": self.settings.skew_window_hours,
                "skew_max_spread": self.settings.skew_max_spread,
                "gap_max_probability": self.settings.gap_max_probability,
            },
            "summary": dict(self.summary),
            "checks": {name: _records(frame) for name, frame in self.tables().items()},
        }


def audit(ws: Any, *, now: dt.datetime | None = None) -> AuditReport:
    """Audit a workspace's warehouse (``ws.audit()``).

    On a Spark workspace the data tables are Spark's and ``quarantine`` is in the DuckDB
    file (``ws.table`` knows which is where).
    """
    return audit_in(ws.con, ws.settings, now=now, quarantine=ws.table("quarantine"))


def audit_in(
    con: ibis.BaseBackend,
    settings: Mapping[str, Any] | None = None,
    *,
    now: dt.datetime | None = None,
    quarantine: ir.Table | None = None,
) -> AuditReport:
    """:func:`audit` on a bare Ibis connection holding the canonical tables.

    ``quarantine`` overrides the connection's own ``quarantine`` table (a Spark
    workspace keeps it in its DuckDB file).
    """
    cfg = audit_settings(settings)
    now = now or dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        raise ValueError(f"audit now={now!r}: expected a timezone-aware datetime")
    present = set(con.list_tables())
    ev = con.table("events") if "events" in present else None
    fb = con.table("feedback") if "feedback" in present else None
    cu = con.table("customers") if "customers" in present else None
    qu = con.table("quarantine") if "quarantine" in present else None
    qu = quarantine if quarantine is not None else qu
    report = AuditReport(generated_at=now, settings=cfg)
    f = report.frames
    s = report.summary

    f["sources"] = _sources({"events": ev, "feedback": fb, "customers": cu})
    s["rows"] = int(f["sources"]["rows"].sum())

    f["quarantine"] = _quarantine(qu)
    s["quarantined"] = int(f["quarantine"]["rows"].sum())

    f["duplicates"], s["duplicate_events"] = _duplicates(ev)

    f["time_outliers"] = _time_outliers(ev, now, cfg.oldest)
    out = f["time_outliers"]
    s["future_events"] = int(out.loc[out.kind == "future", "rows"].sum())
    s["too_old_events"] = int(out.loc[out.kind == "too_old", "rows"].sum())

    f["clock_skew"] = _clock_skew(ev, cfg)
    s["clock_skew_sources"] = int(f["clock_skew"]["flagged"].sum())

    f["one_event_customers"] = _one_event(ev)
    s["one_event_customers"] = int(f["one_event_customers"]["one_event"].sum())

    f["unmapped_events"] = _null_touchpoint(ev, ["event", "channel"])
    s["unmapped_events"] = int(f["unmapped_events"]["rows"].sum())

    f["unattached_feedback"] = _null_touchpoint(fb, ["kind", "source"])
    s["unattached_feedback"] = int(f["unattached_feedback"]["rows"].sum())

    f["coverage_gaps"] = _coverage_gaps(ev, cfg.gap_max_probability, cfg.oldest, now)
    s["coverage_gap_days"] = int(f["coverage_gaps"]["days"].sum())
    return report


def _frame(columns: dict[str, str]) -> pd.DataFrame:
    """An empty frame with the given columns and dtypes (checks with nothing to say)."""
    return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in columns.items()})


def _col(t: ir.Table, name: str) -> ir.Value:
    return t[name] if name in t.columns else ibis.null("string")


def _sources(tables: dict[str, ir.Table | None]) -> pd.DataFrame:
    parts = []
    for name, t in tables.items():
        if t is None:
            continue
        counts = t.group_by(source=_col(t, "source").cast("string")).aggregate(rows=t.count())
        frame = counts.to_pandas()
        frame.insert(0, "table", name)
        parts.append(frame)
    if not parts:
        return _frame({"table": "object", "source": "object", "rows": "int64"})
    out = pd.concat(parts, ignore_index=True)
    out["rows"] = out["rows"].astype("int64")
    return out.sort_values(["table", "source"], na_position="last", ignore_index=True)


def _quarantine(qu: ir.Table | None) -> pd.DataFrame:
    empty = {"table_name": "object", "source": "object", "reason": "object", "rows": "int64"}
    if qu is None:
        return _frame(empty)
    counts = qu.group_by(
        table_name=_col(qu, "table_name"), source=_col(qu, "source"), reason=_col(qu, "reason")
    ).aggregate(rows=qu.count())
    out = counts.order_by(ibis.desc("rows"), "table_name", "source", "reason").to_pandas()
    out["rows"] = out["rows"].astype("int64")
    return out


def _duplicates(ev: ir.Table | None) -> tuple[pd.DataFrame, int]:
    empty = {
        "customer_id": "object",
        "event": "object",
        "ts": "datetime64[ns, UTC]",
        "copies": "int64",
        "event_ids": "object",
    }
    if ev is None:
        return _frame(empty), 0
    keys = [c for c in ("customer_id", "event", "ts", "properties") if c in ev.columns]
    groups = ev.group_by(keys).aggregate(copies=ev.event_id.nunique(), ids=ev.event_id.collect())
    dup = groups.filter(groups.copies > 1)
    extra = int((dup.copies - 1).sum().fill_null(0).execute())
    top = dup.order_by(ibis.desc("copies"), *keys).limit(EXAMPLES).to_pandas()
    top["event_ids"] = [sorted(set(ids)) for ids in top.pop("ids")]
    top["copies"] = top["copies"].astype("int64")
    cols = ["customer_id", "event", "ts", "copies", "event_ids"]
    if "properties" in top.columns:
        cols.insert(3, "properties")
    return top[cols], extra


def _time_outliers(ev: ir.Table | None, now: dt.datetime, oldest: dt.datetime) -> pd.DataFrame:
    empty = {
        "kind": "object",
        "source": "object",
        "rows": "int64",
        "earliest": "datetime64[ns, UTC]",
        "latest": "datetime64[ns, UTC]",
    }
    if ev is None:
        return _frame(empty)
    kind = ibis.cases(
        (ev.ts > ibis.literal(now, type="timestamp('UTC')"), "future"),
        (ev.ts < ibis.literal(oldest, type="timestamp('UTC')"), "too_old"),
        else_=ibis.null("string"),
    )
    marked = ev.mutate(_kind=kind, _source=_col(ev, "source").cast("string"))
    marked = marked.filter(marked._kind.notnull())
    out = marked.group_by(kind="_kind", source="_source").aggregate(
        rows=marked.count(), earliest=marked.ts.min(), latest=marked.ts.max()
    )
    frame = out.order_by("kind", "source").to_pandas()
    if frame.empty:
        return _frame(empty)
    frame["rows"] = frame["rows"].astype("int64")
    return frame


def _clock_skew(ev: ir.Table | None, cfg: AuditSettings) -> pd.DataFrame:
    empty = {
        "source": "object",
        "median_gap_minutes": "float64",
        "spread_minutes": "float64",
        "n": "int64",
        "flagged": "bool",
    }
    if ev is None or "source" not in ev.columns:
        return _frame(empty)
    base = ev.filter(ev.customer_id.notnull() & ev.ts.notnull() & ev.source.notnull())
    base = base.select(_c=base.customer_id, _ts=base.ts, _src=base.source)
    sources = sorted(base._src.cast("string").name("s").as_table().distinct().to_pandas().s)
    window_s = cfg.skew_window_hours * 3600.0
    rows = []
    for source in sources:  # a loop over sources (a handful), each one set-based query
        own = base.filter(base._src == source).select(c=base._c, ts=base._ts)
        other = base.filter(base._src != source).select(oc=base._c, ots=base._ts)
        both = _before_after(own, other, window_s)
        g0, g1 = both.gap, both.gap_right
        nearest = ibis.cases(
            (g0.isnull(), g1),
            (g1.isnull(), g0),
            (g0.abs() <= g1.abs(), g0),
            else_=g1,
        )
        near = both.select(gap=nearest.cast("float64"))
        near = near.filter(near.gap.notnull() & (near.gap.abs() <= window_s))
        agg = near.aggregate(n=near.count(), median=near.gap.median()).to_pandas().iloc[0]
        n = int(agg["n"])
        if n == 0:
            continue
        median_s = float(agg["median"])
        spread_s = float((near.gap - median_s).abs().median().execute())
        median_min, spread_min = median_s / 60.0, spread_s / 60.0
        flagged = (
            n >= cfg.skew_min_n
            and abs(median_min) > cfg.skew_threshold_minutes
            and spread_min <= cfg.skew_max_spread * abs(median_min)
        )
        rows.append(
            {
                "source": source,
                "median_gap_minutes": median_min,
                "spread_minutes": spread_min,
                "n": n,
                "flagged": flagged,
            }
        )
    if not rows:
        return _frame(empty)
    return pd.DataFrame(rows).astype({"n": "int64", "flagged": "bool"})


def _before_after(own: ir.Table, other: ir.Table, window_s: float) -> ir.Table:
    """Per event of ``own`` (``c``, ``ts``): signed seconds to the nearest ``other`` event
    of the same customer before it (``gap`` >= 0) and after it (``gap_right`` <= 0).

    The gaps are found once per distinct (customer, ts) and given back to each event
    there, so an event repeated k times at one instant counts k times. The one place that
    picks the form of the search: DuckDB, two ASOF joins; Spark has no ASOF join, so the
    keys are joined with the other events within ``window_s`` either side (only those can
    be kept) and the nearest each way aggregated. Both give the same gaps (a nearest
    event beyond the window is dropped by the caller on DuckDB, never found on Spark).
    """
    from journeymap.workspace.backend import is_spark

    keys = own.select("c", "ts").distinct()
    if not is_spark(own.get_backend()):
        gaps = []
        for on in ("before", "after"):
            cond = keys.ts >= other.ots if on == "before" else keys.ts <= other.ots
            j = keys.asof_join(other, on=cond, predicates=[keys.c == other.oc])
            gaps.append(j.select(c=j.c, ts=j.ts, gap=j.ts.epoch_seconds() - j.ots.epoch_seconds()))
        before, after = gaps
        after = after.select("c", "ts", gap_right=after.gap)
        per = before.join(after, ["c", "ts"])
    else:
        window = ibis.interval(seconds=math.ceil(window_s))
        near = keys.join(
            other,
            [keys.c == other.oc, other.ots >= keys.ts - window, other.ots <= keys.ts + window],
        )
        # seconds with their fraction (Spark's unix_timestamp drops it; DuckDB's epoch keeps it)
        gap = near.ts.cast("float64") - near.ots.cast("float64")
        near = near.mutate(_gap=gap)
        per = near.group_by(["c", "ts"]).aggregate(
            gap=near._gap.min(where=near._gap >= 0), gap_right=near._gap.max(where=near._gap <= 0)
        )
    return own.left_join(per, ["c", "ts"]).select("c", "ts", "gap", "gap_right")


def _one_event(ev: ir.Table | None) -> pd.DataFrame:
    empty = {"customers": "int64", "one_event": "int64", "share": "float64"}
    if ev is None:
        return _frame(empty)
    known = ev.filter(ev.customer_id.notnull())
    per = known.group_by("customer_id").aggregate(n=known.count())
    agg = per.aggregate(customers=per.count(), one_event=(per.n == 1).sum()).to_pandas()
    customers = int(agg["customers"].iloc[0])
    one = int(agg["one_event"].fillna(0).iloc[0])
    share = one / customers if customers else 0.0
    return pd.DataFrame({"customers": [customers], "one_event": [one], "share": [share]})


def _null_touchpoint(t: ir.Table | None, by: list[str]) -> pd.DataFrame:
    empty = {**{c: "object" for c in by}, "rows": "int64", "customers": "int64"}
    if t is None or "touchpoint" not in t.columns:
        return _frame(empty)
    missing = t.filter(t.touchpoint.isnull())
    groups = {c: _col(missing, c).cast("string") for c in by}
    out = missing.group_by(**groups).aggregate(
        rows=missing.count(), customers=missing.customer_id.nunique()
    )
    frame = out.order_by(ibis.desc("rows"), *by).to_pandas()
    if frame.empty:
        return _frame(empty)
    return frame.astype({"rows": "int64", "customers": "int64"})


def _coverage_gaps(
    ev: ir.Table | None, max_probability: float, oldest: dt.datetime, now: dt.datetime
) -> pd.DataFrame:
    empty = {
        "channel": "object",
        "gap_start": "object",
        "gap_end": "object",
        "days": "int64",
        "median_daily_events": "float64",
    }
    if ev is None or "channel" not in ev.columns:
        return _frame(empty)
    low = ibis.literal(oldest, type="timestamp('UTC')")
    high = ibis.literal(now, type="timestamp('UTC')")
    dated = ev.filter(ev.ts.notnull() & ev.channel.notnull() & (ev.ts >= low) & (ev.ts <= high))
    daily = dated.group_by(channel=dated.channel, day=dated.ts.date()).aggregate(n=dated.count())
    frame = daily.to_pandas()  # channels x days: small whatever the event count
    rows = []
    for channel, days in frame.groupby("channel"):
        median = float(days["n"].median())
        seen = set(pd.to_datetime(days["day"]).dt.date)
        span = pd.date_range(min(seen), max(seen), freq="D").date
        run: list[dt.date] = []
        for day in [*span, None]:
            if day is not None and day not in seen:
                run.append(day)
                continue
            if run and math.exp(-median * len(run)) < max_probability:
                rows.append(
                    {
                        "channel": channel,
                        "gap_start": run[0].isoformat(),
                        "gap_end": run[-1].isoformat(),
                        "days": len(run),
                        "median_daily_events": median,
                    }
                )
            run = []
    if not rows:
        return _frame(empty)
    return pd.DataFrame(rows).astype({"days": "int64"})


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Frame rows as JSON-ready dicts (ISO timestamps, None for missing, plain numbers)."""
    out = []
    for row in frame.to_dict(orient="records"):
        clean: dict[str, Any] = {}
        for key, value in row.items():
            if isinstance(value, pd.Timestamp | dt.datetime | dt.date):
                clean[key] = value.isoformat()
            elif isinstance(value, list | tuple):
                clean[key] = [str(v) for v in value]
            elif value is None or (isinstance(value, float) and math.isnan(value)):
                clean[key] = None
            elif value is pd.NaT:
                clean[key] = None
            elif hasattr(value, "item"):
                clean[key] = value.item()
            else:
                clean[key] = value
        out.append(clean)
    return out
