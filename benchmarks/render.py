"""Rendering benchmark: snapshot of a synthetic warehouse, then every format from it.

    .venv/bin/python benchmarks/render.py --events 1000000

Builds a DuckDB warehouse in a temporary folder with ``--events`` synthetic events over the
demo journey (26 touchpoints, 5 stages, 4 personas), times ``snapshot_from_analysis`` for
all customers and per persona, then times each report format from the snapshots: the
HTML with the persona switcher (all snapshots, charts included), the SVG, the PNG and the
PDF (each launching Chromium as the CLI does, and again on a warm browser).
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa

from journeymap.engine import Analysis
from journeymap.engine.store import build_store
from journeymap.render import write_report
from journeymap.render.browser import chromium
from journeymap.snapshot import snapshot_from_analysis
from journeymap.spec import load_spec
from journeymap.workspace.schemas import CANONICAL

SPEC = Path(__file__).resolve().parents[1] / "src/journeymap/demo/journey.yaml"


def warehouse(path: Path, n_events: int, seed: int = 7):
    """Events that walk the designed stages forward with some back-steps, and feedback."""
    spec = load_spec(SPEC)
    rng = np.random.default_rng(seed)
    con = ibis.duckdb.connect(str(path))
    for name, schema in CANONICAL.items():
        con.create_table(name, schema=schema, overwrite=True)
    tps = np.array([t.id for t in spec.touchpoints])
    stage_idx = {s: i for i, s in enumerate(spec.stage_order)}
    tp_stage = np.array([stage_idx[t.stage] for t in spec.touchpoints])
    stage_names = np.array(spec.stage_order)
    channels = np.array([t.channel or "web" for t in spec.touchpoints])
    n_customers = max(1, n_events // 20)
    cust = np.sort(rng.integers(0, n_customers, n_events))
    first = np.r_[True, cust[1:] != cust[:-1]]
    pos = np.arange(n_events) - np.maximum.accumulate(np.where(first, np.arange(n_events), 0))
    counts = np.bincount(cust, minlength=n_customers)
    progress = pos / np.maximum(1, counts[cust] - 1)  # 0..1 through each journey
    target_stage = np.clip(
        np.round(progress * (len(stage_names) - 1) + rng.normal(0, 0.6, n_events)),
        0,
        len(stage_names) - 1,
    )
    choice = np.empty(n_events, dtype=np.int64)
    for s in range(len(stage_names)):
        members = np.flatnonzero(tp_stage == s)
        where = target_stage == s
        choice[where] = rng.choice(members, where.sum())
    ts = (
        pd.Timestamp("2026-01-01", tz="UTC").value // 1000
        + cust * 86_400_000 // 7
        + pos * 600_000_000
        + rng.integers(0, 60_000_000, n_events)
    )
    events = pa.table(
        {
            "event_id": pa.array(np.char.add("e", np.arange(n_events).astype(str))),
            "customer_id": pa.array(np.char.add("c", cust.astype(str))),
            "ts": pa.array(ts, type=pa.timestamp("us", tz="UTC")),
            "event": pa.array(tps[choice]),
            "channel": pa.array(channels[choice]),
            "touchpoint": pa.array(tps[choice]),
            "stage": pa.array(stage_names[tp_stage[choice]]),
        }
    )
    con.con.register("events_in", events)
    con.raw_sql("INSERT INTO events BY NAME SELECT * FROM events_in")
    personas = np.array([p.id for p in spec.personas])
    customers = pa.table(
        {
            "customer_id": pa.array(np.char.add("c", np.arange(n_customers).astype(str))),
            "persona": pa.array(personas[rng.integers(0, len(personas), n_customers)]),
        }
    )
    con.con.register("customers_in", customers)
    con.raw_sql("INSERT INTO customers BY NAME SELECT * FROM customers_in")
    n_fb = max(1, n_events // 50)
    pick = rng.integers(0, n_events, n_fb)
    feedback = pa.table(
        {
            "feedback_id": pa.array(np.char.add("f", np.arange(n_fb).astype(str))),
            "customer_id": pa.array(np.char.add("c", cust[pick].astype(str))),
            "ts": pa.array(ts[pick] + 60_000_000, type=pa.timestamp("us", tz="UTC")),
            "touchpoint": pa.array(tps[choice[pick]]),
            "kind": pa.array(np.array(["nps", "csat", "ces"])[rng.integers(0, 3, n_fb)]),
            "score": pa.array(rng.integers(1, 6, n_fb).astype(float)),
            "sentiment": pa.array(rng.uniform(-1, 1, n_fb)),
        }
    )
    con.con.register("feedback_in", feedback)
    con.raw_sql("INSERT INTO feedback BY NAME SELECT * FROM feedback_in")
    return con, spec


@contextlib.contextmanager
def _no_browser():
    """Stands in for ``chromium()`` when no format is rendered (``--snapshots-only``)."""
    yield None


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--keep", type=Path, help="copy the rendered files into this folder")
    ap.add_argument(
        "--snapshots-only", action="store_true", help="time the snapshots, render no format"
    )
    args = ap.parse_args()
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        (con, spec), secs = timed(lambda: warehouse(tmp_path / "w.duckdb", args.events))
        print(f"warehouse with {args.events:,} events built in {secs:.1f} s (not in the figures)")
        # what a workspace refresh does after ingest: sessions + the sorted journey store
        _, secs = timed(lambda: build_store(SimpleNamespace(con=con, settings={})))
        print(f"journey store built in {secs:.1f} s (refresh step 3, not in the figures)")
        analysis = Analysis(con, spec, {})
        snap, secs = timed(lambda: snapshot_from_analysis(analysis, workspace="bench"))
        rows.append(("snapshot, all customers (first: loads the journey store)", secs))
        _, secs = timed(lambda: snapshot_from_analysis(Analysis(con, spec, {}), workspace="b"))
        rows.append(("snapshot, all customers again (store loaded)", secs))
        personas = []
        for p in spec.personas:
            s, secs = timed(
                lambda p=p: snapshot_from_analysis(
                    analysis.filtered(persona=p.id), workspace="bench"
                )
            )
            personas.append(s)
            rows.append((f"snapshot, persona {p.id}", secs))
        snaps = [snap, *personas]
        out = tmp_path / "out"
        for fmt in () if args.snapshots_only else ("html", "svg", "png", "pdf"):
            _, secs = timed(lambda fmt=fmt: write_report(snaps, out.with_suffix(f".{fmt}"), fmt))
            size = out.with_suffix(f".{fmt}").stat().st_size
            label = "html (5 personas, charts)" if fmt == "html" else fmt
            rows.append(
                (
                    f"{label}, {size / 1024:,.0f} KiB"
                    + (", Chromium launch included" if fmt in ("png", "pdf") else ""),
                    secs,
                )
            )
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for f in out.parent.glob("out.*"):
                (args.keep / f.name).write_bytes(f.read_bytes())
        with chromium() if not args.snapshots_only else _no_browser() as b:
            for fmt in () if args.snapshots_only else ("png", "pdf"):
                _, secs = timed(
                    lambda fmt=fmt: write_report(snaps, out.with_suffix(f".{fmt}"), fmt, browser=b)
                )
                rows.append((f"{fmt}, warm browser", secs))
    print(f"\n{platform.machine()}, {args.events:,} events, Python {platform.python_version()}\n")
    print("| step | seconds |\n| --- | ---: |")
    for name, secs in rows:
        print(f"| {name} | {secs:.2f} |")


if __name__ == "__main__":
    main()
