"""Benchmark: one machine, big data: the whole workspace pipeline at N events (default 100M).

    .venv/bin/python benchmarks/bigdata.py --events 10000000          # 10M, about 15 min
    .venv/bin/python benchmarks/bigdata.py --write-docs               # 100M, about an hour+
    .venv/bin/python benchmarks/bigdata.py --events 1e8 --docs-only   # table from saved results

Data: the demo retailer (:func:`journeymap.demo.generate`, about 7.1 events per person,
multi-channel: web, app, e-mail, ads, social, shops, call centre, chat; cookies, device
ids, e-mails, phones, CRM ids and order ids to stitch; CRM records and feedback) written
as Parquet chunks under ``--dir`` (``data-<N>``; reused when already there, since the
generator is seeded). The workspace is that folder, as ``journeymap demo`` makes it.

Steps, each in its own child process so that its wall time, CPU seconds (user + system,
from ``os.wait4``) and peak resident memory (``ru_maxrss``: DuckDB runs in-process, so
its buffers are included) are its own:

1. generate (skipped when the files exist)
2. ingest: customers, the events of each system folder, feedback (``refresh=False``)
3. refresh, one child per step (:func:`journeymap.workspace.refresh.refresh` with one
   step): stitch, mapping, store, attach
4. analyses: a fresh process opens the workspace and asks transitions, variants, a
   5-step funnel (7-day window) and touchpoint metrics (the first one loads the store)
5. snapshot: a fresh process builds the all-customers snapshot

DuckDB in every child: ``memory_limit`` (``--memory-limit``, default 5GB; ingest and
refresh use the same figure through ``[ingest]`` and ``[refresh] memory_limit``) and
``temp_directory`` under ``--dir`` (spills go to disk there). Results are
saved after each step to ``<dir>/results-<N>.json``; ``--write-docs`` writes the
"One machine, 100M events" section of docs/performance.md from them (a partial run gives
a partial table that says which steps did not run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from performance_doc import write_section

SECTION = "## One machine, 100M events"
#: Events per demo person, measured at 1M (1,033,066 events of 144,928 people).
EVENTS_PER_PERSON = 7.128
FUNNEL = ["product_page", "cart", "checkout", "web_payment", "order_confirmed"]
REFRESH_STEPS = ("stitch", "mapping", "store", "attach")
STEPS = ("generate", "ingest", *REFRESH_STEPS, "analyses", "snapshot")
#: Steps that only read the workspace: one failing does not stop the next.
READ_ONLY_STEPS = ("analyses", "snapshot")
GB = 2**30


# -- child side ------------------------------------------------------------------------------


def open_workspace(folder: Path, memory_limit: str, temp: Path) -> Any:
    """The workspace with the DuckDB settings of the benchmark (see the module doc)."""
    from journeymap.workspace import Workspace, backend

    ws = Workspace.create(folder, exist_ok=True)  # keeps the demo's journey.yaml and toml
    for section in ("ingest", "refresh"):
        ws.settings.setdefault(section, {})["memory_limit"] = memory_limit
    temp.mkdir(parents=True, exist_ok=True)
    con = backend.raw(ws.con)
    con.execute("SET memory_limit = ?", [memory_limit])
    con.execute("SET temp_directory = ?", [str(temp)])
    return ws


def child_generate(folder: Path, events: int) -> dict:
    from journeymap.demo import generate

    result = generate(
        folder,
        customers=round(events / EVENTS_PER_PERSON),
        seed=7,
        ingest=False,
        progress=False,
        force=True,
    )
    return {"events": result.events, "feedback": result.feedback, "people": result.customers}


def child_ingest(ws: Any) -> dict:
    """The demo's own ingest calls (customers, one call per system, feedback)."""
    from journeymap.demo import catalog

    data = ws.path / "data"
    out: dict[str, Any] = {}
    report = ws.ingest_customers(str(data / "customers.parquet"), source="crm", refresh=False)
    out["customers"] = _ingest_figures(report)
    for system in catalog.SYSTEMS:
        folder = data / "events" / system
        if folder.is_dir() and any(folder.iterdir()):
            report = ws.ingest_events(str(folder), source=system, refresh=False)
            out[f"events:{system}"] = _ingest_figures(report)
    report = ws.ingest_feedback(str(data / "feedback.parquet"), source="surveys", refresh=False)
    out["feedback"] = _ingest_figures(report)
    out["warehouse_mb"] = ws.warehouse_path.stat().st_size / 2**20
    return out


def _ingest_figures(report: Any) -> dict:
    return {
        "rows": report.rows_read,
        "loaded": report.loaded,
        "duplicates": report.duplicates,
        "quarantined": report.quarantined,
        "seconds": report.seconds,
    }


def child_refresh(ws: Any, step: str) -> dict:
    from journeymap.workspace.refresh import default_steps

    chosen = [(name, fn) for name, fn in default_steps() if name == step]
    report = ws.refresh(steps=chosen)
    return {
        "report": str(report.steps[step]),
        "warehouse_mb": ws.warehouse_path.stat().st_size / 2**20,
    }


def child_analyses(ws: Any) -> dict:
    a = ws.analysis()
    out: dict[str, Any] = {}
    questions = {
        "transitions": lambda: a.transitions(),
        "variants": lambda: a.variants(),
        "funnel": lambda: a.funnel(FUNNEL, window="7d"),
        "touchpoint_metrics": lambda: a.touchpoint_metrics(),
    }
    for name, ask in questions.items():
        clock = time.perf_counter()
        answer = ask()
        out[f"{name}_s"] = time.perf_counter() - clock
        if name == "funnel":
            out["funnel_customers"] = [int(n) for n in answer["customers"]]
        else:
            out[f"{name}_rows"] = len(answer)
    return out


def child_snapshot(ws: Any) -> dict:
    snap = ws.snapshot()
    return {
        "touchpoints": len(snap.touchpoints),
        "detected_pain_points": len(snap.detected_pain_points),
        "funnel_steps": len(snap.funnel),
    }


def run_child(args: argparse.Namespace) -> None:
    """Child process entry: one step, its figures as JSON on the last stdout line."""
    folder, step = args.data, args.child
    if step == "generate":
        out = child_generate(folder, args.events)
    else:
        ws = open_workspace(folder, args.memory_limit, args.dir / "duckdb-tmp")
        if step == "ingest":
            out = child_ingest(ws)
        elif step in REFRESH_STEPS:
            out = child_refresh(ws, step)
        elif step == "analyses":
            out = child_analyses(ws)
        else:
            out = child_snapshot(ws)
        ws.close()
    print(json.dumps(out, default=str), flush=True)


# -- parent side -----------------------------------------------------------------------------


def measure(args: argparse.Namespace, step: str) -> dict:
    """Run one step in a child; its wall time, CPU seconds and peak RSS (``os.wait4``)."""
    cmd = [
        sys.executable,
        __file__,
        "--child",
        step,
        "--events",
        str(args.events),
        "--dir",
        str(args.dir),
        "--memory-limit",
        args.memory_limit,
    ]
    log = args.dir / f"step-{args.events}-{step}.log"
    clock = time.perf_counter()
    with open(log, "w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        sampler = threading.Thread(
            target=sample_rss,
            args=(proc.pid, log.with_suffix(".rss"), args.kill_above_gb * 1024),
            daemon=True,
        )
        sampler.start()
        stdout = proc.stdout.read() if proc.stdout else ""
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - clock
    proc.returncode = os.waitstatus_to_exitcode(status)
    result = {
        "step": step,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_mb": usage.ru_maxrss / 1024,
        "exit": proc.returncode,
        "load": os.getloadavg()[0],
    }
    if proc.returncode == 0:
        result["details"] = json.loads(stdout.strip().splitlines()[-1])
    else:
        result["error"] = log.read_text()[-2000:]
        rss = log.with_suffix(".rss")
        if rss.exists() and "killed" in rss.read_text():
            result["error"] = f"killed by the benchmark: RSS above {args.kill_above_gb} GB"
    return result


def sample_rss(pid: int, out: Path, kill_mb: float, every: float = 2.0) -> None:
    """Write "seconds RSS-MB" lines for ``pid`` until it exits: shows which phase peaks.

    A child above ``kill_mb`` is killed (SIGKILL) and a line says so: the machine is
    shared, and a step far over the 8 GB goal must not push other work out of memory.
    """
    clock = time.perf_counter()
    with open(out, "w") as f:
        while True:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                return
            rss = next(
                (line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")), None
            )
            if rss is None:  # a zombie: exited, not yet reaped
                return
            f.write(f"{time.perf_counter() - clock:.0f} {int(rss) / 1024:.0f}\n")
            f.flush()
            if int(rss) / 1024 > kill_mb:
                os.kill(pid, signal.SIGKILL)
                f.write(f"killed: RSS above {kill_mb:,.0f} MB\n")
                return
            time.sleep(every)


def results_path(args: argparse.Namespace) -> Path:
    return args.dir / f"results-{args.events}.json"


def run_all(args: argparse.Namespace) -> dict:
    path = results_path(args)
    results: dict[str, Any] = {
        "events": args.events,
        "memory_limit": args.memory_limit,
        "steps": {},
    }
    if args.from_step != STEPS[0] and path.exists():
        results = json.loads(path.read_text())
    start = STEPS.index(args.from_step)
    for step in STEPS[start : STEPS.index(args.until_step) + 1]:
        if step == "generate" and (args.data / "ground_truth.json").exists():
            print("generate: reusing", args.data, flush=True)
            results["steps"]["generate"] = {"step": "generate", "reused": True}
            continue
        if step == "ingest":
            shutil.rmtree(args.data / ".journeymap", ignore_errors=True)
            shutil.rmtree(args.dir / "duckdb-tmp", ignore_errors=True)
        print(f"{time.strftime('%H:%M:%S')} {step} ...", flush=True)
        result = measure(args, step)
        results["steps"][step] = result
        path.write_text(json.dumps(results, indent=1, default=str))
        print(json.dumps(result, default=str)[:1500], flush=True)
        if result["exit"] != 0 and step not in READ_ONLY_STEPS:
            break  # later steps read what this one should have written
    return results


def _cell(r: dict | None) -> str:
    if r is None:
        return "not run | | "
    if r.get("reused"):
        return "files reused | | "
    if r["exit"] != 0:
        why = "killed above the RSS cap" if "killed" in r.get("error", "") else "failed"
        return f"{why} after {r['wall_s']:,.0f} | {r['cpu_s']:,.0f} | {r['peak_mb'] / 1024:,.2f}"
    return f"{r['wall_s']:,.1f} | {r['cpu_s']:,.1f} | {r['peak_mb'] / 1024:,.2f}"


def _details(results: dict) -> list[str]:
    """One bullet per size: what each step produced, from the children's own reports."""
    steps, n = results["steps"], results["events"]
    out = []
    ingest = (steps.get("ingest") or {}).get("details")
    if ingest:
        calls = {k: v for k, v in ingest.items() if isinstance(v, dict)}
        rows = sum(v["rows"] for v in calls.values())
        events = sum(v["rows"] for k, v in calls.items() if k.startswith("events:"))
        out.append(
            f"{n:,}: ingest of {rows:,} rows ({events:,} events in "
            f"{sum(k.startswith('events:') for k in calls)} calls, "
            f"{calls.get('customers', {}).get('rows', 0):,} CRM records, "
            f"{calls.get('feedback', {}).get('rows', 0):,} feedback rows), warehouse "
            f"{ingest['warehouse_mb']:,.0f} MB after it."
        )
    for step in REFRESH_STEPS:
        report = (steps.get(step) or {}).get("details", {}).get("report")
        if report:
            first = report.splitlines()[:2] if step == "stitch" else report.splitlines()[:1]
            out.append(f"{n:,}: {step}: " + "; ".join(line.strip() for line in first) + ".")
    answers = (steps.get("analyses") or {}).get("details")
    if answers:
        asked = ", ".join(
            f"{q} {answers[q + '_s']:.2f} s"
            for q in ("transitions", "variants", "funnel", "touchpoint_metrics")
        )
        out.append(
            f"{n:,}: analyses in a fresh process (the first loads the store): {asked}; "
            f"funnel customers {answers['funnel_customers']}."
        )
    return [f"- {line}" for line in out]


def markdown(all_results: list[dict]) -> str:
    """The section: one row per step, wall / CPU / peak columns for each size run."""
    sizes = [r["events"] for r in all_results]
    head = " | ".join(f"{n / 1e6:g}M wall s | CPU s | peak GB" for n in sizes)
    rows = [
        f"| {step} | " + " | ".join(_cell(r["steps"].get(step)) for r in all_results) + " |"
        for step in STEPS
    ]
    loads = "; ".join(
        f"{r['events'] / 1e6:g}M: "
        + ", ".join(f"{k} {v['load']:.1f}" for k, v in r["steps"].items() if "load" in v)
        for r in all_results
    )
    limit = all_results[0]["memory_limit"]
    lines = [
        SECTION,
        "",
        f"`benchmarks/bigdata.py --events N` on {platform.machine()}, 2 cores, 24 GB, Python "
        f"{platform.python_version()}: the demo retailer's data (multi-channel events, CRM "
        "records, feedback; cookies, devices, e-mails, phones, CRM and order ids to stitch) "
        "generated as Parquet chunks, then the workspace pipeline, each step in its own "
        f"process with DuckDB `memory_limit = {limit}` (`[ingest]` and `[refresh] "
        "memory_limit`) spilling to a temp directory on the same disk. Wall and CPU (user + "
        "system, all threads) seconds and peak resident memory (`ru_maxrss`, DuckDB "
        "included) per step. Other engineers' jobs shared the 2 cores (1-minute load "
        f"average when each step ended: {loads}), so wall times are upper bounds and CPU "
        "seconds are the steadier figure.",
        "",
        f"| step | {head} |",
        "| --- |" + " ---: | ---: | ---: |" * len(sizes),
        *rows,
        "",
        *[line for r in all_results for line in _details(r)],
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=lambda s: int(float(s)), default=100_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/bigdata"))
    parser.add_argument("--memory-limit", default="5GB")
    parser.add_argument("--from-step", choices=STEPS, default=STEPS[0])
    parser.add_argument("--until-step", choices=STEPS, default=STEPS[-1])
    parser.add_argument(
        "--kill-above-gb",
        type=float,
        default=10.0,
        help="kill a step whose resident memory passes this (the machine is shared)",
    )
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--docs-only", action="store_true")
    parser.add_argument(
        "--docs-sizes",
        nargs="*",
        type=lambda s: int(float(s)),
        default=[10_000_000, 100_000_000],
        help="event counts whose saved results go side by side into the docs table",
    )
    parser.add_argument("--child", choices=STEPS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    args.data = args.dir / f"data-{args.events}"
    if args.child:
        run_child(args)
        return
    if not args.docs_only:
        run_all(args)
    sizes = sorted({args.events, *args.docs_sizes})
    found = [args.dir / f"results-{n}.json" for n in sizes]
    text = markdown([json.loads(p.read_text()) for p in found if p.exists()])
    print(text)
    if args.write_docs or args.docs_only:
        write_section(text)


if __name__ == "__main__":
    main()
