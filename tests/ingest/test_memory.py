"""Ingest holds one input batch at a time, not the whole call's input.

Inside the ingest transaction a DuckDB view registered over an Arrow batch keeps that
batch alive until the commit, even once unregistered; ingest therefore reads batches by
name instead (``_batches_by_name``). Checked in a fresh process through pyarrow's own
high-water mark of allocated bytes, which the batches of a call would add up in.
"""

from __future__ import annotations

import subprocess
import sys

import pandas as pd

CHILD = """
import sys
import pyarrow as pa
from journeymap.sources import readers
readers.BATCH_ROWS = 2_000
from journeymap.workspace import Workspace
ws = Workspace.create(sys.argv[1])
report = ws.ingest_events(sys.argv[2], refresh=False, progress=False)
print(report.loaded, pa.default_memory_pool().max_memory())
"""


def test_input_batches_are_not_held_until_the_commit(tmp_path):
    rows = 40_000
    frame = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(rows)],
            "customer_id": [f"c{i % 500}" for i in range(rows)],
            "event": "view",
            "ts": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(range(rows), unit="s"),
            "page": [f"{i:06d}" + "x" * 500 for i in range(rows)],
        }
    )
    data = tmp_path / "events.parquet"
    frame.to_parquet(data, index=False, row_group_size=2_000)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "ws"), str(data)],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded, peak = (int(x) for x in out.stdout.split()[-2:])
    assert loaded == rows
    whole_input = rows * 500  # bytes of the page texts alone
    # one 2,000-row batch is ~1 MB of text; all forty held at once would be >= 20 MB
    assert peak < whole_input / 4, f"Arrow peak {peak:,} bytes: input batches were held"
