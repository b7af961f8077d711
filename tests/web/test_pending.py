"""A slow computation never holds a page: a placeholder polls until the answer is ready."""

from __future__ import annotations

import re
import time

from journeymap.web import app as web_app


def test_page_shows_placeholder_then_the_map(fuzz_server, monkeypatch):
    monkeypatch.setattr(web_app, "PAGE_WAIT_S", 0.0)
    with fuzz_server.client() as c:
        token = web_app.auth.add_user(fuzz_server.app.state.appstate, "waiter", "viewer", None)
        c.headers["Authorization"] = f"Bearer {token}"
        persona = c.get("/api/personas").json()[-1]["id"]
        first = c.get("/", params={"persona": persona})
        assert first.status_code == 200
        job = re.search(r'data-job="([^"]+)"', first.text).group(1)
        assert f"snapshot:{persona}|" in job
        deadline = time.monotonic() + 60
        while c.get(f"/api/jobs/{job}").json()["status"] != "done":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        ready = c.get("/", params={"persona": persona})
        assert "data-job=" not in ready.text and 'class="touchpoint-card"' in ready.text
