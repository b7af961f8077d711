"""The data-quality audit and the web app on a Spark workspace answer as on DuckDB.

The DuckDB demo workspace (tests/spark/conftest.py) is the reference; its tables are
offered to Spark under other names and a ``backend = "pyspark"`` workspace maps them.
``journeymap serve``'s app is started on 127.0.0.1 over each (a real uvicorn, as in
tests/web) and the main read endpoints must give the same JSON; the audit must give the
same report, with the clock-skew check's nearest-event join in its Spark form.
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager

import httpx
import pytest

from spark.both import needs_pyspark, same_json, spark_copy

needs_pyspark()

from journeymap.sources.audit import audit  # noqa: E402
from journeymap.web.app import WebConfig, create_app  # noqa: E402
from journeymap.workspace.workspace import Workspace  # noqa: E402
from web.conftest import running  # noqa: E402

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
#: Values that name the run (time, data version, cache keys), not the data.
IGNORED = {"generated_at", "data_version", "etag", "version"}


def _same(a, b, where: str) -> None:
    same_json(a, b, where, ignored=IGNORED, abs_tol=1e-9)


@contextmanager
def serving(path):
    """``journeymap serve``'s app for the workspace at ``path`` on a free loopback port."""
    with running(create_app(WebConfig(path, require_auth=False))) as url:
        yield httpx.Client(base_url=url, timeout=600)


@pytest.fixture(scope="module")
def spark_path(duck_ws, spark_session, tmp_path_factory):
    """A Spark workspace over copies of the demo's tables; its views are dropped after."""
    yield spark_copy(duck_ws, spark_session, tmp_path_factory.mktemp("served") / "shop")
    for view in spark_session.catalog.listTables():
        if view.isTemporary:
            spark_session.catalog.dropTempView(view.name)


def test_audit_on_spark(duck_ws, spark_path):
    ws = Workspace(spark_path)
    try:
        spark = audit(ws, now=NOW).to_dict()
    finally:
        ws.close()
    duck = audit(duck_ws, now=NOW).to_dict()
    assert duck["checks"]["clock_skew"], "the demo has sources to compare clocks of"
    assert duck["summary"]["rows"] > 1000
    _same(duck, spark, "audit")


def test_serve_on_spark(duck_ws, spark_path, tmp_path):
    import shutil

    duck_path = tmp_path / "shop"  # the folder name is in the answers
    duck_ws.close()  # one process per DuckDB file: the server opens a copy
    shutil.copytree(duck_ws.path, duck_path)
    duck_ws.__init__(duck_ws.path)  # reopen the session fixture
    tp = duck_ws.spec.touchpoints[1].id
    steps = [t.id for t in duck_ws.spec.touchpoints[:3]]
    email = (
        duck_ws.table("identities")
        .filter(lambda t: t.identifier_type == "email")
        .order_by("identifier_value")
        .limit(1)
        .to_pandas()
    )
    customer = str(email.customer_id.iloc[0])
    paths = [
        "/api/snapshot",
        f"/api/touchpoints/{tp}",
        "/api/funnel?" + "&".join(f"steps={s}" for s in steps),
        f"/api/flows?start={tp}&steps=3",
        f"/api/customers?q={email.identifier_value.iloc[0]}",
        f"/api/customers/{customer}",
        "/api/personas",
        "/api/health",
        "/api/spec",
    ]
    answers = {}
    for name, path in (("duck", duck_path), ("spark", spark_path)):
        with serving(path) as client:
            got = {}
            for url in paths:
                response = client.get(url)
                assert response.status_code == 200, f"{name} {url}: {response.text[:500]}"
                got[url] = response.json()
            answers[name] = got
    # the Spark server refreshed its fresh session first: identities and sessions exist
    assert answers["spark"][f"/api/customers/{customer}"]["customer_id"] == customer
    for url in paths:
        duck, spark = answers["duck"][url], answers["spark"][url]
        if url == "/api/health":  # the audit's "now" is the request time: compare its data
            duck, spark = duck["checks"], spark["checks"]
            duck.pop("time_outliers"), spark.pop("time_outliers")
        _same(duck, spark, url)
