"""Headless Chromium (the system's, through Playwright) for PNG and PDF.

PDF comes from Chromium's print-to-PDF rather than WeasyPrint: it is the same engine
that draws the HTML report and the PNG, so all three agree; SVG text stays real,
selectable text in the PDF; and it spares a second rendering stack with its own SVG
support gaps. No browser is ever downloaded: the executable is ``$JOURNEYMAP_CHROMIUM``
or ``chromium`` on PATH (Debian package ``chromium``). Every request other than
``data:``/``about:`` is aborted, and launch flags stop Chromium's own background traffic.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class BrowserUnavailable(RuntimeError):
    """Chromium or the playwright package is missing (with how to install them)."""


def chromium_path() -> str:
    """The Chromium executable to drive."""
    for candidate in (
        os.environ.get("JOURNEYMAP_CHROMIUM"),
        shutil.which("chromium"),
        "/usr/bin/chromium",
    ):
        if candidate and Path(candidate).exists():
            return candidate
    raise BrowserUnavailable(
        "PNG and PDF need Chromium: install it (Debian: apt-get install -y chromium) or set "
        "JOURNEYMAP_CHROMIUM to its executable"
    )


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless browser (Playwright ``Browser``), closed on exit."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise BrowserUnavailable(
            "PNG and PDF need the playwright package: pip install 'playwright>=1.49'"
        ) from exc
    path = chromium_path()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def offline_page(browser: Any, **options: Any) -> Any:
    """A page that aborts every request to anything but data: and about: URLs."""
    page = browser.new_page(**options)

    def guard(route: Any) -> None:
        url = route.request.url
        if url.startswith(("data:", "about:")):
            route.continue_()
        else:
            route.abort()

    page.route("**/*", guard)
    return page


def html_to_png(
    html: str, out: Path, *, width: int, scale: float = 2.0, browser: Any | None = None
) -> Path:
    """Full-page screenshot of ``html`` at ``width`` CSS px and ``scale`` device pixels."""
    with _maybe(browser) as b:
        page = offline_page(b, viewport={"width": width, "height": 600}, device_scale_factor=scale)
        page.set_content(html, wait_until="load")
        page.screenshot(path=str(out), full_page=True)
        page.close()
    return out


def html_to_pdf(html: str, out: Path, *, browser: Any | None = None) -> Path:
    """Print ``html`` to PDF with its own ``@page`` size (A3 landscape for reports)."""
    with _maybe(browser) as b:
        page = offline_page(b)
        page.set_content(html, wait_until="load")
        page.emulate_media(media="print")
        page.pdf(path=str(out), print_background=True, prefer_css_page_size=True)
        page.close()
    return out


@contextmanager
def _maybe(browser: Any | None) -> Iterator[Any]:
    if browser is not None:
        yield browser
        return
    with chromium() as b:
        yield b
