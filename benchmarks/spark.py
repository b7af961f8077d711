"""The engine's analyses on Spark local[2] beside DuckDB, on the same generated log.

Usage::

    python benchmarks/spark.py                      # 1M events, writes docs/performance.md
    python benchmarks/spark.py --sizes 1000000 10000000 --driver-memory 6g

Each backend runs in its own Python process (fresh memory figures). Both read the engine
benchmark's log (``benchmarks/engine.py``: 30 touchpoints, about 21.8 events per customer,
minute-level ties) from one Parquet file as the canonical ``events`` table (DuckDB: a
table in a database file; Spark: a temp view over the Parquet file), then time:

- *store*: ``build_store`` (sessions + the sorted journey store; on Spark the rewritten
  events and the store become materialised temp views);
- *from events*: transitions, variants, a 5-step 7-day funnel and touchpoint metrics
  answered from the events table (``use_store=False``: the database filters and the rows
  are fetched; this is what a filtered question costs);
- *warm*: the same questions from the store held in memory.

CPU seconds are the Python process plus, on Spark, the JVM (read from /proc); peak RSS
likewise (Python max RSS + the JVM's VmHWM). The answers' digests are compared.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
SECTION = "## Spark"

from performance_doc import write_section  # noqa: E402 (benchmarks/ is on sys.path)

from engine import FUNNEL, WINDOW_S, _dfg_digest, _variants_digest, generate  # noqa: E402

QUESTIONS = {
    "transitions": lambda a: a.transitions(),
    "variants": lambda a: a.variants(),
    "funnel": lambda a: a.funnel(FUNNEL, window=f"{WINDOW_S}s"),
    "touchpoint_metrics": lambda a: a.touchpoint_metrics(),
}


def _jvm_figures(session) -> tuple[float, float]:
    """(CPU seconds, peak RSS MB) of the Spark driver JVM, from /proc."""
    pid = session.sparkContext._gateway.proc.pid
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    peak = 0.0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    return cpu, peak


def child(backend: str, parquet: str, driver_memory: str) -> dict:
    """Run one backend's measurements in this process; returns the figures."""
    import ibis

    from journeymap.engine.analysis import Analysis
    from journeymap.engine.store import build_store

    canonical = (
        "event_id, customer_id, ts, event, channel, event AS touchpoint, "
        "CAST(NULL AS STRING) AS stage, CAST(NULL AS STRING) AS session_id, "
        "'bench' AS source"
    )
    session = None
    t0 = time.perf_counter()
    if backend == "duckdb":
        folder = tempfile.mkdtemp(prefix="jm-spark-bench-")
        con = ibis.duckdb.connect(str(Path(folder) / "w.duckdb"))
        con.raw_sql(
            "CREATE TABLE events AS SELECT "
            + canonical.replace("STRING", "VARCHAR")
            + f" FROM read_parquet('{parquet}')"
        )
    else:
        from journeymap.workspace import spark as jm_spark

        conf = {
            "spark.driver.memory": driver_memory,
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.sql.shuffle.partitions": "8",
            "spark.sql.warehouse.dir": tempfile.mkdtemp(prefix="jm-spark-warehouse-"),
        }
        session = jm_spark.session_from_settings({"master": "local[2]", "spark_conf": conf})
        session.sparkContext.setLogLevel("ERROR")
        con = jm_spark.connect(session)
        session.read.parquet(parquet).selectExpr(
            *[c.strip() for c in canonical.split(",")]
        ).createOrReplaceTempView("events")
    out: dict = {"load": time.perf_counter() - t0}
    ws = SimpleNamespace(con=con, spec=None, settings={})
    t, c = time.perf_counter(), time.process_time()
    report = build_store(ws)
    out["store"], out["store_py_cpu"] = time.perf_counter() - t, time.process_time() - c
    out["events"] = report.events
    answers = {}
    for mode, use_store in (("events", False), ("warm", True)):
        a = Analysis(con, None, {}, use_store=use_store)
        for name, ask in QUESTIONS.items():
            t = time.perf_counter()
            answers[name] = ask(a.filtered())
            out[f"{mode}_{name}"] = time.perf_counter() - t
    tr, var = answers["transitions"], answers["variants"]
    out["dfg"] = _dfg_digest({(r.source, r.target): r.count for r in tr.itertuples()})
    out["variants"] = _variants_digest(dict(zip(var.path, var.customers, strict=True)))
    out["funnel_counts"] = answers["funnel"]["customers"].tolist()
    out["py_cpu"] = time.process_time()
    out["py_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["jvm_cpu"], out["jvm_peak_mb"] = _jvm_figures(session) if session else (0.0, 0.0)
    return out


def run(backend: str, parquet: Path, driver_memory: str) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", backend, str(parquet), driver_memory],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{backend} child failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _row(name: str, r: dict) -> str:
    cpu = r["py_cpu"] + r["jvm_cpu"]
    peak = r["py_peak_mb"] + r["jvm_peak_mb"]
    events = sum(r[f"events_{q}"] for q in QUESTIONS)
    warm = sum(r[f"warm_{q}"] for q in QUESTIONS)
    return (
        f"| {name} | {r['load']:.1f} | {r['store']:.1f} | {events:.1f} | {warm:.2f} "
        f"| {cpu:.0f} | {peak:,.0f} |"
    )


def markdown(results: dict) -> str:
    lines = [
        SECTION,
        "",
        "`benchmarks/spark.py`: the engine's analyses on Spark local[2] (pyspark 4.0, Java 17)",
        "beside DuckDB, on the engine benchmark's generated log read from one Parquet file.",
        "Wall seconds; *questions from events* = transitions + variants + 5-step funnel +",
        "touchpoint metrics with `use_store=False` (the database filters, rows are fetched,",
        "the numpy passes run in Python); *warm* = the same four from the store in memory.",
        "*load* on Spark includes starting the JVM (10-15 s). CPU = Python process + Spark's",
        "JVM; peak = Python max RSS + JVM peak RSS (the JVM's heap was 2 GB).",
        "Measured while other benchmarks ran on the same 2 cores (load average about 8):",
        "compare the two rows with each other, not with other sections.",
        "",
    ]
    for size, by_backend in results.items():
        lines += [
            f"### {int(size):,} events",
            "",
            "| backend | load s | store build s | questions from events s | warm s "
            "| CPU s | peak MB |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
            _row("DuckDB", by_backend["duckdb"]),
            _row("Spark local[2]", by_backend["spark"]),
            "",
        ]
        d, s = by_backend["duckdb"], by_backend["spark"]
        same = all(d[k] == s[k] for k in ("dfg", "variants", "funnel_counts"))
        lines.append(
            "Answers identical on both (DFG, variants, funnel counts): "
            + ("yes." if same else "**NO**.")
        )
        lines.append("")
    lines += [
        "Spark's cost here is its per-job overhead (each query is planned, scheduled and",
        "shipped through Arrow to the driver) on data DuckDB holds in one file; it pays off",
        "when the events already live in a Spark cluster, not on one small machine.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], sys.argv[3], sys.argv[4])))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "jm-spark")
    parser.add_argument("--driver-memory", default="2g")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    for size in args.sizes:
        parquet = args.dir / f"log_{size}.parquet"
        if not parquet.exists():
            generate(parquet, size)
        results[size] = {b: run(b, parquet, args.driver_memory) for b in ("duckdb", "spark")}
        print(json.dumps({size: results[size]}, indent=1))
    (args.dir / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    if not args.no_docs:
        write_section(markdown(results))


if __name__ == "__main__":
    main()
