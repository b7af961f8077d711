"""PNG, PDF and SVG files from one snapshot, and the CLI that writes them."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from PIL import Image
from pypdf import PdfReader
from typer.testing import CliRunner

import journeymap.cli.report_commands  # noqa: F401  (registers report/snapshot)
from journeymap.cli.app import app
from journeymap.render import write_report
from journeymap.render.palette import OKABE_ITO

from . import fixtures as fx


def test_svg_file_parses_and_names_every_stage(tmp_path):
    out = write_report(fx.snapshot(), tmp_path / "map.svg")
    root = ET.parse(out).getroot()
    text = " ".join(root.itertext())
    for st in fx.SPEC["stages"]:
        assert st["name"] in text


def test_png_is_the_drawing_at_twice_its_size(tmp_path, browser):
    snap = fx.snapshot()
    out = write_report(snap, tmp_path / "map.png", browser=browser)
    from journeymap.render import map_svg

    width = float(re.search(r' width="([0-9.]+)"', map_svg(snap)).group(1))
    img = Image.open(out).convert("RGB")
    assert img.width == pytest.approx(2 * (int(width) + 1), abs=2)
    blue = tuple(int(OKABE_ITO["blue"][i : i + 2], 16) for i in (1, 3, 5))
    pixels = img.getdata()
    share_blue = sum(1 for p in pixels if p == blue) / len(pixels)
    assert share_blue > 0.005  # the stage headers are there


def test_pdf_is_valid_a3_landscape_with_stage_names_as_text(tmp_path, browser):
    out = write_report([fx.snapshot("loyal")], tmp_path / "map.pdf", browser=browser)
    reader = PdfReader(out)
    first = reader.pages[0]
    w, h = float(first.mediabox.width), float(first.mediabox.height)
    assert (round(w), round(h)) == (1191, 842)  # A3 landscape in points
    page_one = first.extract_text()
    for st in fx.SPEC["stages"]:
        assert st["name"] in page_one
    assert "Persona: Loyal regular" in page_one
    assert "KPIs vs target" in page_one  # the whole map fits the first page
    assert "Funnel" in "".join(p.extract_text() for p in reader.pages[1:])


def test_unknown_format_is_refused_with_the_file_named(tmp_path):
    with pytest.raises(ValueError, match=r"map\.gif: unknown report format 'gif'"):
        write_report(fx.snapshot(), tmp_path / "map.gif")


def test_cli_report_from_saved_snapshots(tmp_path):
    files = []
    for persona in (None, "loyal"):
        f = tmp_path / f"{persona or 'all'}.json"
        f.write_text(fx.snapshot(persona).to_json())
        files.append(f)
    args = ["report", "--snapshot", str(files[0]), "--snapshot", str(files[1])]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "r.html").read_text()
    assert html.count('class="persona-view"') == 2 and 'value="loyal"' in html
    result = CliRunner().invoke(app, [*args, "-f", "svg", "--out", str(tmp_path / "r.svg")])
    assert result.exit_code == 0, result.output
    ET.parse(tmp_path / "r.svg")


def test_cli_names_a_bad_snapshot_file_and_field(tmp_path):
    data = fx.snapshot().to_dict()
    data["stages"][0]["metrics"]["customers"]["n"] = "many"
    bad = tmp_path / "bad.json"
    import json

    bad.write_text(json.dumps(data))
    result = CliRunner().invoke(
        app, ["report", "--snapshot", str(bad), "--out", str(tmp_path / "x.svg")]
    )
    assert result.exit_code == 2
    flat = " ".join(result.output.split())
    assert "bad.json" in flat and "stages.0.metrics.customers.n" in flat


def test_cli_persona_choice():
    from journeymap.cli.report_commands import _wanted

    spec = fx.spec()
    assert _wanted(None, True, spec) == [None, "bargain_hunter", "loyal"]
    assert _wanted(None, False, spec) == [None]
    assert _wanted(["loyal", "all"], True, spec) == ["loyal", None]
