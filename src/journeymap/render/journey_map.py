"""The journey map drawing: stages as columns, lanes as rows, one SVG for every format.

Lanes, top to bottom: stage headers, goals (stage goal; persona goals in the lane
label), touchpoint cards (channel icon, reach, conversion, exit, time, scores, health),
the emotion curve (-2..+2 with its 95% band), pain points, opportunities, owners and
KPIs against targets. Each lane is laid out in its own local coordinates and returns its
height, so the map grows with its content instead of cutting it. HTML, SVG, PNG and PDF
all embed the output of :func:`map_svg`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from journeymap.render import emotion_lane
from journeymap.render.icons import channel_icon
from journeymap.render.palette import (
    BAND,
    HEALTH,
    INK,
    KPI_SYMBOL,
    MUTED,
    OKABE_ITO,
    RULE,
    SEVERITY,
    count,
    duration,
    percent,
    signed,
)
from journeymap.render.svg import document, esc, fmt, label, tag, text_block, wrap
from journeymap.snapshot.model import (
    JourneySnapshot,
    KpiResult,
    Metric,
    OpportunityView,
    PainPointView,
    TouchpointView,
)

LEFT = 176  # lane label column
CARD_W = 208
GAP = 14
COL_W = CARD_W + GAP
PAD = 16
LANE_GAP = 18
LEGEND_H = 62
PERSONA_GOAL_LINES = 5
KPI_WORDS = {
    "reach": "Reach",
    "conversion": "Conversion",
    "dropoff": "Drop-off",
    "exit_rate": "Exit rate",
    "median_time_s": "Median time",
    "csat": "CSAT",
    "nps": "NPS",
    "ces": "CES",
    "emotion": "Emotion",
}


@dataclass
class Geometry:
    """Where each stage and touchpoint column sits."""

    stage_x: dict[str, float]
    stage_w: dict[str, float]
    col_x: dict[str, float]
    width: float

    @classmethod
    def of(cls, snap: JourneySnapshot) -> Geometry:
        x = LEFT + PAD
        stage_x, stage_w, col_x = {}, {}, {}
        for st in snap.stages:
            tps = [t for t in snap.touchpoints if t.stage == st.id]
            stage_x[st.id] = x
            stage_w[st.id] = max(1, len(tps)) * COL_W
            for i, tp in enumerate(tps):
                col_x[tp.id] = x + GAP / 2 + i * COL_W
            x += stage_w[st.id]
        return cls(stage_x, stage_w, col_x, x + PAD)


Lane = Callable[[JourneySnapshot, Geometry], tuple[list[str], float]]


def map_svg(snap: JourneySnapshot) -> str:
    """The whole journey map as one standalone SVG document (text, escaped)."""
    geo = Geometry.of(snap)
    body: list[str] = []
    y = PAD
    title, h = _title(snap, geo)
    body.append(_at(0, y, title))
    y += h + 8
    top_of_columns = y
    lanes: list[tuple[str, str, Lane]] = [
        ("stages", "", _stage_headers),
        ("goals", "Goals", _goals),
        ("touchpoints", "Touchpoints", _cards),
        ("emotion", "Emotion", _emotion),
        ("pain-points", "Pain points", _pains),
        ("opportunities", "Opportunities", _opportunities),
        ("owners", "Owners", _owners),
        ("kpis", "KPIs vs target", _kpis),
    ]
    drawn: list[tuple[str, float, float, list[str], str]] = []
    for key, name, lane in lanes:
        markup, h = lane(snap, geo)
        drawn.append((key, y, h, markup, name))
        y += h + LANE_GAP
    height = y + LEGEND_H
    body.append(_columns_background(snap, geo, top_of_columns, y - LANE_GAP - top_of_columns))
    for key, ly, h, markup, name in drawn:
        if name:
            body.append(
                tag(
                    "line",
                    x1=PAD,
                    x2=fmt(geo.width - PAD),
                    y1=fmt(ly - LANE_GAP / 2),
                    y2=fmt(ly - LANE_GAP / 2),
                    stroke=RULE,
                )
            )
            lane_label = _lane_label(name, snap if key == "goals" else None, h)
            body.append(_at(PAD, ly, lane_label))
        body.append(tag("g", _at(0, ly, "".join(markup)), class_=f"lane lane-{key}"))
    body.append(_at(PAD, height - LEGEND_H + 4, _legend()))
    persona = snap.meta.persona.name if snap.meta.persona else "All customers"
    return document(
        geo.width,
        height,
        body,
        title=f"{snap.meta.journey}: journey map ({persona})",
        desc=f"Journey map of {len(snap.stages)} stages and {len(snap.touchpoints)} touchpoints "
        "computed from data; every number shows its n.",
    )


PRINT_TOUCHPOINTS = 7  # per A3 landscape page: keeps 12 px text at about 8 pt in print


def map_pages(snap: JourneySnapshot, per_page: int = PRINT_TOUCHPOINTS) -> list[str]:
    """The map cut between stages into pages of at most ``per_page`` touchpoint columns.

    For print: a 26-touchpoint map scaled onto one A3 sheet has 4 pt text; cut between
    stages, every page stays legible. A stage wider than ``per_page`` gets a page alone.
    """
    groups: list[list[str]] = [[]]
    width = 0
    for st in snap.stages:
        cols = max(1, len(st.touchpoints))
        if groups[-1] and width + cols > per_page:
            groups.append([])
            width = 0
        groups[-1].append(st.id)
        width += cols
    if len(groups) == 1:
        return [map_svg(snap)]
    return [map_svg(only_stages(snap, g)) for g in groups]


def only_stages(snap: JourneySnapshot, stage_ids: list[str]) -> JourneySnapshot:
    """The part of the snapshot drawn in these stage columns (pages of a printed map)."""
    keep = set(stage_ids)
    tps = {t.id for t in snap.touchpoints if t.stage in keep}

    def here(item: PainPointView | OpportunityView) -> bool:
        return item.touchpoint in tps or (item.touchpoint is None and item.stage in keep)

    return snap.model_copy(
        update={
            "stages": [s for s in snap.stages if s.id in keep],
            "touchpoints": [t for t in snap.touchpoints if t.id in tps],
            "emotion_curve": [p for p in snap.emotion_curve if p.key in tps],
            "pain_points": [p for p in snap.pain_points if here(p)],
            "detected_pain_points": [p for p in snap.detected_pain_points if here(p)],
            "opportunities": [o for o in snap.opportunities if here(o)],
        }
    )


def _at(x: float, y: float, markup: str) -> str:
    return f'<g transform="translate({fmt(x)} {fmt(y)})">{markup}</g>'


def _title(snap: JourneySnapshot, geo: Geometry) -> tuple[str, float]:
    meta = snap.meta
    who = meta.persona.name if meta.persona else "All customers"
    parts = [label(meta.journey, PAD, 24, size=22, weight="700", class_="map-title")]
    parts.append(label(f"Persona: {who}", PAD, 46, size=14, fill=INK, class_="map-persona"))
    facts = []
    if "customers" in meta.totals:
        facts.append(f"{count(meta.totals['customers'])} customers")
    if "converted" in meta.totals:
        facts.append(f"{count(meta.totals['converted'])} reached the goal")
    filters = [f"{k}={v}" for k, v in meta.filters.items() if k != "persona"]
    facts.append("filters: " + (", ".join(filters) if filters else "none"))
    if meta.data_version is not None:
        facts.append(f"data version {meta.data_version}")
    facts.append(f"generated {meta.generated_at}")
    line, h = text_block(
        " · ".join(facts), PAD, 66, geo.width - 2 * PAD, size=12, fill=MUTED, max_lines=2
    )
    parts.append(line)
    return "".join(parts), 66 + h - 6


def _columns_background(snap: JourneySnapshot, geo: Geometry, y: float, h: float) -> str:
    out = []
    for i, st in enumerate(snap.stages):
        fill = BAND if i % 2 == 0 else "#ffffff"
        out.append(
            tag(
                "rect",
                x=fmt(geo.stage_x[st.id]),
                y=fmt(y),
                width=fmt(geo.stage_w[st.id]),
                height=fmt(h),
                fill=fill,
            )
        )
    return "".join(out)


def _lane_label(name: str, snap: JourneySnapshot | None, h: float) -> str:
    out = [label(name, 0, 16, size=13, weight="700", fill=INK, class_="lane-label")]
    if snap is not None and snap.meta.persona and snap.meta.persona.goals:
        goals = "; ".join(snap.meta.persona.goals)
        block, _ = text_block(
            f"{snap.meta.persona.name}: {goals}",
            0,
            34,
            LEFT - 12,
            size=11,
            fill=MUTED,
            max_lines=PERSONA_GOAL_LINES,
            class_="persona-goals",
        )
        out.append(block)
    return "".join(out)


# ------------------------------------------------------------------------ lanes


def _stage_headers(snap: JourneySnapshot, geo: Geometry) -> tuple[list[str], float]:
    out = []
    h = 58
    for i, st in enumerate(snap.stages):
        x, w = geo.stage_x[st.id], geo.stage_w[st.id]
        colour = OKABE_ITO["blue"] if i % 2 == 0 else "#004f7c"
        cust = st.metrics.get("customers", Metric())
        reach = st.metrics.get("reach", Metric())
        sub = f"{count(cust.value)} customers · {percent(reach.value)} of {count(reach.n)}"
        inner = (
            tag("rect", x=fmt(x + 3), y=0, width=fmt(w - 6), height=h, rx=6, fill=colour)
            + text_block(
                st.name,
                x + 14,
                24,
                w - 28,
                size=17,
                weight="700",
                fill="#ffffff",
                max_lines=1,
                class_="stage-name",
            )[0]
            + label(sub, x + 14, 46, size=12, fill="#ffffff", class_="num")
        )
        out.append(tag("g", inner, class_="stage-header", data_stage=st.id))
    return out, h


def _goals(snap: JourneySnapshot, geo: Geometry) -> tuple[list[str], float]:
    out, h = [], 24.0
    persona = snap.meta.persona
    if persona and persona.goals:
        text = f"{persona.name}: " + "; ".join(persona.goals)
        h = 24 + len(wrap(text, LEFT - 12, 11, PERSONA_GOAL_LINES)[0]) * 11 * 1.25
    for st in snap.stages:
        text = st.goal or "No goal written for this stage"
        block, bh = text_block(
            text,
            geo.stage_x[st.id] + 12,
            16,
            geo.stage_w[st.id] - 24,
            size=13,
            max_lines=3,
            fill=INK if st.goal else MUTED,
        )
        out.append(tag("g", block, class_="stage-goal", data_stage=st.id))
        h = max(h, bh + 6)
    return out, h


def _card_lines(tp: TouchpointView) -> list[tuple[str, str, str]]:
    """(label, value, n text) rows of a card, in a fixed order."""
    m = tp.metrics
    rows = []
    reach = m.get("reach", Metric())
    cust = m.get("customers", Metric())
    rows.append(("Customers", count(cust.value), f"of {count(cust.n)}"))
    rows.append(("Reach", percent(reach.value), f"n {count(reach.n)}"))
    for key, word, fmt_ in (
        ("conversion", "Conversion", percent),
        ("exit_rate", "Exit", percent),
        ("median_time_to_next_s", "Next stage", duration),
    ):
        if key in m:
            rows.append((word, fmt_(m[key].value), f"n {count(m[key].n)}"))
    for kind in ("nps", "csat", "ces"):
        if kind in tp.scores:
            s = tp.scores[kind]
            val = (
                signed(s.value, 0)
                if kind == "nps"
                else f"{s.value:.2f}"
                if s.value is not None
                else "–"
            )
            rows.append((kind.upper(), val, f"n {count(s.n)}"))
    return rows


def _cards(snap: JourneySnapshot, geo: Geometry) -> tuple[list[str], float]:
    rows = max((len(_card_lines(tp)) for tp in snap.touchpoints), default=1)
    rows_h = 17 * rows
    has_expectation = any(tp.expectation for tp in snap.touchpoints)
    h = 68 + rows_h + (44 if has_expectation else 0)
    out = []
    for tp in snap.touchpoints:
        x = geo.col_x[tp.id]
        stroke, fill, symbol, word = HEALTH[tp.health]
        parts = [
            tag(
                "rect",
                x=fmt(x),
                y=0,
                width=CARD_W,
                height=fmt(h),
                rx=8,
                fill="#ffffff",
                stroke=stroke,
                stroke_width=2,
            ),
            tag("rect", x=fmt(x), y=0, width=CARD_W, height=30, rx=8, fill=fill),
            channel_icon(tp.channel, x + 8, 5, 20, INK),
            text_block(
                tp.name,
                x + 34,
                20,
                CARD_W - 42,
                size=13,
                weight="700",
                max_lines=1,
                class_="touchpoint-name",
            )[0],
            label(f"{tp.channel or 'no channel'}", x + 10, 46, size=11, fill=MUTED),
            tag(
                "g",
                label(
                    f"{symbol} {word}",
                    x + CARD_W - 10,
                    46,
                    size=11,
                    weight="700",
                    fill=stroke,
                    anchor="end",
                ),
                class_="health",
                data_health=tp.health,
            ),
        ]
        y = 68
        for name, value, n in _card_lines(tp):
            parts.append(label(name, x + 10, y, size=12, fill=MUTED))
            parts.append(
                label(value, x + 136, y, size=12, weight="700", anchor="end", class_="num")
            )
            parts.append(
                label(n, x + CARD_W - 10, y, size=11, fill=MUTED, anchor="end", class_="num")
            )
            y += 17
        if tp.expectation:
            block, _ = text_block(
                f"Expects: {tp.expectation}",
                x + 10,
                68 + rows_h + 4,
                CARD_W - 20,
                size=11,
                fill=INK,
                max_lines=3,
            )
            parts.append(tag("g", block, font_style="italic"))
        out.append(
            tag(
                "g",
                "".join(parts),
                class_="touchpoint-card",
                data_touchpoint=tp.id,
                data_health=tp.health,
            )
        )
    return out, h


def _emotion(snap: JourneySnapshot, geo: Geometry) -> tuple[list[str], float]:
    points = [(geo.col_x[p.key] + CARD_W / 2, p) for p in snap.emotion_curve if p.key in geo.col_x]
    markup, h = emotion_lane.curve(points, x0=LEFT + PAD, x1=geo.width - PAD, axis_x=LEFT - 4)
    return [markup], h


def _placed(snap: JourneySnapshot, geo: Geometry, items: list, draw) -> tuple[list[str], float]:
    """Stack items under their touchpoint column (stage-level ones across the stage)."""
    cursor = {tp: 0.0 for tp in geo.col_x}
    stage_cols = {st.id: [t for t in st.touchpoints if t in geo.col_x] for st in snap.stages}
    out: list[str] = []
    first_stage = snap.stages[0].id if snap.stages else None
    ordered = sorted(items, key=lambda it: it.touchpoint is not None)
    for it in ordered:
        if it.touchpoint in geo.col_x:
            cols, x, w, prefix = [it.touchpoint], geo.col_x[it.touchpoint], CARD_W, ""
        else:
            sid = it.stage if it.stage in geo.stage_x else first_stage
            if sid is None:
                continue
            prefix = (
                ""
                if it.stage in geo.stage_x and it.touchpoint is None
                else (f"(unplaced: {it.touchpoint or it.stage}) ")
            )
            cols = stage_cols[sid] or []
            x, w = geo.stage_x[sid] + GAP / 2, geo.stage_w[sid] - GAP
        y = max([cursor[c] for c in cols], default=0.0)
        markup, h = draw(it, x, y, w, prefix)
        out.append(markup)
        for c in cols:
            cursor[c] = y + h + 6
    height = max(cursor.values(), default=0.0)
    if not items:
        out.append(label("None written yet", LEFT + PAD, 16, size=12, fill=MUTED))
    return out, max(height, 24.0)


def _card(x: float, y: float, w: float, h: float, colour: str, dashed: bool = False) -> str:
    """The white, colour-edged box of a pain point or opportunity card (dashed: detected)."""
    return tag(
        "rect",
        x=fmt(x),
        y=fmt(y),
        width=fmt(w),
        height=fmt(h),
        rx=5,
        fill="#ffffff",
        stroke=colour,
        stroke_width=1.5,
        stroke_dasharray="4 3" if dashed else None,
    )


def _pain(it: PainPointView, x: float, y: float, w: float, prefix: str) -> tuple[str, float]:
    symbol, colour = SEVERITY.get(it.severity, ("◇", MUTED))
    title, th = text_block(
        prefix + it.title, x + 24, y + 17, w - 30, size=12, weight="700", max_lines=3
    )
    sub = f"{it.severity} · {it.origin}"
    h = th + 26
    box = _card(x, y, w, h, colour, dashed=it.origin == "detected")
    mark = label(symbol, x + 8, y + 17, size=12, fill=colour, weight="700")
    return tag(
        "g",
        box + mark + title + label(sub, x + 24, y + th + 17, size=11, fill=MUTED),
        class_="pain-point",
        data_severity=it.severity,
        data_origin=it.origin,
    ), h


def _pains(snap: JourneySnapshot, geo: Geometry) -> tuple[list[str], float]:
    return _placed(snap, geo, [*snap.pain_points, *snap.detected_pain_points], _pain)


def _opp(it: OpportunityView, x: float, y: float, w: float, prefix: str) -> tuple[str, float]:
    colour = OKABE_ITO["blue"]
    title, th = text_block(
        prefix + it.title, x + 24, y + 17, w - 30, size=12, weight="700", max_lines=3
    )
    sub = f"impact {it.impact} · effort {it.effort} · {it.status.replace('_', ' ')}"
    if it.owner:
        sub += f" · {it.owner}"
    subm, sh = text_block(sub, x + 24, y + th + 17, w - 30, size=11, fill=MUTED, max_lines=2)
    h = th + sh + 12
    box = _card(x, y, w, h, colour)
    mark = label("◆", x + 8, y + 17, size=12, fill=colour)
    return tag("g", box + mark + title + subm, class_="opportunity", data_status=it.status), h


def _opportunities(snap: JourneySnapshot, geo: Geometry) -> tuple[list[str], float]:
    return _placed(snap, geo, list(snap.opportunities), _opp)


def _owners(snap: JourneySnapshot, geo: Geometry) -> tuple[list[str], float]:
    out, h = [], 38.0
    for st in snap.stages:
        out.append(
            text_block(
                f"Stage: {st.owner or 'no owner'}",
                geo.stage_x[st.id] + 12,
                15,
                geo.stage_w[st.id] - 24,
                size=12,
                weight="700",
                max_lines=1,
            )[0]
        )
    for tp in snap.touchpoints:
        out.append(
            text_block(
                tp.owner or "no owner",
                geo.col_x[tp.id],
                34,
                CARD_W,
                size=12,
                fill=INK if tp.owner else MUTED,
                max_lines=1,
            )[0]
        )
    return out, h


def _plain(value: float | None) -> str:
    """Scores and emotion: two decimals at most (4.2, 2.65, 20)."""
    return "–" if value is None else f"{round(value, 2):g}"


def _kpi_text(k: KpiResult) -> tuple[str, str, str]:
    symbol, colour = KPI_SYMBOL[k.status]
    rate = k.metric in ("reach", "conversion", "dropoff", "exit_rate") and k.target <= 1
    show = percent if rate else (duration if k.metric == "median_time_s" else _plain)
    op = "≥" if k.direction == "above" else "≤"
    actual = show(k.actual.value) if k.actual.value is not None else "no data"
    return (
        symbol,
        colour,
        (
            f"{KPI_WORDS.get(k.metric, k.metric)} {op} {show(k.target)}: "
            f"{actual} (n {count(k.actual.n)})"
        ),
    )


def _kpis(snap: JourneySnapshot, geo: Geometry) -> tuple[list[str], float]:
    out, h = [], 24.0
    for tp in snap.touchpoints:
        x, y = geo.col_x[tp.id], 16.0
        if not tp.kpis:
            out.append(label("no KPI set", x, y, size=12, fill=MUTED))
        for k in tp.kpis:
            symbol, colour, text = _kpi_text(k)
            block, bh = text_block(text, x + 18, y, CARD_W - 18, size=12, max_lines=2)
            out.append(
                tag(
                    "g",
                    label(symbol, x, y, size=13, weight="700", fill=colour) + block,
                    class_="kpi",
                    data_status=k.status,
                )
            )
            y += bh + 4
        h = max(h, y)
    return out, h


def _legend() -> str:
    """Three short lines, so the legend fits even a one-stage page of a printed map."""
    parts, x = [], 0.0
    for key in ("good", "mixed", "poor", "unknown"):
        stroke, _, symbol, word = HEALTH[key]
        parts.append(label(f"{symbol} {word}", x, 12, size=11, fill=stroke, weight="700"))
        x += 96
    emotion = "Emotion: ▲ positive  ● neutral  ▼ negative; band = 95% interval"
    parts.append(label(emotion, 0, 28, size=11, fill=MUTED))
    sev = "  ".join(f"{s} {k}" for k, (s, _) in SEVERITY.items())
    parts.append(
        label(f"Pain severity: {sev}; dashed = detected from data", 0, 44, size=11, fill=MUTED)
    )
    return "".join(parts)


__all__ = ["map_svg", "Geometry", "esc"]
