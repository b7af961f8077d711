"""The HTML report in headless Chromium: offline, error-free, and showing the map.

Checked twice: through the DOM (headers, cards, curve, switcher) and through the
screenshot's pixels (the stage header blue, the card health fills, the curve markers).
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from journeymap.render import render_html, snapshots_from_html, write_report
from journeymap.render.palette import HEALTH, OKABE_ITO, emotion_colour

from . import fixtures as fx


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return tuple(int(h[i : i + 2], 16) for i in (0, 2, 4))


def _close(a: tuple[int, ...], b: tuple[int, ...], tol: int = 12) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a[:3], b[:3], strict=True))


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    snaps = [fx.snapshot(), fx.snapshot("bargain_hunter"), fx.snapshot("loyal")]
    path = tmp_path_factory.mktemp("html") / "report.html"
    write_report(snaps, path)
    return path, snaps


@pytest.fixture
def opened(browser, report):
    """The report opened from disk, recording every request, console error and dialog."""
    path, snaps = report
    page = browser.new_page(viewport={"width": 1600, "height": 1400})
    seen = {"requests": [], "errors": [], "dialogs": []}
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.on("console", lambda m: m.type == "error" and seen["errors"].append(m.text))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.goto(path.as_uri(), wait_until="load")
    yield page, seen, path, snaps
    page.close()


def test_opens_offline_with_no_console_error(opened):
    page, seen, path, _ = opened
    page.wait_for_timeout(200)
    others = [
        u for u in seen["requests"] if u != path.as_uri() and not u.startswith(("data:", "about:"))
    ]
    assert others == []
    assert seen["errors"] == [] and seen["dialogs"] == []


def test_dom_shows_stage_headers_cards_and_curve(opened):
    page, _, _, snaps = opened
    view = page.locator('.persona-view[data-persona="_all"]')
    assert view.is_visible()
    names = view.locator(".stage-header .stage-name").all_text_contents()
    assert names == [s.name for s in snaps[0].stages]
    cards = view.locator(".touchpoint-card")
    assert cards.count() == len(snaps[0].touchpoints)
    assert all(cards.nth(i).is_visible() for i in range(cards.count()))
    assert view.locator(".emotion-curve line").count() >= 2
    box = view.locator(".lane-emotion").bounding_box()
    assert box["height"] > 100


def test_screenshot_pixels_show_header_cards_and_curve(opened):
    page, _, _, snaps = opened
    view = page.locator('.persona-view[data-persona="_all"]')
    shot = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB")

    def pixel(box, dx, dy):
        return shot.getpixel((int(box["x"] + dx), int(box["y"] + dy)))

    header = view.locator(".stage-header").first.bounding_box()
    assert _close(pixel(header, 8, header["height"] - 6), _rgb(OKABE_ITO["blue"]))
    for tp in snaps[0].touchpoints:
        card = view.locator(f'.touchpoint-card[data-touchpoint="{tp.id}"]').bounding_box()
        # the strip under the icon carries the health fill; pick a spot left of the name
        assert _close(pixel(card, 4, 26), _rgb(HEALTH[tp.health][1]), tol=16), tp.id
    checkout = view.locator('.map .emotion-point[data-key="checkout"] polygon').bounding_box()
    centre = pixel(checkout, checkout["width"] / 2, checkout["height"] / 3)
    value = fx.EMOTIONS_TP.set_index("touchpoint").loc["checkout", "mean"]
    assert _close(centre, _rgb(emotion_colour(value)), tol=20)


def test_persona_switcher_shows_one_view_at_a_time(opened):
    page, _, _, snaps = opened
    assert page.locator(".persona-view:visible").count() == 1
    page.select_option("#persona", "bargain_hunter")
    visible = page.locator(".persona-view:visible")
    assert visible.count() == 1
    assert visible.get_attribute("data-persona") == "bargain_hunter"
    assert visible.locator(".map-persona").text_content() == "Persona: Bargain hunter"
    page.select_option("#persona", "_all")
    assert page.locator(".persona-view:visible").get_attribute("data-persona") == "_all"


def test_embedded_snapshots_parse_back_in_the_browser_and_in_python(opened):
    page, _, path, snaps = opened
    parsed = page.evaluate(
        "Array.from(document.querySelectorAll('script.journey-snapshot'))"
        ".map(s => JSON.parse(s.textContent))"
    )
    assert parsed == [s.to_dict() for s in snaps]
    assert snapshots_from_html(path.read_text()) == snaps


def test_html_has_no_external_reference():
    html = render_html([fx.snapshot()])
    for needle in ("http://", "https://", "//cdn", "src=", "@import", "url("):
        found = html.replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert needle not in found, needle
