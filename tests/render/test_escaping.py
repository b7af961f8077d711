"""Everything a user typed shows as text and runs nothing, in SVG and in HTML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from journeymap.render import map_svg, render_html, write_report

from . import fixtures as fx

EVIL_TP = "<script>alert(1)</script>"
EVIL_STAGE = "R&D \"quoted\" 'stage' </text>"
EVIL_PERSONA = "</script><script>alert(2)</script>"
EVIL_PAIN = "<img src=x onerror=alert(3)>"


def _evil_snapshot(persona: str | None = "evil"):
    spec = fx.SPEC
    stages = [dict(s) for s in spec["stages"]]
    stages[0]["name"] = EVIL_STAGE
    tps = [dict(t) for t in spec["touchpoints"]]
    tps[0]["name"] = EVIL_TP
    tps[0]["expectation"] = "]]><!-- -->"
    personas = [*spec["personas"], {"id": "evil", "name": EVIL_PERSONA, "goals": [EVIL_PAIN]}]
    pains = [{"title": EVIL_PAIN, "touchpoint": "social_ad"}]
    return fx.snapshot(
        persona, stages=stages, touchpoints=tps, personas=personas, pain_points=pains
    )


def test_svg_keeps_user_text_as_text():
    svg = map_svg(_evil_snapshot())
    root = ET.fromstring(svg)  # still well-formed XML
    assert not [
        el for el in root.iter() if el.tag.split("}")[1] in ("script", "img", "foreignObject")
    ]
    text = " ".join(root.itertext())
    for raw in (EVIL_TP, EVIL_STAGE, EVIL_PERSONA):
        assert raw in text
    assert "<script>" not in svg


def test_html_runs_nothing_and_shows_the_text(browser, tmp_path):
    snaps = [_evil_snapshot(None), _evil_snapshot("evil")]
    path = write_report(snaps, tmp_path / "evil.html")
    html = path.read_text()
    assert html.count("<script") == len(snaps) + 1  # the JSON blocks and the switcher
    page = browser.new_page()
    dialogs, errors = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri(), wait_until="load")
    page.select_option("#persona", "evil")
    page.wait_for_timeout(200)
    assert dialogs == [] and errors == []
    assert page.locator("script").count() == len(snaps) + 1
    assert page.locator("main img").count() == 0
    view = page.locator('.persona-view[data-persona="evil"]')
    # long names are cut on the drawing with the full text in <title>; read that when present
    full = "el => (el.querySelector('title') || el).textContent"
    card = view.locator('.touchpoint-card[data-touchpoint="social_ad"] .touchpoint-name')
    assert card.evaluate(full) == EVIL_TP
    assert card.locator("tspan").first.text_content().startswith("<script>")
    assert view.locator(".stage-header .stage-name").first.evaluate(full) == EVIL_STAGE
    assert page.locator("#persona option").nth(1).text_content() == EVIL_PERSONA
    parsed = page.evaluate(
        "JSON.parse(document.querySelectorAll('script.journey-snapshot')[1].textContent)"
    )
    assert parsed["meta"]["persona"]["name"] == EVIL_PERSONA
    page.close()


def test_title_and_notes_are_escaped():
    snap = _evil_snapshot()
    snap.meta.journey = EVIL_TP
    snap.meta.notes = [EVIL_PAIN]
    html = render_html(snap)
    assert EVIL_TP not in html and EVIL_PAIN not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
