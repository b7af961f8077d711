"""Benchmark of the demo generator: time and peak memory for a given number of events.

    .venv/bin/python benchmarks/demo.py                 # about 1M events
    .venv/bin/python benchmarks/demo.py --events 10e6   # about 10M events

Generation only (ingest=False): the workspace ingest is measured by its own area. The
output goes to a temporary folder that is removed afterwards unless --keep is given.
Peak RSS is the process high-water mark (ru_maxrss), so run one size per process.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

from journeymap.demo import generate

#: Events per customer of the demo (measured; used to size the run).
EVENTS_PER_CUSTOMER = 6.9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=float, default=1e6, help="approximate event count")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None, help="folder (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()

    customers = max(1, round(args.events / EVENTS_PER_CUSTOMER))
    out = args.out or Path(tempfile.mkdtemp(prefix="journeymap-demo-bench-"))
    began = time.perf_counter()
    result = generate(out, customers=customers, seed=args.seed, ingest=False, force=True)
    seconds = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size_mb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
    print(
        f"customers {customers:,}  events {result.events:,}  feedback {result.feedback:,}\n"
        f"time {seconds:.1f} s  ({result.events / seconds:,.0f} events/s)  "
        f"peak RSS {peak_mb:,.0f} MB  files {size_mb:,.0f} MB"
    )
    if not args.keep and args.out is None:
        shutil.rmtree(out)


if __name__ == "__main__":
    main()
