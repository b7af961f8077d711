"""Benchmark: identity stitching of N events carrying three identifier types.

    .venv/bin/python benchmarks/identity.py --events 10000000 --write-docs

Generates, directly in a DuckDB warehouse file, events of ``--customers`` people: each
event carries a cookie (anonymous_id, 3 per person), a device id (2 per person) and/or an
email (1 per person), in overlapping mixes so that components must be joined through
several hops. The pre-stitch ``customer_id`` follows the contract (first present
identifier). Then runs :func:`journeymap.sources.identity.stitch_in` twice (the second
run is a re-stitch of already stitched data) and reports wall time and the process's peak
resident memory (``resource.getrusage``; DuckDB runs in-process, so it is included).
With ``--write-docs`` the "Identity" section of docs/performance.md is replaced.
"""

from __future__ import annotations

import argparse
import platform
import resource
import tempfile
import time
from pathlib import Path

import ibis
from performance_doc import write_section

from journeymap.sources.identity import stitch_in

SECTION = "## Identity"


def generate(con: ibis.BaseBackend, events: int, customers: int) -> None:
    """Create ``events`` (contract schema) with synthetic identifiers, in SQL for speed."""
    con.raw_sql(
        f"""
        CREATE OR REPLACE TABLE events AS
        WITH base AS (
            SELECT i,
                   hash(i) % {customers} AS c,
                   (hash(i * 7 + 1) % 1000) / 1000.0 AS r,
                   hash(i * 13 + 5) % 6 AS k
            FROM range({events}) AS t(i)
        ), ids AS (
            SELECT i, c,
                   CASE WHEN r < 0.70 THEN 'ck' || c || '_' || (k % 3) END AS anonymous_id,
                   CASE WHEN r >= 0.55 THEN 'dev' || c || '_' || (k % 2) END AS device_id,
                   CASE WHEN r BETWEEN 0.45 AND 0.60 OR r >= 0.95
                        THEN ' User' || c || '@Example.com ' END AS email
            FROM base
        )
        SELECT 'e' || i AS event_id,
               coalesce('email:' || email, 'device_id:' || device_id,
                        'anonymous_id:' || anonymous_id) AS customer_id,
               TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(i % 31536000) AS ts,
               'page_view' AS event, 'web' AS channel, NULL::VARCHAR AS touchpoint,
               NULL::VARCHAR AS stage, NULL::VARCHAR AS session_id, 'web' AS source,
               NULL::DOUBLE AS revenue, '{{}}' AS properties,
               anonymous_id, device_id, email, NULL::VARCHAR AS phone,
               NULL::VARCHAR AS crm_id, NULL::VARCHAR AS order_id, 1::BIGINT AS batch_id
        FROM ids
        """
    )


def peak_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(events: int, customers: int, folder: Path) -> dict:
    con = ibis.duckdb.connect(str(folder / "warehouse.duckdb"))
    clock = time.perf_counter()
    generate(con, events, customers)
    generated = time.perf_counter() - clock
    base_mb = peak_mb()
    clock = time.perf_counter()
    first = stitch_in(con, hub_cap=20, progress=True)
    first_s = time.perf_counter() - clock
    first_mb = peak_mb()
    clock = time.perf_counter()
    second = stitch_in(con, hub_cap=20, progress=True)
    second_s = time.perf_counter() - clock
    return {
        "events": events,
        "customers": customers,
        "generate_s": generated,
        "first_s": first_s,
        "second_s": second_s,
        "peak_mb_before": base_mb,
        "peak_mb": max(first_mb, peak_mb()),
        "first": first,
        "second": second,
    }


def markdown(result: dict) -> str:
    first = result["first"]
    return "\n".join(
        [
            SECTION,
            "",
            f"`benchmarks/identity.py --events {result['events']} --customers "
            f"{result['customers']}` on {platform.machine()}, 2 cores, Python "
            f"{platform.python_version()}, DuckDB through Ibis: {result['events']:,} events "
            "with three identifier types (cookie, device, email; generated in DuckDB).",
            "",
            "| measure | value |",
            "| --- | ---: |",
            f"| identifiers (distinct values) | {first.identifiers:,} |",
            f"| customers before / after | {first.customers_before:,} / "
            f"{first.customers_after:,} |",
            f"| label-propagation iterations | {first.iterations} |",
            f"| stitch, first run (s) | {result['first_s']:.1f} |",
            f"| re-stitch of stitched data (s) | {result['second_s']:.1f} |",
            f"| peak resident memory after generating (MB) | {result['peak_mb_before']:,.0f} |",
            f"| peak resident memory, whole run (MB) | {result['peak_mb']:,.0f} |",
            "",
            "Peak memory is `ru_maxrss` of the benchmark process (DuckDB runs in it; the "
            "scratch tables are DuckDB temporary tables, held in memory and spilled when "
            "needed). Every step is a set-based query; Python only parses the distinct phone "
            "values and loops over label-propagation iterations (propagate + hook, then "
            "pointer-jump).",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        result = run(args.events, args.customers, Path(folder))
    text = markdown(result)
    print(text)
    print(result["first"])
    if args.write_docs:
        write_section(text)


if __name__ == "__main__":
    main()
