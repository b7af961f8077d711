"""Web test fixtures: one demo workspace per session, real uvicorn servers on free ports.

Each server gets its own copy of the demo workspace (DuckDB allows one writer per file)
and runs in a thread of this process. Oracle numbers are read from the copy with plain
DuckDB + pandas *before* its server opens it.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from journeymap.web.app import WebConfig, create_app
from journeymap.web.server import uvicorn_server

DEMO_CUSTOMERS = 300


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    from journeymap.demo import generate

    out = tmp_path_factory.mktemp("web-demo") / "ws"
    result = generate(out, customers=DEMO_CUSTOMERS, seed=11, progress=False)
    result.workspace.close()
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Running:
    url: str
    path: Path
    app: Any
    oracle: dict[str, Any] = field(default_factory=dict)

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, **kw)

    @property
    def spec_text(self) -> str:
        return (self.path / "journey.yaml").read_text(encoding="utf-8")


def oracle_of(path: Path) -> dict[str, Any]:
    """Independent numbers from the warehouse file, computed with DuckDB SQL + pandas."""
    con = duckdb.connect(str(path / ".journeymap" / "warehouse.duckdb"), read_only=True)
    try:
        events = con.sql("SELECT customer_id, event, event_id, ts, touchpoint FROM events").df()
        feedback = con.sql("SELECT customer_id FROM feedback").df()
        ids = con.sql("SELECT * FROM identities WHERE identifier_type = 'email'").df()
        customers = con.sql("SELECT customer_id, persona FROM customers").df()
    finally:
        con.close()
    per_customer = events.groupby("customer_id").size()
    # an email whose customer has a long timeline: a good customer-360 example
    ids = ids.assign(n=ids.customer_id.map(per_customer).fillna(0))
    ids = ids[ids.groupby("identifier_value").customer_id.transform("nunique") == 1]
    pick = ids.sort_values(["n", "identifier_value"], ascending=[False, True]).iloc[0]
    cid = pick.customer_id
    return {
        "events": events,
        "persona_customers": customers.groupby("customer_id")
        .persona.min()
        .value_counts()
        .to_dict(),
        "email": pick.identifier_value,
        "email_customer": cid,
        "timeline_len": int(
            (events.customer_id == cid).sum() + (feedback.customer_id == cid).sum()
        ),
        "tp_customers": events.dropna(subset=["touchpoint"])
        .groupby("touchpoint")
        .customer_id.nunique()
        .to_dict(),
    }


@contextmanager
def running(app: Any) -> Iterator[str]:
    """``app`` served by a real uvicorn on a free loopback port until the block ends;
    yields its base URL."""
    port = free_port()
    server = uvicorn_server(app, "127.0.0.1", port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the web server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def served(src: Path, dest: Path, **config: Any) -> Iterator[Running]:
    """A copy of workspace ``src`` at ``dest``, served by a real uvicorn on a free port
    until the block ends."""
    shutil.copytree(src, dest)
    oracle = oracle_of(dest)
    app = create_app(WebConfig(dest, **config))
    with running(app) as url:
        yield Running(url, dest, app, oracle)


@pytest.fixture(scope="session")
def server(demo_template, tmp_path_factory):
    """The app on loopback with the implicit local user (as `journeymap serve` runs it)."""
    with served(
        demo_template, tmp_path_factory.mktemp("open") / "ws", require_auth=False
    ) as running:
        yield running


@pytest.fixture(scope="session")
def auth_server(demo_template, tmp_path_factory):
    """The app with sign-in forced on (as when bound to a non-loopback address)."""
    with served(
        demo_template, tmp_path_factory.mktemp("auth") / "ws", require_auth=True
    ) as running:
        yield running


@pytest.fixture(scope="session")
def fuzz_server(demo_template, tmp_path_factory):
    """A server of its own for schemathesis (its writes must not disturb other tests)."""
    with served(
        demo_template, tmp_path_factory.mktemp("fuzz") / "ws", require_auth=True
    ) as running:
        yield running
