"""Benchmark: 1M comments attached, sentiment-scored and themed, both cores, cached.

    .venv/bin/python benchmarks/voice.py [--rows 1000000] [--workers 2] [--no-write]

Builds a synthetic warehouse (feedback with a realistic mix of repeated canned texts and
composed unique ones, one mapped event per customer), then times:

1. ``attach_feedback_in`` cold: the ASOF attach plus VADER over every distinct text;
2. the same again warm: every text is in ``sentiment_cache``, nothing is re-scored;
3. ``theme_table`` by touchpoint (phrase counting in a process pool).

The figures go into the "Voice" section of docs/performance.md (other sections are left
as they are).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import tempfile
import time
from pathlib import Path

import ibis
import pandas as pd
from performance_doc import write_section

from journeymap.voice.attach import attach_feedback_in
from journeymap.voice.themes import theme_table
from journeymap.workspace import schemas

TOUCHPOINTS = ["ad", "product_page", "cart", "checkout", "delivery", "support"]
CANNED = [
    "Great service", "Love it", "Terrible", "ok", "Fast delivery, thanks!", "Too expensive",
    "Could not pay with my card", "Nice staff 😀", "Never again 😠", "Sehr gut", "配送が遅い",
]  # fmt: skip
FEEDBACK = schemas.subset(
    schemas.FEEDBACK,
    ["feedback_id", "customer_id", "ts", "touchpoint", "kind", "score", "text", "sentiment"]
    + ["source", "batch_id", "touchpoint_given"],
)
EVENTS = schemas.subset(schemas.EVENTS, ["event_id", "customer_id", "ts", "event", "touchpoint"])
OPENERS = ["The", "My", "Your", "This", "Honestly the", "Sadly the", "Happily the"]
SUBJECTS = ["delivery", "checkout", "website", "app", "support team", "parcel", "price",
            "delivery cost", "size guide", "payment page", "return process", "chat"]  # fmt: skip
VERDICTS = ["was great", "was slow", "was confusing", "was hidden until the end",
            "arrived damaged", "worked fine", "kept crashing", "was friendly and quick",
            "took too long", "was not clear", "made me angry", "was perfect"]  # fmt: skip
ENDINGS = ["", "!", ".", " again.", " as usual.", " :(", " thanks", " 👍"]


def synthetic(rows: int, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Feedback and events frames in the canonical shapes (the columns voice reads)."""
    rng = random.Random(seed)
    texts, kinds, scores, tps = [], [], [], []
    for i in range(rows):
        r = rng.random()
        if r < 0.35:
            text = rng.choice(CANNED)
        elif r < 0.45:
            text = None
        else:
            text = f"{rng.choice(OPENERS)} {rng.choice(SUBJECTS)} {rng.choice(VERDICTS)}"
            text += rng.choice(ENDINGS)
            if rng.random() < 0.4:  # order numbers make many texts unique
                text += f" (order {rng.randrange(10**6)})"
        texts.append(text)
        kind = ("nps", "csat", "ces", "review", "ticket")[i % 5]
        kinds.append(kind)
        high = {"nps": 10, "csat": 5, "ces": 7, "review": 5}.get(kind)
        scores.append(float(rng.randint(0 if kind == "nps" else 1, high)) if high else None)
        tps.append(rng.choice(TOUCHPOINTS) if rng.random() < 0.3 else None)
    customers = [f"c{i % (rows // 4 + 1)}" for i in range(rows)]
    feedback = pd.DataFrame(
        {
            "feedback_id": [f"f{i}" for i in range(rows)],
            "customer_id": customers,
            "ts": pd.Timestamp("2024-06-01", tz="UTC"),
            "touchpoint": None,
            "kind": kinds,
            "score": scores,
            "text": texts,
            "sentiment": None,
            "source": "bench",
            "batch_id": 1,
            "touchpoint_given": tps,
        }
    )
    n_cust = rows // 4 + 1
    events = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(n_cust)],
            "customer_id": [f"c{i}" for i in range(n_cust)],
            "ts": pd.Timestamp("2024-05-31", tz="UTC"),
            "event": "view",
            "touchpoint": [TOUCHPOINTS[i % len(TOUCHPOINTS)] for i in range(n_cust)],
        }
    )
    return feedback, events


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the worker pools)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn, *args, **kwargs):
    """Result, wall seconds and CPU seconds of one call (CPU is less sensitive to other
    jobs on a shared machine)."""
    start, cpu = time.perf_counter(), _cpu()
    out = fn(*args, **kwargs)
    return out, (time.perf_counter() - start, _cpu() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/")
    args = parser.parse_args()
    settings = {"voice": {"attach_window_hours": 72}}

    with tempfile.TemporaryDirectory() as tmp:
        (feedback, events), (t_gen, _) = timed(synthetic, args.rows)
        con = ibis.duckdb.connect(str(Path(tmp) / "bench.duckdb"))
        con.create_table("feedback", ibis.memtable(feedback, schema=FEEDBACK), overwrite=True)
        con.create_table("events", ibis.memtable(events, schema=EVENTS), overwrite=True)
        distinct = feedback["text"].dropna().str.strip().replace("", None).dropna().nunique()
        print(f"generated {args.rows:,} rows ({distinct:,} distinct texts) in {t_gen:.1f} s")

        run = {"progress": True, "workers": args.workers}
        cold, t_cold = timed(attach_feedback_in, con, TOUCHPOINTS, settings, **run)
        print(f"attach + sentiment, cold cache: {t_cold} s ({cold.texts_scored:,} scored)")
        warm, t_warm = timed(attach_feedback_in, con, TOUCHPOINTS, settings, **run)
        print(f"attach + sentiment, warm cache: {t_warm} s ({warm.texts_scored:,} scored)")
        themes, t_themes = timed(
            theme_table, con.table("feedback"), by="touchpoint", settings=settings,
            workers=args.workers, progress=True,
        )  # fmt: skip
        print(f"themes by touchpoint: {t_themes} s ({len(themes)} themes)")
        con.disconnect()
    load = os.getloadavg()[0]

    rows = [
        ("attach (ASOF join) + VADER on every distinct text, cold cache", t_cold),
        ("the same re-run, warm `sentiment_cache` (0 texts scored)", t_warm),
        (f"themes by touchpoint (1-3-gram log-odds, {args.workers} processes)", t_themes),
    ]
    table = "\n".join(f"| {name} | {wall:.1f} | {cpu:.1f} |" for name, (wall, cpu) in rows)
    body = f"""
`benchmarks/voice.py --rows {args.rows} --workers {args.workers}` on {platform.machine()},
{os.cpu_count()} cores, Python {platform.python_version()}: {args.rows:,} feedback rows,
{distinct:,} distinct non-empty texts (canned repeats, composed texts, emoji, German,
Japanese, 10% empty). Shared machine, 1-minute load average {load:.1f} at the end: wall
time rises with the load, CPU time (all processes) much less.

| step | wall s | CPU s |
| --- | ---: | ---: |
{table}

Scoring is per distinct text (MD5 in DuckDB) and cached, so a refresh after a new batch
scores only that batch's new texts.
"""
    print(body)
    if not args.no_write:
        write_section(f"## Voice\n\n{body.strip()}\n")


if __name__ == "__main__":
    main()
