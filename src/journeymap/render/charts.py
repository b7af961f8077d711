"""Charts of a snapshot, each with a data twin: the table it draws, callable on its own.

``funnel_data(snap)`` and friends return pandas DataFrames; ``funnel_chart(snap)`` and
friends draw exactly that table as SVG (own drawing code, no JavaScript, so the charts
work offline, print, and go into PNG/PDF through the same path as the map). Each chart
object shows inline in notebooks through ``_repr_html_``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from journeymap.render import emotion_lane
from journeymap.render.palette import (
    INK,
    MUTED,
    OKABE_ITO,
    RULE,
    SERIES,
    count,
    duration,
    percent,
)
from journeymap.render.svg import document, esc, fmt, label, tag, text_block
from journeymap.snapshot.model import EmotionPoint, JourneySnapshot, Metric

TOP_EDGES = 15
SANKEY_EDGES = 40


@dataclass
class Chart:
    """A drawn chart and the table it was drawn from."""

    name: str
    title: str
    data: pd.DataFrame
    svg: str

    def to_svg(self) -> str:
        """The chart as a standalone SVG document."""
        return self.svg

    def _repr_html_(self) -> str:
        return self.svg


# ------------------------------------------------------------------ data twins


def funnel_data(snap: JourneySnapshot) -> pd.DataFrame:
    """One row per funnel step: customers, conversion from step 1 and from the previous step,
    drop-off, median time to convert, and the n behind each rate."""
    rows = [
        {
            "step": s.step,
            "key": s.key,
            "name": s.name,
            "customers": s.customers.value,
            "conversion": s.conversion.value,
            "conversion_previous": s.conversion_previous.value,
            "dropped": s.dropped.value,
            "dropoff": s.dropoff.value,
            "median_time_to_convert_s": s.median_time_to_convert_s.value,
            "entered": s.customers.n,
            "previous_customers": s.dropoff.n,
        }
        for s in snap.funnel
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "step",
            "key",
            "name",
            "customers",
            "conversion",
            "conversion_previous",
            "dropped",
            "dropoff",
            "median_time_to_convert_s",
            "entered",
            "previous_customers",
        ],
    )


def sankey_data(snap: JourneySnapshot, top: int | None = SANKEY_EDGES) -> pd.DataFrame:
    """Flow edges: step, source, target (ids and labels), customers, and customers at the
    source (n); the ``top`` largest edges (all with ``top=None``), in step order."""
    flows = snap.flows
    if top is not None:
        flows = sorted(
            flows, key=lambda e: (-(e.customers.value or 0), e.step, e.source, e.target)
        )[:top]
        flows = sorted(flows, key=lambda e: (e.step, -(e.customers.value or 0)))
    rows = [
        {
            "step": e.step,
            "source": e.source,
            "target": e.target,
            "source_label": snap.label(e.source),
            "target_label": snap.label(e.target),
            "customers": e.customers.value,
            "source_customers": e.customers.n,
        }
        for e in flows
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "step",
            "source",
            "target",
            "source_label",
            "target_label",
            "customers",
            "source_customers",
        ],
    )


def emotion_curve_data(snap: JourneySnapshot) -> pd.DataFrame:
    """Emotion per touchpoint in journey order: mean, 95% interval and n (NaN = no data)."""
    rows = [
        {
            "key": p.key,
            "label": p.label,
            "stage": p.stage,
            "mean": p.emotion.value,
            "ci_low": p.emotion.ci_low,
            "ci_high": p.emotion.ci_high,
            "n": p.emotion.n,
        }
        for p in snap.emotion_curve
    ]
    return pd.DataFrame(rows, columns=["key", "label", "stage", "mean", "ci_low", "ci_high", "n"])


def quadrant(impact: int, effort: int) -> str:
    """TheyDo-style value/effort quadrant (3 is the middle of the 1..5 scales: high)."""
    if impact >= 3:
        return "quick win" if effort < 3 else "big bet"
    return "fill-in" if effort < 3 else "money pit"


def opportunity_matrix_data(snap: JourneySnapshot) -> pd.DataFrame:
    """Opportunities with their impact, effort, status and quadrant."""
    rows = [
        {
            "id": o.id,
            "title": o.title,
            "touchpoint": o.touchpoint,
            "stage": o.stage,
            "impact": o.impact,
            "effort": o.effort,
            "status": o.status,
            "owner": o.owner,
            "quadrant": quadrant(o.impact, o.effort),
        }
        for o in snap.opportunities
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "id",
            "title",
            "touchpoint",
            "stage",
            "impact",
            "effort",
            "status",
            "owner",
            "quadrant",
        ],
    )


def transition_graph_data(snap: JourneySnapshot, top: int = TOP_EDGES) -> pd.DataFrame:
    """The ``top`` directly-follows edges by count, with the share of the source's
    transitions each takes (n = all transitions out of the source) and timing."""
    edges = sorted(snap.transitions, key=lambda e: (-(e.count.value or 0), e.source, e.target))
    rows = [
        {
            "source": e.source,
            "target": e.target,
            "source_label": snap.label(e.source),
            "target_label": snap.label(e.target),
            "count": e.count.value,
            "source_transitions": e.count.n,
            "share_of_source": (e.count.value or 0) / e.count.n if e.count.n else None,
            "customers": e.customers.value,
            "median_s": e.median_s.value,
            "p90_s": e.p90_s.value,
        }
        for e in edges[:top]
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "source",
            "target",
            "source_label",
            "target_label",
            "count",
            "source_transitions",
            "share_of_source",
            "customers",
            "median_s",
            "p90_s",
        ],
    )


# ------------------------------------------------------------------ drawings


def _empty(name: str, title: str, data: pd.DataFrame, why: str) -> Chart:
    body = [label(title, 16, 28, size=16, weight="700"), label(why, 16, 56, size=13, fill=MUTED)]
    return Chart(name, title, data, document(640, 80, body, title=title, desc=why))


def _none(v: object) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def funnel_chart(snap: JourneySnapshot) -> Chart:
    """Horizontal bars, one per step, labelled with customers, conversion and drop-off."""
    data = funnel_data(snap)
    title = "Funnel"
    if data.empty:
        return _empty("funnel", title, data, "No funnel: fewer than two steps with customers.")
    width, left, bar_w, row = 900.0, 220.0, 360.0, 50.0
    first = float(data["customers"].iloc[0] or 0) or 1.0
    body = [label(title, 16, 28, size=16, weight="700")]
    y = 48.0
    for r in data.itertuples():
        cust = float(r.customers or 0)
        w = max(2.0, bar_w * cust / first)
        body.append(
            text_block(
                f"{r.step}. {r.name}", 16, y + 20, left - 28, size=13, weight="700", max_lines=2
            )[0]
        )
        body.append(
            tag("rect", x=fmt(left), y=fmt(y + 6), width=fmt(bar_w), height=26, fill="#eeeeee")
        )
        body.append(
            tag(
                "rect",
                x=fmt(left),
                y=fmt(y + 6),
                width=fmt(w),
                height=26,
                fill=OKABE_ITO["blue"],
                class_="funnel-bar",
                data_key=r.key,
            )
        )
        facts = [f"{count(cust)} customers", f"{percent(_none(r.conversion), 1)} of step 1"]
        if r.step != data["step"].iloc[0]:
            facts.append(
                f"{count(r.dropped)} dropped ({percent(_none(r.dropoff), 1)} of "
                f"{count(r.previous_customers)})"
            )
            facts.append(f"median {duration(_none(r.median_time_to_convert_s))}")
        body.append(label(" · ".join(facts), left + bar_w + 12, y + 24, size=12, class_="num"))
        y += row
    body.append(
        label(f"n = {count(first)} customers entered step 1", 16, y + 16, size=11, fill=MUTED)
    )
    svg = document(
        width + 220,
        y + 28,
        body,
        title=title,
        desc="Funnel over the main touchpoints with customers per step.",
    )
    return Chart("funnel", title, data, svg)


def sankey_chart(snap: JourneySnapshot, top: int | None = SANKEY_EDGES) -> Chart:
    """Sankey of flows: one column per step, bands as wide as the customers they carry."""
    data = sankey_data(snap, top)
    title = "Flows"
    if data.empty:
        return _empty("sankey", title, data, "No flows in this selection.")
    steps = sorted(set(data["step"]))
    cols = {s: i for i, s in enumerate(steps)}
    ncols = len(steps) + 1
    node_in: dict[tuple[int, str], float] = {}
    node_out: dict[tuple[int, str], float] = {}
    for r in data.itertuples():
        node_out[(cols[r.step], r.source)] = node_out.get((cols[r.step], r.source), 0) + r.customers
        node_in[(cols[r.step] + 1, r.target)] = node_in.get((cols[r.step] + 1, r.target), 0) + (
            r.customers
        )
    nodes = sorted(set(node_in) | set(node_out))
    value = {n: max(node_in.get(n, 0), node_out.get(n, 0)) for n in nodes}
    col_total = {c: sum(v for (cc, _), v in value.items() if cc == c) for c in range(ncols)}
    col_count = {c: sum(1 for (cc, _) in value if cc == c) for c in range(ncols)}
    height, gap, top, node_w = 420.0, 14.0, 50.0, 14.0
    col_gap = 220.0
    scale = min(
        (height - gap * (col_count[c] - 1)) / col_total[c] for c in col_total if col_total[c]
    )
    pos: dict[tuple[int, str], tuple[float, float]] = {}
    body = [label(title, 16, 28, size=16, weight="700")]
    labels = []
    for c in range(ncols):
        y = top
        for node in sorted((n for n in nodes if n[0] == c), key=lambda n: -value[n]):
            h = max(1.5, value[node] * scale)
            x = 40 + c * col_gap
            pos[node] = (x, y)
            colour = _colour_of(node[1], snap)
            body.append(
                tag(
                    "rect",
                    x=fmt(x),
                    y=fmt(y),
                    width=node_w,
                    height=fmt(h),
                    fill=colour,
                    class_="sankey-node",
                    data_key=node[1],
                )
            )
            labels.append(
                label(
                    f"{snap.label(node[1])} ({count(value[node])})",
                    x + node_w + 6,
                    y + min(h / 2, 10) + 4,
                    size=11,
                    fill=INK,
                )
            )
            y += h + gap
    out_off = {n: 0.0 for n in nodes}
    in_off = {n: 0.0 for n in nodes}
    for r in data.sort_values(["step", "customers"], ascending=[True, False]).itertuples():
        a, b = (cols[r.step], r.source), (cols[r.step] + 1, r.target)
        w = r.customers * scale
        (xa, ya), (xb, yb) = pos[a], pos[b]
        ya += out_off[a]
        yb += in_off[b]
        out_off[a] += w
        in_off[b] += w
        x0, x1 = xa + node_w, xb
        mid = (x0 + x1) / 2
        d = (
            f"M{fmt(x0)},{fmt(ya)} C{fmt(mid)},{fmt(ya)} {fmt(mid)},{fmt(yb)} {fmt(x1)},{fmt(yb)}"
            f" L{fmt(x1)},{fmt(yb + w)} C{fmt(mid)},{fmt(yb + w)} {fmt(mid)},{fmt(ya + w)} "
            f"{fmt(x0)},{fmt(ya + w)} Z"
        )
        tip = (
            f"{r.source_label} → {r.target_label}: {count(r.customers)} of "
            f"{count(r.source_customers)} customers"
        )
        body.append(
            tag(
                "path",
                tag("title", esc(tip)),
                d=d,
                fill=_colour_of(r.source, snap),
                fill_opacity="0.35",
                class_="sankey-link",
            )
        )
    body.extend(labels)
    left_out = len(snap.flows) - len(data)
    if left_out:
        body.append(
            label(
                f"{left_out} smaller edges not drawn (the {len(data)} largest are)",
                40,
                top + height + 28,
                size=11,
                fill=MUTED,
            )
        )
    svg = document(
        40 + (ncols - 1) * col_gap + 260,
        top + height + 40,
        body,
        title=title,
        desc="Sankey of customer flows by step; band width = customers.",
    )
    return Chart("sankey", title, data, svg)


def _colour_of(key: str, snap: JourneySnapshot) -> str:
    """Stable colour per touchpoint: its position in the journey cycles the palette."""
    ids = [t.id for t in snap.touchpoints]
    if key in ids:
        return SERIES[ids.index(key) % len(SERIES)]
    return "#8a8a8a"


def emotion_chart(snap: JourneySnapshot) -> Chart:
    """The emotion curve by touchpoint, drawn by the same code as the map's lane."""
    data = emotion_curve_data(snap)
    title = "Emotion curve"
    if data.empty:
        return _empty("emotion", title, data, "No touchpoints.")
    step, left = 130.0, 120.0
    points = []
    for i, r in enumerate(data.itertuples()):
        metric = Metric(
            value=_none(r.mean), n=int(r.n), ci_low=_none(r.ci_low), ci_high=_none(r.ci_high)
        )
        points.append(
            (
                left + step * (i + 0.5),
                EmotionPoint(key=r.key, label=r.label, stage=r.stage, emotion=metric),
            )
        )
    x1 = left + step * len(points)
    markup, h = emotion_lane.curve(points, x0=left, x1=x1, axis_x=left - 6)
    body = [
        label(title, 16, 28, size=16, weight="700"),
        f'<g transform="translate(0 44)">{markup}</g>',
    ]
    for x, p in points:
        body.append(
            text_block(p.label, x, 44 + h + 14, step - 8, size=11, max_lines=2, anchor="middle")[0]
        )
    svg = document(
        x1 + 20,
        44 + h + 50,
        body,
        title=title,
        desc="Mean emotion (-2..+2) per touchpoint with 95% interval and n.",
    )
    return Chart("emotion", title, data, svg)


STATUS_MARK = {"idea": "○", "planned": "◇", "in_progress": "◆", "done": "●", "dropped": "×"}


def opportunity_matrix_chart(snap: JourneySnapshot) -> Chart:
    """Impact (up) against effort (right), quadrants named, each point labelled."""
    data = opportunity_matrix_data(snap)
    title = "Opportunities: impact and effort"
    if data.empty:
        return _empty("opportunities", title, data, "No opportunities written yet.")
    left, top, size = 70.0, 50.0, 440.0

    def x_of(e: float) -> float:
        return left + (e - 0.5) / 5 * size

    def y_of(i: float) -> float:
        return top + (5.5 - i) / 5 * size

    body = [label(title, 16, 28, size=16, weight="700")]
    mid_x, mid_y = x_of(2.5), y_of(2.5)
    for name, qx, qy in (
        ("Quick wins", left + 8, top + 18),
        ("Big bets", mid_x + 8, top + 18),
        ("Fill-ins", left + 8, mid_y + 18),
        ("Money pits", mid_x + 8, mid_y + 18),
    ):
        body.append(label(name, qx, qy, size=12, weight="700", fill=MUTED))
    body.append(
        tag(
            "rect",
            x=fmt(left),
            y=fmt(top),
            width=fmt(size),
            height=fmt(size),
            fill="none",
            stroke=RULE,
        )
    )
    body.append(
        tag("line", x1=fmt(mid_x), x2=fmt(mid_x), y1=fmt(top), y2=fmt(top + size), stroke=RULE)
    )
    body.append(
        tag("line", x1=fmt(left), x2=fmt(left + size), y1=fmt(mid_y), y2=fmt(mid_y), stroke=RULE)
    )
    for v in range(1, 6):
        body.append(label(str(v), x_of(v), top + size + 16, size=11, fill=MUTED, anchor="middle"))
        body.append(label(str(v), left - 8, y_of(v) + 4, size=11, fill=MUTED, anchor="end"))
    body.append(label("effort →", left + size, top + size + 32, size=12, anchor="end"))
    body.append(label("impact ↑", left - 8, top - 8, size=12, anchor="end"))
    seen: dict[tuple[int, int], int] = {}
    for r in data.itertuples():
        k = (int(r.impact), int(r.effort))
        i = seen.get(k, 0)
        seen[k] = i + 1
        angle = i * 2.1
        dx, dy = (10 * math.cos(angle), 10 * math.sin(angle)) if i else (0.0, 0.0)
        x, y = x_of(r.effort) + dx, y_of(r.impact) + dy
        mark = STATUS_MARK.get(r.status, "○")
        body.append(
            tag(
                "g",
                label(
                    mark, x, y + 5, size=15, fill=OKABE_ITO["blue"], anchor="middle", weight="700"
                )
                + text_block(r.title, x + 10, y + 4, 150, size=11, max_lines=2)[0],
                class_="opportunity-point",
                data_quadrant=r.quadrant,
            )
        )
    legend = "  ".join(f"{m} {s.replace('_', ' ')}" for s, m in STATUS_MARK.items())
    body.append(label(legend, left, top + size + 52, size=11, fill=MUTED))
    svg = document(
        left + size + 180,
        top + size + 66,
        body,
        title=title,
        desc="Opportunities placed by authored impact and effort (1..5).",
    )
    return Chart("opportunities", title, data, svg)


def transition_graph_chart(snap: JourneySnapshot, top: int = TOP_EDGES) -> Chart:
    """Top directly-follows edges as arcs between touchpoints laid out in journey order:
    forward moves above the line, backward moves below, repeats as loops."""
    data = transition_graph_data(snap, top)
    title = f"Transitions (top {top} edges)"
    if data.empty:
        return _empty("transitions", title, data, "No transitions in this selection.")
    order = [t.id for t in snap.touchpoints]
    extra = [k for k in dict.fromkeys([*data["source"], *data["target"]]) if k not in order]
    used = set(data["source"]) | set(data["target"])
    nodes = [k for k in [*order, *extra] if k in used]
    step, left = 150.0, 60.0
    xs = {k: left + i * step for i, k in enumerate(nodes)}

    def arc(a: str, b: str) -> float:
        return min(200.0, 30 + abs(xs[b] - xs[a]) * 0.3)

    up = max(
        [arc(a, b) for a, b in zip(data["source"], data["target"], strict=True) if xs[b] > xs[a]]
        + [44.0]
    )
    down = max(
        [arc(a, b) for a, b in zip(data["source"], data["target"], strict=True) if xs[b] < xs[a]]
        + [0.0]
    )
    base = 50 + up / 2 + 10
    biggest = float(data["count"].max() or 1)
    body = [label(title, 16, 28, size=16, weight="700")]
    for r in data.itertuples():
        w = 1.5 + 10 * float(r.count) / biggest
        xa, xb = xs[r.source], xs[r.target]
        tip = (
            f"{r.source_label} → {r.target_label}: {count(r.count)} "
            f"({percent(_none(r.share_of_source))} of {count(r.source_transitions)}), "
            f"median {duration(_none(r.median_s))}"
        )
        if r.source == r.target:
            d = f"M{fmt(xa - 8)},{fmt(base - 12)} a14,14 0 1 1 16,0"
            lx, ly, arrow = xa, base - 44, ""
        else:
            bend = -1 if xb > xa else 1
            h = bend * arc(r.source, r.target)
            mid = (xa + xb) / 2
            cy = base + h
            d = f"M{fmt(xa)},{fmt(base)} Q{fmt(mid)},{fmt(cy)} {fmt(xb)},{fmt(base)}"
            lx, ly = mid, base + h / 2 + (4 if bend > 0 else -4)
            arrow = _arrow(mid, cy, xb, base, OKABE_ITO["blue"], w)
        body.append(
            tag(
                "path",
                tag("title", esc(tip)),
                d=d,
                fill="none",
                stroke=OKABE_ITO["blue"],
                stroke_opacity="0.55",
                stroke_width=fmt(w),
                class_="transition-edge",
            )
        )
        body.append(arrow)
        body.append(
            label(count(r.count), lx, ly, size=11, anchor="middle", weight="700", class_="num")
        )
    for k in nodes:
        body.append(
            tag(
                "circle",
                cx=fmt(xs[k]),
                cy=fmt(base),
                r=7,
                fill="#ffffff",
                stroke=INK,
                stroke_width=2,
            )
        )
        body.append(
            text_block(
                snap.label(k), xs[k], base + 26, step - 10, size=11, max_lines=2, anchor="middle"
            )[0]
        )
    svg = document(
        left + step * max(1, len(nodes) - 1) + 90,
        base + down / 2 + 64,
        body,
        title=title,
        desc="Most frequent moves between touchpoints; width = count.",
    )
    return Chart("transitions", title, data, svg)


def _arrow(cx: float, cy: float, x: float, y: float, colour: str, w: float) -> str:
    """A filled arrowhead at (x, y) pointing along the curve's end tangent."""
    dx, dy = x - cx, y - cy
    length = math.hypot(dx, dy) or 1.0
    ux, uy = dx / length, dy / length
    size = 8 + w
    bx, by = x - ux * size, y - uy * size
    px, py = -uy * size / 2, ux * size / 2
    pts = f"{fmt(x)},{fmt(y)} {fmt(bx + px)},{fmt(by + py)} {fmt(bx - px)},{fmt(by - py)}"
    return tag("polygon", points=pts, fill=colour)


def all_charts(snap: JourneySnapshot) -> list[Chart]:
    """Every chart of the report, in reading order."""
    return [
        funnel_chart(snap),
        sankey_chart(snap),
        emotion_chart(snap),
        opportunity_matrix_chart(snap),
        transition_graph_chart(snap),
    ]
