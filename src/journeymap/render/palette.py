"""Colours, symbols and number formats shared by the map and the charts.

Okabe-Ito (Okabe & Ito 2008), readable with the common colour-vision deficiencies. No
meaning rests on colour alone: every health state also has a symbol and a word, every
emotion value a marker shape and its number.
"""

from __future__ import annotations

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
SERIES = [
    OKABE_ITO[k]
    for k in (
        "blue",
        "orange",
        "bluish_green",
        "vermillion",
        "sky_blue",
        "reddish_purple",
        "yellow",
        "black",
    )
]
INK = "#1a1a1a"
MUTED = "#5c5c5c"
RULE = "#d0d0d0"
PAPER = "#ffffff"
BAND = "#f4f4f2"

# health: (stroke colour, light fill, symbol, words)
HEALTH = {
    "good": (OKABE_ITO["bluish_green"], "#e0f3ec", "✓", "on target"),
    "mixed": (OKABE_ITO["orange"], "#fbefd6", "~", "mixed"),
    "poor": (OKABE_ITO["vermillion"], "#f8e2d6", "✗", "off target"),
    "unknown": ("#8a8a8a", "#f2f2f2", "?", "no data"),
}
KPI_SYMBOL = {
    "met": ("✓", OKABE_ITO["bluish_green"]),
    "not_met": ("✗", OKABE_ITO["vermillion"]),
    "unknown": ("?", "#8a8a8a"),
}
SEVERITY = {
    "low": ("▽", "#8a8a8a"),
    "medium": ("◇", OKABE_ITO["orange"]),
    "high": ("▲", OKABE_ITO["vermillion"]),
    "critical": ("■", "#8f2d00"),
}


def emotion_colour(value: float) -> str:
    """-2..+2 to vermillion..grey..bluish green (Okabe-Ito ends, linear in RGB)."""
    t = max(-1.0, min(1.0, value / 2.0))
    mid = (0x9A, 0x9A, 0x9A)
    end = (0x00, 0x9E, 0x73) if t >= 0 else (0xD5, 0x5E, 0x00)
    a = abs(t)
    rgb = [round(m + (e - m) * a) for m, e in zip(mid, end, strict=True)]
    return "#" + "".join(f"{c:02X}" for c in rgb)


def percent(value: float | None, digits: int = 0) -> str:
    """0.423 -> '42%' ('–' when unknown)."""
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def count(value: float | None) -> str:
    """12345 -> '12,345' ('–' when unknown)."""
    return "–" if value is None else f"{value:,.0f}"


def duration(seconds: float | None) -> str:
    """Seconds as the largest sensible unit: '45 s', '12 min', '3.5 h', '2.1 d'."""
    if seconds is None:
        return "–"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def signed(value: float | None, digits: int = 1) -> str:
    """+1.2 / −0.4 with a real minus sign ('–' when unknown)."""
    if value is None:
        return "–"
    return f"{value:+.{digits}f}".replace("-", "−")
