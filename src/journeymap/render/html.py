"""The self-contained HTML report: map, charts and the snapshots as JSON, fully offline.

One file, no external resource of any kind: system fonts, inline SVG drawn in Python,
a 10-line inline script for the persona switcher. A Content-Security-Policy allows only
that script (by its hash), inline styles and data: images, so even a string that slipped
through escaping could neither run nor fetch anything. Each persona's view is drawn in
Python and embedded as markup; its snapshot is embedded beside it as JSON
(``<script type="application/json" class="journey-snapshot">``) for reuse, and the
switcher only shows one view and hides the others.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence

from journeymap.render.charts import all_charts
from journeymap.render.journey_map import map_pages, map_svg
from journeymap.render.svg import FONT_STACK, esc
from journeymap.snapshot.model import JourneySnapshot

SWITCHER_JS = (
    "(function(){var s=document.getElementById('persona');"
    "function show(v){document.querySelectorAll('.persona-view').forEach(function(e){"
    "e.hidden=e.getAttribute('data-persona')!==v;});}"
    "if(s){s.addEventListener('change',function(){show(s.value);});show(s.value);}})();"
)
CSS = f"""
*{{box-sizing:border-box}}
body{{margin:0;font-family:{FONT_STACK};color:#1a1a1a;background:#fff;line-height:1.4}}
header{{display:flex;gap:24px;align-items:center;padding:12px 20px;border-bottom:1px solid #ddd}}
header h1{{font-size:20px;margin:0}}
header label{{font-size:14px}}
select{{font:inherit;padding:2px 6px}}
.map{{overflow-x:auto;padding:8px 0}}
.map svg{{display:block}}
.charts{{display:flex;flex-wrap:wrap;gap:24px;padding:12px 20px}}
.chart{{max-width:100%;overflow-x:auto}}
.notes{{padding:0 20px 20px;color:#5c5c5c;font-size:13px}}
@page{{size:A3 landscape;margin:8mm}}
@media print{{
  header{{display:none}}
  .map{{overflow:visible;break-after:page}}
  .map svg{{width:auto;height:auto;max-width:100%;max-height:279mm}}
  .chart{{break-inside:avoid}}
  .chart svg{{max-width:100%;height:auto}}
}}
"""


def _key(snap: JourneySnapshot) -> str:
    return snap.meta.persona.id if snap.meta.persona else "_all"


def _name(snap: JourneySnapshot) -> str:
    return snap.meta.persona.name if snap.meta.persona else "All customers"


def embedded_json(snap: JourneySnapshot) -> str:
    """Snapshot JSON safe inside ``<script>``: ``<``, ``>`` and ``&`` become \\u escapes."""
    text = json.dumps(snap.to_dict(), ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def csp(script: str) -> str:
    """Content-Security-Policy allowing only ``script`` (by hash), inline CSS, data: images."""
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    return (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{digest}'; connect-src 'none'; form-action 'none'; base-uri 'none'"
    )


def render_html(
    snapshots: Sequence[JourneySnapshot] | JourneySnapshot,
    *,
    charts: bool = True,
    paged: bool = False,
) -> str:
    """One offline HTML page: a view (map + charts) per snapshot and a persona switcher.

    ``paged`` draws the map cut between stages into A3 pages (for print and PDF) instead
    of one wide drawing that scrolls sideways.
    """
    snaps = [snapshots] if isinstance(snapshots, JourneySnapshot) else list(snapshots)
    if not snaps:
        raise ValueError("render_html needs at least one snapshot")
    keys = [_key(s) for s in snaps]
    if len(set(keys)) != len(keys):
        raise ValueError(f"two snapshots for the same persona: {keys}")
    title = snaps[0].meta.journey
    views, data = [], []
    for i, snap in enumerate(snaps):
        maps = map_pages(snap) if paged else [map_svg(snap)]
        parts = ["".join(f'<div class="map">{m}</div>' for m in maps)]
        if charts:
            drawn = "".join(
                f'<figure class="chart" data-chart="{c.name}">{c.svg}</figure>'
                for c in all_charts(snap)
            )
            parts.append(f'<section class="charts">{drawn}</section>')
        if snap.meta.notes:
            items = "".join(f"<li>{esc(n)}</li>" for n in snap.meta.notes)
            parts.append(f'<section class="notes"><strong>Notes</strong><ul>{items}</ul></section>')
        hidden = "" if i == 0 else " hidden"
        views.append(
            f'<section class="persona-view" data-persona="{esc(keys[i])}"{hidden}>'
            + "".join(parts)
            + "</section>"
        )
        data.append(
            f'<script type="application/json" class="journey-snapshot" '
            f'data-persona="{esc(keys[i])}">{embedded_json(snap)}</script>'
        )
    switcher = ""
    if len(snaps) > 1:
        options = "".join(
            f'<option value="{esc(k)}">{esc(_name(s))}</option>'
            for k, s in zip(keys, snaps, strict=True)
        )
        switcher = (
            f'<label class="switcher">Persona <select id="persona">{options}</select></label>'
        )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp(SWITCHER_JS)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="journeymap">'
        f"<title>{esc(title)}: journey map</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1>{switcher}</header><main>"
        + "".join(views)
        + "</main>"
        + "".join(data)
        + f"<script>{SWITCHER_JS}</script></body></html>\n"
    )


def snapshots_from_html(html: str) -> list[JourneySnapshot]:
    """The snapshots embedded in a report, read back (for tests and re-rendering)."""
    import re

    found = re.findall(
        r'<script type="application/json" class="journey-snapshot"[^>]*>(.*?)</script>',
        html,
        flags=re.S,
    )
    return [JourneySnapshot.from_json(text) for text in found]
