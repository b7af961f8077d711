"""Web app page timings: each page's first answer, cold and once its data is cached.

Figure asked for by issue 8: on a 1M-event demo workspace (about 140,000 demo customers)
each page's first paint under 1 s once its snapshot is cached. Run:

    .venv/bin/python benchmarks/web.py --customers 140000 [--workspace DIR]

It builds (or reuses) a demo workspace, serves it with uvicorn on a free loopback port,
and for every page prints the time to the full HTML (cold, then warm) and, with
--browser, Chromium's first contentful paint of the warm page.
"""

from __future__ import annotations

import argparse
import socket
import threading
import time
from pathlib import Path

import httpx

from journeymap.web.app import WebConfig, create_app
from journeymap.web.server import uvicorn_server

# a promise, not wait_for_function: the app's CSP (no 'unsafe-eval') forbids string eval
FIRST_PAINT_JS = """() => new Promise((done) => {
  const started = Date.now();
  const look = () => {
    const e = performance.getEntriesByName('first-contentful-paint')[0];
    if (e) done(e.startTime);
    else if (Date.now() - started > 10000) done(null);
    else setTimeout(look, 50);
  };
  look();
})"""

PAGES = [
    "/",
    "/touchpoints/checkout",
    "/funnel?steps=product_page&steps=cart&steps=checkout",
    "/customers",
    "/personas",
    "/opportunities",
    "/health",
    "/history",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=140_000)
    ap.add_argument("--workspace", type=Path, default=Path("/tmp/journeymap-web-bench"))
    ap.add_argument("--browser", action="store_true", help="also measure first paint")
    args = ap.parse_args()
    if not (args.workspace / "journeymap.toml").exists():
        from journeymap.demo import generate

        t = time.perf_counter()
        generate(args.workspace, customers=args.customers, seed=7).workspace.close()
        print(f"demo workspace built in {time.perf_counter() - t:.1f} s")
    app = create_app(WebConfig(args.workspace))
    port = free_port()
    server = uvicorn_server(app, "127.0.0.1", port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    print(f"{'page':58} {'cold s':>8} {'warm s':>8}")
    try:
        with httpx.Client(base_url=base, timeout=600) as c:
            rows = []
            for path in PAGES:
                t = time.perf_counter()
                r = c.get(path, follow_redirects=True)
                cold = time.perf_counter() - t
                while "data-job=" in r.text:  # placeholder: wait for the computation
                    time.sleep(0.2)
                    r = c.get(path)
                    cold = time.perf_counter() - t
                t = time.perf_counter()
                c.get(path, follow_redirects=True)
                rows.append((path, cold, time.perf_counter() - t))
                print(f"{path:58} {cold:8.3f} {rows[-1][2]:8.3f}", flush=True)
        paints = {}
        if args.browser:
            from journeymap.render.browser import chromium

            with chromium() as b:
                page = b.new_page()
                for path, _, _ in rows:
                    page.goto(base + path)
                    paints[path] = page.evaluate(FIRST_PAINT_JS)
        for path, paint in paints.items():
            shown = f"{paint / 1000:.3f} s" if paint is not None else "not reported"
            print(f"first contentful paint (warm) {path}: {shown}")
    finally:
        server.should_exit = True
        thread.join(10)


if __name__ == "__main__":
    main()
