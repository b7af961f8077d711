"""Write a report in one of four formats from snapshots: html, svg, png, pdf.

All four come from :func:`journeymap.render.journey_map.map_svg`: the HTML embeds it (with
the charts and a persona switcher), the SVG is it, the PNG is Chromium's picture of it,
and the PDF is Chromium's print of the HTML view of one persona, the map cut between
stages into legible A3 landscape pages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from journeymap.render.browser import html_to_pdf, html_to_png
from journeymap.render.html import render_html
from journeymap.render.journey_map import map_svg
from journeymap.snapshot.model import JourneySnapshot

Format = Literal["html", "svg", "png", "pdf"]
FORMATS: tuple[str, ...] = ("html", "svg", "png", "pdf")
PNG_SCALE = 2.0  # device pixels per CSS pixel: print quality for maps of normal size
PNG_MAX_PX = 6000  # ...capped: PNG encoding time grows with pixels (8000 px wide took 4 s)


def render_svg(snapshot: JourneySnapshot) -> str:
    """The journey map drawing as a standalone SVG document."""
    return map_svg(snapshot)


def write_report(
    snapshots: Sequence[JourneySnapshot] | JourneySnapshot,
    out: str | Path,
    fmt: str | None = None,
    *,
    browser: Any | None = None,
) -> Path:
    """Write ``snapshots`` to ``out`` as ``fmt`` (default: the file's extension).

    HTML holds every snapshot (persona switcher); SVG, PNG and PDF draw the first one,
    so pass the persona's snapshot first (or only) for those.
    """
    out = Path(out)
    fmt = (fmt or out.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ValueError(
            f"{out}: unknown report format {fmt!r}; expected one of {', '.join(FORMATS)}"
        )
    snaps = [snapshots] if isinstance(snapshots, JourneySnapshot) else list(snapshots)
    if not snaps:
        raise ValueError("write_report needs at least one snapshot")
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "html":
        out.write_text(render_html(snaps), encoding="utf-8")
    elif fmt == "svg":
        out.write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n' + map_svg(snaps[0]), encoding="utf-8"
        )
    elif fmt == "png":
        svg = map_svg(snaps[0])
        page = (
            "<!doctype html><html><head><meta charset='utf-8'><style>html,body{margin:0;"
            "background:#fff}svg{display:block}</style></head><body>" + svg + "</body></html>"
        )
        width = int(float(_svg_width(svg))) + 1
        scale = min(PNG_SCALE, PNG_MAX_PX / width)
        html_to_png(page, out, width=width, scale=scale, browser=browser)
    else:
        html_to_pdf(render_html(snaps[:1], paged=True), out, browser=browser)
    return out


def _svg_width(svg: str) -> str:
    match = re.search(r'<svg[^>]* width="([0-9.]+)"', svg)
    return match.group(1) if match else "1200"
