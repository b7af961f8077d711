"""The engine's analyses on Spark local[2] beside DuckDB, on the same generated log.

Usage::

    python benchmarks/spark.py                      # 1M events, writes docs/performance.md
    python benchmarks/spark.py --sizes 1000000 10000000 --driver-memory 6g
    python benchmarks/spark.py --pipeline /tmp/bigdata/data-10000000 --driver-memory 5g
    python benchmarks/spark.py --docs-pipelines 999852 10000000    # docs from saved runs

``--pipeline`` runs the whole workspace pipeline on both backends from an ingested demo
workspace (see "The workspace pipeline side by side" below); the rest of this docstring
is the engine-only comparison.

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


# -- The workspace pipeline side by side (issue 9: "the same pipeline on Spark local[2]") ----
#
#     python benchmarks/spark.py --pipeline /tmp/bigdata/data-10000000 --driver-memory 5g
#
# The canonical events, feedback and customers of an ingested demo workspace (its
# warehouse is copied first and only read) are exported to Parquet. Then, each backend in
# its own process: DuckDB loads them into a fresh workspace file; Spark maps them (temp
# views over the Parquet files) as a `backend = "pyspark"` workspace's tables. Both run
# the refresh steps stitch, mapping, store, attach (the tables keep customer_id_given, so
# stitching again from them is a full stitch), the bigdata benchmark's four analyses and
# the all-customers snapshot, each timed: wall, CPU (Python + its worker processes + the
# JVM) and peak RSS (Python + JVM, sampled every 0.5 s). Answers are compared.

PIPELINE_STEPS = ("open", "stitch", "mapping", "store", "attach", "analyses", "snapshot")
PIPELINE_TABLES = ("events", "feedback", "customers")
BIG_FUNNEL = ["product_page", "cart", "checkout", "web_payment", "order_confirmed"]


def export_tables(source: Path, out: Path) -> int:
    """Copy ``source``'s warehouse, export its canonical tables to Parquet; the event count."""
    import shutil

    import duckdb

    out.mkdir(parents=True, exist_ok=True)
    if all((out / f"{t}.parquet").exists() for t in PIPELINE_TABLES):
        con = duckdb.connect()
        return con.execute(f"SELECT count(*) FROM '{out / 'events.parquet'}'").fetchone()[0]
    copy = out / "source.duckdb"
    shutil.copyfile(source / ".journeymap" / "warehouse.duckdb", copy)
    con = duckdb.connect(str(copy), read_only=True)
    for table in PIPELINE_TABLES:
        con.execute(f"COPY {table} TO '{out / table}.parquet' (FORMAT parquet)")
    n = con.execute("SELECT count(*) FROM events").fetchone()[0]
    con.close()
    copy.unlink()
    for name in ("journey.yaml", "journeymap.toml"):
        shutil.copyfile(source / name, out / name)
    return n


def _spark_conf(driver_memory: str, scratch: Path) -> dict:
    return {
        "spark.driver.memory": driver_memory,
        "spark.driver.maxResultSize": "2g",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.sql.shuffle.partitions": "8",
        "spark.local.dir": str(scratch / "spark-local"),
        "spark.sql.warehouse.dir": str(scratch / "spark-warehouse"),
    }


def _workspace_folder(data: Path, backend: str, driver_memory: str) -> Path:
    """A fresh workspace: the demo's journey.yaml and settings, DuckDB or Spark warehouse."""
    import shutil

    folder = data / f"ws-{backend}"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / ".journeymap").mkdir(parents=True)
    shutil.copyfile(data / "journey.yaml", folder / "journey.yaml")
    toml = (data / "journeymap.toml").read_text(encoding="utf-8")
    toml += '\n[refresh]\nmemory_limit = "5GB"\n'
    if backend == "spark":
        toml = toml.replace('backend = "duckdb"', 'backend = "pyspark"\nmaster = "local[2]"')
        toml += "\n[warehouse.tables]\n" + "".join(f'{t} = "src_{t}"\n' for t in PIPELINE_TABLES)
        toml += "\n[warehouse.spark_conf]\n" + "".join(
            f'"{k}" = "{v}"\n' for k, v in _spark_conf(driver_memory, data).items()
        )
    (folder / "journeymap.toml").write_text(toml, encoding="utf-8")
    return folder


class _Meter:
    """Per-step wall, CPU and peak RSS of this process, its children and the JVM."""

    def __init__(self, partial: Path) -> None:
        self.partial = partial  # figures so far, for a run stopped part-way
        self.jvm: int | None = None
        self.peak = 0.0
        self._stop = False
        import threading

        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    @staticmethod
    def _rss_mb(pid: int) -> float:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def _sample(self) -> None:
        while not self._stop:
            rss = self._rss_mb(os.getpid()) + (self._rss_mb(self.jvm) if self.jvm else 0.0)
            self.peak = max(self.peak, rss)
            if rss > 10 * 1024:  # the machine is shared: never push others out of memory
                if self.jvm:
                    os.kill(self.jvm, 9)
                os.kill(os.getpid(), 9)
            time.sleep(0.5)

    def cpu(self) -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # the sentiment pool
        total = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
        if self.jvm:
            with open(f"/proc/{self.jvm}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def step(self, name: str, run, out: dict) -> object:
        self.peak = 0.0
        wall, cpu = time.perf_counter(), self.cpu()
        self.partial.write_text(json.dumps({"steps": out, "running": name, "since": time.time()}))
        result = run()
        out[name] = {
            "wall_s": time.perf_counter() - wall,
            "cpu_s": self.cpu() - cpu,
            "peak_mb": max(self.peak, self._rss_mb(os.getpid())),
            "load": os.getloadavg()[0],
        }
        print(f"{time.strftime('%H:%M:%S')} {name}: {out[name]}", file=sys.stderr, flush=True)
        self.partial.write_text(json.dumps({"steps": out}))
        return result


def pipeline_child(backend: str, data: Path, driver_memory: str) -> dict:
    """One backend's pipeline in this process (see the comment above); its figures."""
    from journeymap.workspace import Workspace
    from journeymap.workspace import backend as jm_backend
    from journeymap.workspace.refresh import default_steps

    meter = _Meter(data / f"{backend}-partial.json")
    folder = _workspace_folder(data, backend, driver_memory)
    steps: dict = {}
    answers: dict = {}

    def open_ws():
        if backend == "duckdb":
            import duckdb

            con = duckdb.connect(str(folder / ".journeymap" / "warehouse.duckdb"))
            con.execute("SET memory_limit = '5GB'")
            for t in PIPELINE_TABLES:
                con.execute(f"CREATE TABLE {t} AS SELECT * FROM '{data / t}.parquet'")
            con.close()
            ws = Workspace(folder)
            jm_backend.raw(ws.con).execute("SET memory_limit = '5GB'")
            return ws
        from journeymap.workspace import spark as jm_spark

        session = jm_spark.session_from_settings(
            {"master": "local[2]", "spark_conf": _spark_conf(driver_memory, data)}
        )
        session.sparkContext.setLogLevel("ERROR")
        meter.jvm = session.sparkContext._gateway.proc.pid
        for t in PIPELINE_TABLES:
            session.read.parquet(str(data / f"{t}.parquet")).createOrReplaceTempView(f"src_{t}")
        return Workspace(folder)

    ws = meter.step("open", open_ws, steps)
    for name, fn in default_steps():
        report = meter.step(name, lambda fn=fn, name=name: ws.refresh(steps=[(name, fn)]), steps)
        answers[name] = str(report.steps[name])
        if name == "stitch":
            t = ws.table("events")
            answers["people"] = int(t.customer_id.nunique().to_pyarrow().as_py())

    def analyses():
        a = ws.analysis()
        return {
            "transitions": len(a.transitions()),
            "variants": len(a.variants()),
            "funnel": [int(n) for n in a.funnel(BIG_FUNNEL, window="7d")["customers"]],
            "touchpoint_metrics": len(a.touchpoint_metrics()),
        }

    answers["analyses"] = meter.step("analyses", analyses, steps)
    snap = meter.step("snapshot", ws.snapshot, steps)
    answers["snapshot"] = {
        "touchpoints": len(snap.touchpoints),
        "detected_pain_points": len(snap.detected_pain_points),
        "funnel_steps": len(snap.funnel),
    }
    answers["store"] = answers["store"].rsplit(" in ", 1)[0]  # drop its own timing
    ws.close()
    return {"steps": steps, "answers": answers, "driver_memory": driver_memory}


def run_pipeline(args: argparse.Namespace) -> dict:
    data = args.dir / f"pipeline-{args.pipeline.name}"
    events = export_tables(args.pipeline, data)
    path = args.dir / f"pipeline-{events}.json"
    results: dict = json.loads(path.read_text()) if path.exists() else {}  # other backends'
    results.update(events=events, source=str(args.pipeline))
    for backend in args.backends:
        cmd = [sys.executable, __file__, "--pipeline-child", backend, str(data), args.driver_memory]
        with open(data / f"{backend}.log", "w") as err:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, text=True, check=False)
        if proc.returncode != 0:
            partial = data / f"{backend}-partial.json"
            results[backend] = json.loads(partial.read_text()) if partial.exists() else {}
            if "since" in results[backend]:
                results[backend]["stopped_after_s"] = time.time() - results[backend]["since"]
            results[backend]["error"] = (data / f"{backend}.log").read_text()[-3000:]
            results[backend]["driver_memory"] = args.driver_memory
        else:
            results[backend] = json.loads(proc.stdout.strip().splitlines()[-1])
        path.write_text(json.dumps(results, indent=1), encoding="utf-8")
        print(json.dumps({backend: results[backend]}, indent=1)[:3000], flush=True)
    return results


def _pipeline_cell(r: dict, step: str) -> str:
    s = r.get("steps", {}).get(step)
    if s is None and r.get("running") == step:
        return f"stopped after {r.get('stopped_after_s', 0):,.0f} | | "
    if s is None:
        return "not run | | "
    return f"{s['wall_s']:,.1f} | {s['cpu_s']:,.1f} | {s['peak_mb'] / 1024:,.2f}"


def pipeline_markdown(results: dict) -> str:
    """The pipeline subsection of the Spark section (one table per event count)."""
    d, s = results.get("duckdb", {}), results.get("spark", {})
    lines = [
        f"### The workspace pipeline, {results['events']:,} events",
        "",
        "`benchmarks/spark.py --pipeline <demo workspace>`: the canonical tables of the demo",
        "retailer's ingested workspace (`benchmarks/bigdata.py`'s data) exported to Parquet,",
        "then on each backend in its own process: *open* (DuckDB: load the Parquet files into",
        "a fresh workspace file; Spark: start the JVM, map the Parquet files as the",
        "workspace's tables), the refresh steps (each `ws.refresh(steps=[one])`), the four",
        "analyses of the bigdata benchmark and the all-customers snapshot. CPU = Python +",
        "its sentiment workers + the JVM; peak = Python + JVM resident memory, sampled each",
        f"0.5 s, per step. DuckDB `memory_limit` 5GB; Spark local[2], driver memory "
        f"{s.get('driver_memory', '?')}, 8 shuffle partitions. Run at `nice 10` beside",
        "other jobs on the same 2 cores: compare the columns with each other.",
        "",
        "| step | DuckDB wall s | CPU s | peak GB | Spark wall s | CPU s | peak GB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for step in PIPELINE_STEPS:
        lines.append(f"| {step} | {_pipeline_cell(d, step)} | {_pipeline_cell(s, step)} |")
    if not d:
        lines += [
            "",
            "DuckDB was not run from these Parquet files at this size (one heavy run at a",
            "time on the shared machine); its figures for the same refresh steps, analyses",
            'and snapshot on the ingested workspace are in "One machine, 100M events".',
        ]
    for name, r in (("DuckDB", d), ("Spark", s)):
        if "error" in r and "running" in r:
            where = f": {r['reached']}" if r.get("reached") else ""
            lines += [
                "",
                f"{name} was stopped during *{r['running']}* (the time box ran out){where}.",
            ]
        elif "error" in r:
            last = [x for x in r["error"].strip().splitlines() if x.strip()][-1:]
            lines += ["", f"{name} failed: `{(last or ['?'])[0][:200]}`"]
    loads = [
        f"{name} {min(x['load'] for x in r['steps'].values()):.0f}-"
        f"{max(x['load'] for x in r['steps'].values()):.0f}"
        for name, r in (("DuckDB", d), ("Spark", s))
        if r.get("steps")
    ]
    lines += ["", "1-minute load average when the steps ended: " + ", ".join(loads) + "."]
    lines.append("")
    if "answers" in d and "answers" in s:
        same = d["answers"] == s["answers"]
        lines.append(
            "Same answers on both (stitched people, mapping, store, attachment reports, "
            "analyses' sizes and funnel counts, snapshot): " + ("yes." if same else "**NO**.")
        )
        for name, r in (("DuckDB", d), ("Spark", s)):
            if name == "Spark" and same:
                break
            a = r["answers"]
            lines.append(
                f"{name}: {a['people']:,} people after stitching; "
                + "; ".join(a[k].splitlines()[0] for k in ("mapping", "store"))
                + f"; funnel customers {a['analyses']['funnel']}; snapshot {a['snapshot']}."
            )
        lines.append("")
    return "\n".join(lines)


def write_pipeline_section(results: list[dict]) -> None:
    """Put the pipeline subsections into the Spark section, keeping the rest of it."""
    from performance_doc import DOC

    text = DOC.read_text(encoding="utf-8")
    start = text.index(SECTION + "\n")
    end = text.find("\n## ", start + len(SECTION))
    section = text[start : end if end != -1 else len(text)]
    keep = section.split("\n### The workspace pipeline", 1)[0].rstrip("\n")
    body = "\n\n".join(pipeline_markdown(r) for r in results)
    write_section(keep + "\n\n" + body)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], sys.argv[3], sys.argv[4])))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--pipeline-child":
        print(json.dumps(pipeline_child(sys.argv[2], Path(sys.argv[3]), sys.argv[4])))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "jm-spark")
    parser.add_argument("--driver-memory", default="2g")
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument(
        "--pipeline",
        type=Path,
        help="an ingested demo workspace folder: run the whole pipeline on both backends",
    )
    parser.add_argument("--backends", nargs="+", default=["duckdb", "spark"])
    parser.add_argument(
        "--docs-pipelines",
        nargs="*",
        type=int,
        default=[],
        help="event counts whose saved pipeline results (<dir>/pipeline-N.json) go in the docs",
    )
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    if args.pipeline or args.docs_pipelines:
        runs = [run_pipeline(args)] if args.pipeline else []
        saved = [
            json.loads((args.dir / f"pipeline-{n}.json").read_text()) for n in args.docs_pipelines
        ]
        chosen = [r for r in saved if "spark" in r]
        chosen += [r for r in runs if r["events"] not in args.docs_pipelines]
        if not args.no_docs and chosen:
            write_pipeline_section(sorted(chosen, key=lambda r: r["events"]))
        return
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
