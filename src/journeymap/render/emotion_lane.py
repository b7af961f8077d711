"""The emotion curve (-2..+2) with its 95% band: drawn once, used by the map and the chart.

Line and band segments take the colour of their value (vermillion below zero, bluish
green above, grey around zero), and every point also has a marker shape (▲ positive,
● neutral, ▼ negative) and its number with n, so colour is never the only cue. A point
without data breaks the line and is shown as a hollow ring marked "no data".
"""

from __future__ import annotations

from journeymap.render.palette import MUTED, RULE, emotion_colour, signed
from journeymap.render.svg import fmt, label, tag
from journeymap.snapshot.model import EmotionPoint

PLOT_H = 150.0
TOP = 14.0
NEUTRAL = 0.25


def y_of(value: float) -> float:
    """Vertical position of an emotion value inside the lane."""
    v = max(-2.0, min(2.0, value))
    return TOP + (2.0 - v) / 4.0 * PLOT_H


def _has_data(p: EmotionPoint) -> bool:
    return p.emotion.value is not None and p.emotion.n > 0


def curve(
    points: list[tuple[float, EmotionPoint]], *, x0: float, x1: float, axis_x: float
) -> tuple[str, float]:
    """Markup of the lane in local coordinates and its height."""
    out: list[str] = []
    for v in (2, 1, 0, -1, -2):
        y = y_of(v)
        out.append(
            tag(
                "line",
                x1=fmt(x0),
                x2=fmt(x1),
                y1=fmt(y),
                y2=fmt(y),
                stroke="#9a9a9a" if v == 0 else RULE,
                stroke_dasharray=None if v == 0 else "2 4",
            )
        )
        out.append(
            label(
                signed(float(v), 0) if v else "0", axis_x, y + 4, size=11, fill=MUTED, anchor="end"
            )
        )
    out.append(label("delighted", axis_x - 26, y_of(2) + 4, size=10, fill=MUTED, anchor="end"))
    out.append(label("frustrated", axis_x - 26, y_of(-2) + 4, size=10, fill=MUTED, anchor="end"))
    band, line = [], []
    known = [(x, p) for x, p in points if _has_data(p)]
    neighbours = {id(p): i for i, (_, p) in enumerate(points)}
    for (xa, a), (xb, b) in zip(known, known[1:], strict=False):
        if neighbours[id(b)] - neighbours[id(a)] > 1:  # a point without data lies between
            va, vb = a.emotion.value or 0.0, b.emotion.value or 0.0
            line.append(
                tag(
                    "line",
                    x1=fmt(xa),
                    y1=fmt(y_of(va)),
                    x2=fmt(xb),
                    y2=fmt(y_of(vb)),
                    stroke="#8a8a8a",
                    stroke_width=1.5,
                    stroke_dasharray="3 5",
                )
            )
            continue
        va, vb = a.emotion.value or 0.0, b.emotion.value or 0.0
        colour = emotion_colour((va + vb) / 2)
        if None not in (a.emotion.ci_low, a.emotion.ci_high, b.emotion.ci_low, b.emotion.ci_high):
            pts = [
                (xa, y_of(a.emotion.ci_high)),
                (xb, y_of(b.emotion.ci_high)),
                (xb, y_of(b.emotion.ci_low)),
                (xa, y_of(a.emotion.ci_low)),
            ]
            band.append(
                tag(
                    "polygon",
                    points=" ".join(f"{fmt(x)},{fmt(y)}" for x, y in pts),
                    fill=colour,
                    fill_opacity="0.18",
                    stroke="none",
                )
            )
        line.append(
            tag(
                "line",
                x1=fmt(xa),
                y1=fmt(y_of(va)),
                x2=fmt(xb),
                y2=fmt(y_of(vb)),
                stroke=colour,
                stroke_width=3,
                stroke_linecap="round",
            )
        )
    out.append(tag("g", "".join(band), class_="emotion-band"))
    out.append(tag("g", "".join(line), class_="emotion-curve"))
    for x, p in points:
        out.append(_marker(x, p))
    return "".join(out), TOP + PLOT_H + 16


def _marker(x: float, p: EmotionPoint) -> str:
    e = p.emotion
    if not _has_data(p):
        y = y_of(0)
        body = tag(
            "circle", cx=fmt(x), cy=fmt(y), r=5, fill="#ffffff", stroke="#8a8a8a", stroke_width=1.5
        ) + label("no data", x, y + 18, size=10, fill=MUTED, anchor="middle")
        return tag("g", body, class_="emotion-point", data_key=p.key, data_n="0")
    v = e.value or 0.0
    y, colour = y_of(v), emotion_colour(v)
    if e.ci_low is not None and e.ci_high is not None:
        whisker = tag(
            "line",
            x1=fmt(x),
            x2=fmt(x),
            y1=fmt(y_of(e.ci_low)),
            y2=fmt(y_of(e.ci_high)),
            stroke=colour,
            stroke_width=1.5,
        )
    else:
        whisker = ""
    if v > NEUTRAL:
        shape = tag(
            "polygon",
            points=f"{fmt(x)},{fmt(y - 7)} {fmt(x - 7)},{fmt(y + 5)} {fmt(x + 7)},{fmt(y + 5)}",
            fill=colour,
            stroke="#ffffff",
            stroke_width=1.5,
        )
    elif v < -NEUTRAL:
        shape = tag(
            "polygon",
            points=f"{fmt(x)},{fmt(y + 7)} {fmt(x - 7)},{fmt(y - 5)} {fmt(x + 7)},{fmt(y - 5)}",
            fill=colour,
            stroke="#ffffff",
            stroke_width=1.5,
        )
    else:
        shape = tag(
            "circle", cx=fmt(x), cy=fmt(y), r=6, fill=colour, stroke="#ffffff", stroke_width=1.5
        )
    ty = y - 12 if v < 1.5 else y + 22
    text = label(
        f"{signed(v)} · n {e.n:,}", x + 10, ty, size=11, weight="700", fill="#1a1a1a", class_="num"
    )
    return tag(
        "g",
        whisker + shape + text,
        class_="emotion-point",
        data_key=p.key,
        data_n=str(e.n),
        data_value=f"{v:.3f}",
    )
