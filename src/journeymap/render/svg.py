"""SVG text building: the one escaping and text-layout code path of every drawing.

Every user-typed string reaches the SVG through :func:`text` or :func:`attr`, which
escape ``& < > " '``; nothing else in ``render/`` writes raw strings into markup. Text is
wrapped by an average glyph width (no font metrics are available offline); long text is
cut with an ellipsis and the full text kept in a ``<title>`` tooltip.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from xml.sax.saxutils import escape as _escape

FONT_STACK = (
    "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, "
    "'DejaVu Sans', 'Liberation Sans', sans-serif"
)
CHAR_WIDTH = 0.56  # average glyph width in em for the sans fonts above


def esc(value: object) -> str:
    """Escape text for element content and double- or single-quoted attributes."""
    return _escape(str(value), {'"': "&quot;", "'": "&#x27;"})


def attrs(**values: object) -> str:
    """` name="value"` pairs, escaped; ``None`` values are left out, ``_`` becomes ``-``."""
    return "".join(
        f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"' for k, v in values.items() if v is not None
    )


def tag(name: str, content: str = "", **values: object) -> str:
    """One element; ``content`` must already be markup (escaped)."""
    return (
        f"<{name}{attrs(**values)}>{content}</{name}>" if content else f"<{name}{attrs(**values)}/>"
    )


def wrap(value: str, width_px: float, size: float, max_lines: int) -> tuple[list[str], bool]:
    """Lines of ``value`` that fit ``width_px`` at font ``size``; True when it was cut."""
    per_line = max(4, int(width_px / (size * CHAR_WIDTH)))
    lines = textwrap.wrap(" ".join(str(value).split()), per_line, break_long_words=True) or [""]
    if len(lines) <= max_lines:
        return lines, False
    kept = lines[:max_lines]
    kept[-1] = kept[-1][: max(1, per_line - 1)].rstrip() + "…"
    return kept, True


def text_block(
    value: str,
    x: float,
    y: float,
    width_px: float,
    *,
    size: float = 12,
    max_lines: int = 3,
    weight: str | None = None,
    fill: str = "#1a1a1a",
    anchor: str = "start",
    line_height: float = 1.25,
    class_: str | None = None,
) -> tuple[str, float]:
    """Wrapped text starting with its first baseline at ``y``; returns (markup, height)."""
    lines, cut = wrap(value, width_px, size, max_lines)
    step = size * line_height
    spans = "".join(
        tag("tspan", esc(line), x=_f(x), dy=_f(step) if i else None) for i, line in enumerate(lines)
    )
    title = tag("title", esc(value)) if cut else ""
    markup = _text(title + spans, x, y, size, weight, fill, anchor, class_)
    return markup, step * len(lines)


def label(
    value: object,
    x: float,
    y: float,
    *,
    size: float = 12,
    weight: str | None = None,
    fill: str = "#1a1a1a",
    anchor: str = "start",
    class_: str | None = None,
) -> str:
    """One line of text (escaped)."""
    return _text(esc(value), x, y, size, weight, fill, anchor, class_)


def _text(
    content: str,
    x: float,
    y: float,
    size: float,
    weight: str | None,
    fill: str,
    anchor: str,
    class_: str | None,
) -> str:
    """The ``<text>`` element both :func:`label` and :func:`text_block` write."""
    return tag(
        "text",
        content,
        x=_f(x),
        y=_f(y),
        font_size=_f(size),
        font_weight=weight,
        fill=fill,
        text_anchor=anchor if anchor != "start" else None,
        class_=class_,
    )


def lines_height(value: str, width_px: float, size: float, max_lines: int) -> float:
    """Height :func:`text_block` will take for ``value``."""
    return len(wrap(value, width_px, size, max_lines)[0]) * size * 1.25


def document(width: float, height: float, body: Iterable[str], *, title: str, desc: str) -> str:
    """A standalone SVG document with a title and description for screen readers."""
    head = tag("title", esc(title)) + tag("desc", esc(desc))
    style = (
        f"<style>text{{font-family:{FONT_STACK};}}"
        ".num{font-variant-numeric:tabular-nums;}</style>"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img"'
        f' viewBox="0 0 {_f(width)} {_f(height)}" width="{_f(width)}" height="{_f(height)}">'
        + head
        + style
        + "".join(body)
        + "</svg>"
    )


def _f(value: float) -> str:
    """Coordinates with at most one decimal, so the SVG stays small and stable."""
    out = f"{value:.1f}"
    return out[:-2] if out.endswith(".0") else out


fmt = _f
