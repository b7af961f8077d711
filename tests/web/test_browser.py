"""Headless Chromium drives the real server through each page, as a person would."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from journeymap.spec import load_spec


@pytest.fixture
def page(browser, server):
    """A page that records console errors and every request leaving the server's origin."""
    origin = urlparse(server.url).netloc
    p = browser.new_page()
    p.errors, p.external = [], []
    p.on("console", lambda m: p.errors.append(m.text) if m.type == "error" else None)
    p.on("pageerror", lambda e: p.errors.append(str(e)))

    def guard(route):
        if urlparse(route.request.url).netloc == origin:
            route.continue_()
        else:
            p.external.append(route.request.url)
            route.abort()

    p.route("**/*", guard)
    yield p
    assert p.errors == []
    assert p.external == []
    p.close()


def test_map_hover_and_click_a_touchpoint(page, server):
    page.goto(server.url + "/")
    card = page.locator('.touchpoint-card[data-touchpoint="checkout"]')
    card.hover()
    tip = page.locator("#tooltip")
    tip.wait_for(state="visible")
    expected = server.oracle["tp_customers"]["checkout"]
    assert f"Customers: {expected:,}" in tip.inner_text()
    card.click()
    page.wait_for_url("**/touchpoints/checkout")
    assert "Checkout" in page.locator("h1").inner_text()
    assert page.locator("table.metrics").is_visible()


def test_build_a_funnel(page, server):
    page.goto(server.url + "/funnel")
    page.select_option('select[data-step="1"]', "product_page")
    page.select_option('select[data-step="2"]', "cart")
    page.select_option('select[data-step="3"]', "checkout")
    page.click(".funnel-form button[type=submit]")
    first = page.locator('table.funnel-result tr[data-step="1"] td.customers')
    first.wait_for()
    assert int(first.inner_text()) == server.oracle["tp_customers"]["product_page"]
    assert page.locator("table.funnel-result tr[data-step]").count() == 3
    assert page.locator("figure.funnel-chart svg").count() == 1
    page.select_option('select[name="flow_from"]', "checkout")
    page.click(".flows-form button[type=submit]")
    page.locator("figure.sankey-chart svg").wait_for()
    sources = page.locator("table.flows-result tr td:nth-child(2)").all_inner_texts()
    assert sources and sources[0] == "checkout"


def test_rename_a_stage_lands_in_journey_yaml(page, server):
    before_comments = [ln for ln in server.spec_text.splitlines() if ln.lstrip().startswith("#")]
    page.goto(server.url + "/")
    page.locator('.stage-header[data-stage="awareness"]').click()
    page.wait_for_url("**/edit/stages/awareness")
    page.fill('form.edit-form input[name="name"]', "Discovery <b>& first touch</b>")
    page.click("form.edit-form button[type=submit]")
    page.wait_for_load_state()
    assert load_spec(server.path / "journey.yaml").stage("awareness").name == (
        "Discovery <b>& first touch</b>"
    )
    assert [ln for ln in server.spec_text.splitlines() if ln.lstrip().startswith("#")] == (
        before_comments
    )
    # shown as text, never as markup, on the edit page and in the map drawing
    assert page.locator("h1").inner_text().endswith("Discovery <b>& first touch</b>")
    page.goto(server.url + "/")
    header = page.locator('.stage-header[data-stage="awareness"] .stage-name')
    assert "Discovery <b>& first touch</b>" in header.text_content()
    assert page.locator(".map b").count() == 0


def test_move_an_opportunity_on_the_board(page, server):
    spec = load_spec(server.path / "journey.yaml")
    opp = spec.opportunities[0]
    page.goto(server.url + "/opportunities")
    page.locator("table.board a", has_text=opp.title).click()
    page.fill('form.edit-form input[name="status"]', "in_progress")
    page.fill('form.edit-form input[name="effort"]', "1")
    page.click("form.edit-form button[type=submit]")
    page.wait_for_load_state()
    saved = load_spec(server.path / "journey.yaml").opportunities[0]
    assert (saved.status, saved.effort, saved.title) == ("in_progress", 1, opp.title)
    page.goto(server.url + "/opportunities")
    row = page.locator("table.matrix tr", has_text=f"impact {saved.impact}")
    assert row.locator("td").nth(0).locator("a.chip", has_text=opp.title).count() == 1


def test_comment_on_a_touchpoint(page, server):
    text = "<script>window.pwned=1</script> delivery cost shows too late"
    page.goto(server.url + "/touchpoints/cart")
    page.fill(".comment-form textarea", text)
    page.click(".comment-form button")
    page.wait_for_url("**/touchpoints/cart")
    last = page.locator(".comment p").last
    assert last.inner_text() == text
    assert page.evaluate("window.pwned") is None
    assert page.locator(".comment .author").last.inner_text() == "local"


def test_match_rule_live_preview(page, server):
    events = server.oracle["events"]
    name = events.event.value_counts().index[0]
    page.goto(server.url + "/edit/touchpoints/checkout")
    page.fill("textarea.match-rule", f'{{"event": "{name}"}}')
    expected = f"{int((events.event == name).sum()):,} events match"
    expect(page.locator(".match-preview .matched")).to_have_text(expected)


def test_restore_a_version(page, server):
    original = (server.path / ".journeymap" / "app.db").exists()
    assert original
    page.goto(server.url + "/history")
    rows = page.locator("table.versions tr[data-version]")
    assert rows.count() >= 2
    baseline = rows.last  # the file as first found on disk
    version = baseline.get_attribute("data-version")
    page.goto(server.url + f"/history?show={version}")
    baseline = page.locator(f'tr[data-version="{version}"]')
    baseline.locator("form.restore button").click()
    page.wait_for_url("**/history")
    assert page.locator("table.versions tr[data-version] td.message").first.inner_text() == (
        f"restore version {version}"
    )
    import sqlite3

    con = sqlite3.connect(server.path / ".journeymap" / "app.db")
    text = con.execute("SELECT text FROM versions WHERE id = ?", (int(version),)).fetchone()[0]
    con.close()
    assert server.spec_text == text


def test_find_a_customer_by_email(page, server):
    page.goto(server.url + "/customers")
    page.fill("input[name=q]", server.oracle["email"])
    page.click("form.search button")
    page.wait_for_url(f"**/customers/{server.oracle['email_customer']}")
    assert page.locator(".timeline li").count() == server.oracle["timeline_len"]
    assert server.oracle["email"] in page.locator(".identifiers").inner_text()


@pytest.mark.parametrize(
    "path", ["/personas", "/opportunities", "/health", "/history", "/api-docs"]
)
def test_other_pages_render_cleanly(page, server, path):
    response = page.goto(server.url + path)
    assert response.status == 200
    assert page.locator("h1").first.is_visible()


def test_add_a_persona_and_reject_an_invalid_one(page, server):
    page.goto(server.url + "/personas")
    page.click("a.add")
    page.fill('input[name="id"]', "gift_buyer")
    page.fill('input[name="name"]', "Gift buyer")
    page.fill('textarea[name="goals"]', "Find a present fast\nGift wrapping")
    page.fill('textarea[name="rule"]', '{"segment": "gifting"}')
    page.click(".add-form button[type=submit]")
    page.wait_for_url("**/personas")
    added = next(
        p for p in load_spec(server.path / "journey.yaml").personas if p.id == "gift_buyer"
    )
    assert (added.name, added.goals) == ("Gift buyer", ["Find a present fast", "Gift wrapping"])
    assert page.locator('.persona[data-persona="gift_buyer"]').count() == 1
    # the same id again would make the map invalid: refused, with the problem named
    before = server.spec_text
    page.goto(server.url + "/add/personas")
    page.fill('input[name="id"]', "gift_buyer")
    page.fill('input[name="name"]', "Duplicate")
    page.click(".add-form button[type=submit]")
    assert "gift_buyer" in page.locator("ul.issues").inner_text()
    assert server.spec_text == before
    # the browser logs the refused save (HTTP 422) as a failed load: that one is expected
    assert any("status of 422" in e for e in page.errors)
    page.errors[:] = [e for e in page.errors if "status of 422" not in e]
