"""Snapshot -> journey map drawing and charts, as HTML, SVG, PNG and PDF.

- :func:`map_svg`: the journey map drawing (the one SVG code path every format uses).
- :func:`render_html`: one offline HTML file with a persona switcher and the charts.
- :func:`write_report`: any of html/svg/png/pdf to a file.
- :mod:`journeymap.render.charts`: funnel, Sankey, emotion curve, opportunity matrix and
  transition graph, each with a ``*_data`` twin returning the table it draws.
"""

from journeymap.render.charts import (
    Chart,
    all_charts,
    emotion_chart,
    emotion_curve_data,
    funnel_chart,
    funnel_data,
    opportunity_matrix_chart,
    opportunity_matrix_data,
    sankey_chart,
    sankey_data,
    transition_graph_chart,
    transition_graph_data,
)
from journeymap.render.html import render_html, snapshots_from_html
from journeymap.render.journey_map import map_svg
from journeymap.render.report import FORMATS, render_svg, write_report

__all__ = [
    "FORMATS",
    "Chart",
    "all_charts",
    "emotion_chart",
    "emotion_curve_data",
    "funnel_chart",
    "funnel_data",
    "map_svg",
    "opportunity_matrix_chart",
    "opportunity_matrix_data",
    "render_html",
    "render_svg",
    "sankey_chart",
    "sankey_data",
    "snapshots_from_html",
    "transition_graph_chart",
    "transition_graph_data",
    "write_report",
]
