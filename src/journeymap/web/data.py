"""What the pages show, as plain functions over an open workspace (no web code here).

The web routes call these and only format the result; the same functions answer the
REST API, so a page and its API never disagree. One DuckDB connection is not safe for
two threads at once, so every function here takes the :class:`Warehouse` whose lock
serialises access; long work runs in the app's thread pool, never on the event loop.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import ibis
import pandas as pd

from journeymap.snapshot import JourneySnapshot
from journeymap.workspace import Workspace

TIMELINE_LIMIT = 2000
QUOTES = 12
EXIT_SAMPLE = 20


class Warehouse:
    """A workspace plus the lock that serialises use of its single connection."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.lock = threading.RLock()

    def run(self, fn: Callable[[Workspace], Any]) -> Any:
        with self.lock:
            return fn(self.ws)


class Jobs:
    """Results cached by key (data version, spec version, question); computed once.

    A page asks :meth:`start` and waits a little; if the answer is not ready it shows a
    placeholder that polls, so a slow computation never holds a page.
    """

    def __init__(self, workers: int = 2, keep: int = 64) -> None:
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="journeymap-web")
        self.futures: dict[str, Future] = {}
        self.keep = keep
        self.lock = threading.Lock()

    def start(self, key: str, fn: Callable[[], Any]) -> Future:
        with self.lock:
            fut = self.futures.get(key)
            if fut is None or (fut.done() and fut.exception() is not None):
                fut = self.pool.submit(fn)
                self.futures[key] = fut
                while len(self.futures) > self.keep:
                    self.futures.pop(next(iter(self.futures)))
            return fut

    def status(self, key: str) -> str:
        fut = self.futures.get(key)
        if fut is None:
            return "unknown"
        if not fut.done():
            return "running"
        return "failed" if fut.exception() is not None else "done"

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: NaN/NaT become None, timestamps ISO text, numpy scalars plain."""
    out = []
    for row in df.to_dict(orient="records"):
        clean = {}
        for k, v in row.items():
            if isinstance(v, pd.Timestamp):
                v = _utc(v).isoformat()
            elif hasattr(v, "item") and not isinstance(v, list | dict):
                try:
                    v = v.item()
                except (ValueError, AttributeError):
                    v = str(v)
            if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
                v = None
            elif v is pd.NaT or (not isinstance(v, list | dict | tuple | str) and _isna(v)):
                v = None
            clean[str(k)] = _plain(v)
        out.append(clean)
    return out


def _isna(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple) or hasattr(v, "tolist"):
        items = v.tolist() if hasattr(v, "tolist") else v
        return [_plain(x) for x in items]
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return _utc(v).isoformat()
    return v


def _utc(v: pd.Timestamp) -> pd.Timestamp:
    """Timestamps are UTC instants everywhere; Spark's come back without a zone (Ibis
    reads its TIMESTAMP as naive), so the JSON says UTC on both backends."""
    return v.tz_localize("UTC") if v.tzinfo is None and v is not pd.NaT else v


# -- the map -----------------------------------------------------------------------------


def snapshot(wh: Warehouse, persona: str | None = None) -> JourneySnapshot:
    return wh.run(lambda ws: ws.snapshot(persona=persona or None))


def touchpoint_detail(wh: Warehouse, snap: JourneySnapshot, tp_id: str) -> dict[str, Any]:
    """Everything the touchpoint page shows: card, paths in/out, funnel step, voice."""
    card = next((t for t in snap.touchpoints if t.id == tp_id), None)
    if card is None:
        raise KeyError(f"touchpoint {tp_id!r} is not defined")
    incoming = sorted(
        (e for e in snap.transitions if e.target == tp_id),
        key=lambda e: -(e.customers.value or 0),
    )
    outgoing = sorted(
        (e for e in snap.transitions if e.source == tp_id),
        key=lambda e: -(e.customers.value or 0),
    )
    funnel_step = next((f for f in snap.funnel if f.key == tp_id), None)

    def voice(ws: Workspace) -> dict[str, Any]:
        fb = ws.table("feedback")
        quotes = (
            fb.filter((fb.touchpoint == tp_id) & fb.text.notnull())
            .order_by([ibis.desc("ts"), "feedback_id"])
            .select("feedback_id", "customer_id", "ts", "kind", "score", "sentiment", "text")
            .limit(QUOTES)
            .to_pandas()
        )
        try:
            themes = ws.analysis().themes()
            themes = themes[themes.iloc[:, 0] == tp_id] if len(themes) else themes
        except Exception as exc:  # voice may have too little data; show why, do not fail
            themes = pd.DataFrame({"note": [f"themes unavailable: {exc}"]})
        return {"quotes": records(quotes), "themes": records(themes)}

    out = {
        "exits": wh.run(lambda ws: exits_at(ws, tp_id)),
        "weekly": wh.run(lambda ws: weekly_reach(ws, tp_id)),
        "touchpoint": card.model_dump(mode="json"),
        "incoming": [e.model_dump(mode="json") for e in incoming],
        "outgoing": [e.model_dump(mode="json") for e in outgoing],
        "funnel_step": funnel_step.model_dump(mode="json") if funnel_step else None,
    }
    out.update(wh.run(voice))
    return out


def exits_at(ws: Workspace, tp_id: str, limit: int = EXIT_SAMPLE) -> dict[str, Any]:
    """Customers whose last mapped event is at this touchpoint: who left here.

    Ties are broken by (ts, event, event_id) as everywhere in journeymap. For the goal
    touchpoint these are customers who finished, not who gave up.
    """
    ev = ws.table("events")
    ev = ev.filter(ev.touchpoint.notnull())
    last = ibis.row_number().over(
        group_by=ev.customer_id,
        order_by=[ibis.desc(ev.ts), ibis.desc(ev.event), ibis.desc(ev.event_id)],
    )
    ranked = ev.select("customer_id", "touchpoint", "ts", rn=last)
    left = ranked.filter((ranked.rn == 0) & (ranked.touchpoint == tp_id))
    total = int(left.count().to_pandas())
    sample = (
        left.order_by([ibis.desc("ts"), "customer_id"])
        .select("customer_id", last_seen="ts")
        .limit(limit)
        .to_pandas()
    )
    return {"customers": total, "sample": records(sample)}


def weekly_reach(ws: Workspace, tp_id: str) -> list[dict[str, Any]]:
    """Customers and events at the touchpoint per ISO week (Monday, UTC): its trend."""
    ev = ws.table("events")
    ev = ev.filter(ev.touchpoint == tp_id)
    weekly = (
        ev.group_by(week=ev.ts.truncate("W"))
        .aggregate(customers=ev.customer_id.nunique(), events=ev.count())
        .order_by("week")
        .to_pandas()
    )
    weekly["week"] = weekly["week"].astype(str).str[:10]
    return records(weekly)


# -- funnels and flows -------------------------------------------------------------------


def funnel_and_flow_charts(
    spec: Any, funnel_rows: pd.DataFrame | None, flow_rows: pd.DataFrame | None
) -> dict[str, str]:
    """SVG charts drawn by journeymap.render from engine frames (no drawing code here)."""
    from journeymap.render import funnel_chart, sankey_chart
    from journeymap.snapshot import EngineOutputs, snapshot_from_outputs

    outputs = EngineOutputs(
        stage_metrics=pd.DataFrame({"stage": []}),
        touchpoint_metrics=pd.DataFrame({"touchpoint": []}),
        funnel=funnel_rows,
        flows=flow_rows,
    )
    snap = snapshot_from_outputs(spec, outputs)
    charts = {}
    if funnel_rows is not None and len(funnel_rows):
        charts["funnel"] = funnel_chart(snap).svg
    if flow_rows is not None and len(flow_rows):
        charts["sankey"] = sankey_chart(snap).svg
    return charts


def funnel_page_data(
    wh: Warehouse,
    steps: list[str],
    window: str,
    order: str,
    breakdown: str | None,
    flow_from: str | None,
) -> dict[str, Any]:
    """What the funnel builder shows: the funnel table, the flows table and their charts."""

    def run(ws: Workspace) -> dict[str, Any]:
        an = ws.analysis()
        out: dict[str, Any] = {"rows": None, "flow_rows": None, "charts": {}}
        total = None
        if len(steps) >= 2:
            total = an.funnel(steps, window=window, order=order)
            table = (
                an.funnel(steps, window=window, order=order, breakdown=breakdown)
                if breakdown
                else total
            )
            out["rows"] = records(table)
        flow = an.flows(start=flow_from) if flow_from else None
        out["flow_rows"] = records(flow) if flow is not None else None
        out["charts"] = funnel_and_flow_charts(ws.spec, total, flow)
        return out

    return wh.run(run)


def funnel(
    wh: Warehouse,
    steps: list[str],
    window: str = "14d",
    order: str = "ordered",
    breakdown: str | None = None,
) -> list[dict[str, Any]]:
    if len(steps) < 2:
        raise ValueError("steps: expected at least two touchpoints")
    return wh.run(
        lambda ws: records(
            ws.analysis().funnel(steps, window=window, order=order, breakdown=breakdown or None)
        )
    )


def flows(
    wh: Warehouse, start: str | None = None, end: str | None = None, steps: int = 5
) -> list[dict[str, Any]]:
    if not start and not end:
        raise ValueError("flows: expected a start or an end touchpoint")
    return wh.run(
        lambda ws: records(ws.analysis().flows(start=start or None, end=end or None, steps=steps))
    )


# -- customers ---------------------------------------------------------------------------


def find_customers(wh: Warehouse, query: str, limit: int = 20) -> list[dict[str, Any]]:
    """Customers whose id or any identifier (email, phone, crm id, ...) equals ``query``.

    Email matching ignores case (people type addresses in any case).
    """
    q = query.strip()
    if not q:
        return []

    def run(ws: Workspace) -> list[dict[str, Any]]:
        ids = ws.table("identities")
        hits = ids.filter(
            (ids.identifier_value == q) | (ids.identifier_value.lower() == q.lower())
        ).select("customer_id", "identifier_type", "identifier_value")
        frame = hits.limit(limit).to_pandas()
        cust = ws.table("customers")
        direct = cust.filter(cust.customer_id == q).select("customer_id").limit(1).to_pandas()
        if len(direct):
            frame = pd.concat(
                [
                    pd.DataFrame(
                        {
                            "customer_id": [q],
                            "identifier_type": ["customer_id"],
                            "identifier_value": [q],
                        }
                    ),
                    frame,
                ],
                ignore_index=True,
            )
        if not len(frame):
            ev = ws.table("events")
            direct = ev.filter(ev.customer_id == q).select("customer_id").limit(1).to_pandas()
            if len(direct):
                frame = pd.DataFrame(
                    {
                        "customer_id": [q],
                        "identifier_type": ["customer_id"],
                        "identifier_value": [q],
                    }
                )
        return records(frame.drop_duplicates("customer_id"))

    return wh.run(run)


def customer_360(wh: Warehouse, customer_id: str) -> dict[str, Any]:
    """A customer's record, identifiers and whole timeline (events and feedback, in order)."""

    def run(ws: Workspace) -> dict[str, Any]:
        cust = ws.table("customers")
        record = cust.filter(cust.customer_id == customer_id).limit(1).to_pandas()
        ids = ws.table("identities")
        idents = ids.filter(ids.customer_id == customer_id).to_pandas()
        ev = ws.table("events")
        events = ev.filter(ev.customer_id == customer_id).select(
            kind=ibis.literal("event"),
            ts="ts",
            event="event",
            channel="channel",
            touchpoint="touchpoint",
            stage="stage",
            source="source",
            score=ibis.null("float64"),
            text=ibis.null("string"),
            id="event_id",
        )
        fb = ws.table("feedback")
        feedback = fb.filter(fb.customer_id == customer_id).select(
            kind=ibis.literal("feedback"),
            ts="ts",
            event="kind",
            channel=ibis.null("string"),
            touchpoint="touchpoint",
            stage=ibis.null("string"),
            source="source",
            score="score",
            text="text",
            id="feedback_id",
        )
        timeline = (
            events.union(feedback)
            .order_by(["ts", "event", "id"])
            .limit(TIMELINE_LIMIT + 1)
            .to_pandas()
        )
        if record.empty and idents.empty and timeline.empty:
            raise KeyError(f"customer {customer_id!r} not found")
        truncated = len(timeline) > TIMELINE_LIMIT
        return {
            "customer_id": customer_id,
            "record": records(record)[0] if len(record) else None,
            "identifiers": records(idents[["identifier_type", "identifier_value"]]),
            "timeline": records(timeline.head(TIMELINE_LIMIT)),
            "truncated": truncated,
        }

    return wh.run(run)


# -- personas, health, match preview -----------------------------------------------------


def personas(wh: Warehouse) -> list[dict[str, Any]]:
    """Each persona's authored card plus computed behaviour: customers, events, conversion.

    ``customers`` counts distinct customer ids; ``conversion`` is the share of those with
    events who reached the goal touchpoint.
    """

    def run(ws: Workspace) -> list[dict[str, Any]]:
        spec = ws.spec
        goal = spec.goal.touchpoint if spec.goal else None
        rows = ws.table("customers")
        # a stitched customer may hold several records (even of different personas):
        # count each customer once, under the first persona id in sort order
        cust = rows.group_by("customer_id").aggregate(persona=rows.persona.min())
        ev = ws.table("events")
        per = ev.group_by("customer_id").aggregate(
            events=ev.count(),
            converted=(ev.touchpoint == goal).any() if goal else ibis.literal(False),
        )
        joined = cust.left_join(per, "customer_id")
        stats = (
            joined.group_by("persona")
            .aggregate(
                customers=joined.count(),
                active=joined.events.notnull().sum(),
                events=joined.events.sum(),
                converted=joined.converted.fill_null(False).cast("int64").sum(),
            )
            .to_pandas()
        )
        by = {r["persona"]: r for r in records(stats)}
        out = []
        for p in spec.personas:
            row = by.get(p.id, {})
            active = row.get("active") or 0
            out.append(
                {
                    **p.model_dump(mode="json", exclude_none=True),
                    "customers": row.get("customers") or 0,
                    "active_customers": active,
                    "events_per_customer": (row.get("events") or 0) / active if active else None,
                    "conversion": (row.get("converted") or 0) / active if active else None,
                    "goal": goal,
                }
            )
        return out

    return wh.run(run)


def audit(wh: Warehouse) -> dict[str, Any]:
    return wh.run(lambda ws: ws.audit().to_dict())


def match_preview(wh: Warehouse, rule: dict[str, Any], limit: int = 20) -> dict[str, Any]:
    """How many events a touchpoint match rule selects, and a sample of them."""
    from journeymap.spec import MatchRule
    from journeymap.spec.matching import match_rule_expr

    parsed = MatchRule.model_validate(rule)

    def run(ws: Workspace) -> dict[str, Any]:
        ev = ws.table("events")
        hit = ev.filter(match_rule_expr(parsed, ev))
        total = int(hit.count().to_pandas())
        sample = (
            hit.order_by(["ts", "event", "event_id"])
            .select("event_id", "customer_id", "ts", "event", "channel", "touchpoint", "properties")
            .limit(limit)
            .to_pandas()
        )
        return {"matched": total, "sample": records(sample)}

    return wh.run(run)


def to_json(data: Any) -> str:
    """JSON for a ``<script type="application/json">`` island (``<``,``>``,``&`` escaped)."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
