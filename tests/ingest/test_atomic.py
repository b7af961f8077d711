"""One ingest call is all-or-nothing: on a bad file and when the process is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from journeymap.sources.errors import IngestError
from journeymap.workspace import Workspace

from .helpers import snapshot

GOOD = pd.DataFrame(
    {"customer_id": ["a", "b"], "event": ["view", "buy"], "ts": ["2024-01-01", "2024-01-02"]}
)


def many_rows(n: int, start: int = 0) -> pd.DataFrame:
    i = np.arange(start, start + n)
    return pd.DataFrame(
        {
            "customer_id": pd.Series(i % 997).astype(str),
            "event": np.where(i % 2 == 0, "view", "buy"),
            "ts": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(i, unit="s"),
        }
    )


def test_corrupt_second_csv_in_glob_leaves_warehouse_unchanged(ws, tmp_path):
    ws.ingest_events(GOOD, refresh=False)
    before = snapshot(ws)
    folder = tmp_path / "in"
    folder.mkdir()
    many_rows(5000).to_csv(folder / "a.csv", index=False)
    text = many_rows(5000, start=5000).to_csv(index=False)
    lines = text.splitlines()
    lines.insert(3000, "x,y,z,too,many,columns")
    (folder / "b.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(IngestError, match=r"b\.csv: malformed CSV") as err:
        ws.ingest_events(str(folder / "*.csv"), refresh=False)
    assert err.value.file == str(folder / "b.csv")
    assert snapshot(ws) == before


def test_unreadable_parquet_fails_naming_the_file(ws, tmp_path):
    ws.ingest_events(GOOD, refresh=False)
    before = snapshot(ws)
    pq.write_table(pa.Table.from_pandas(many_rows(100)), tmp_path / "1.parquet")
    (tmp_path / "2.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(IngestError, match=r"2\.parquet: cannot read parquet file"):
        ws.ingest_events([tmp_path / "1.parquet", tmp_path / "2.parquet"], refresh=False)
    assert snapshot(ws) == before


def test_bad_json_line_names_file_and_line(ws, tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text('{"customer_id": "a", "event": "x", "ts": "2024-01-01"}\n{"oops": \n')
    with pytest.raises(IngestError, match=r"e\.jsonl, row 2: invalid JSON"):
        ws.ingest_events(path, refresh=False)
    assert ws.to_pandas("events").empty and ws.to_pandas("batches").empty


def test_failure_in_second_customers_file_rolls_back_schema_growth(ws, tmp_path):
    ws.ingest_customers(pd.DataFrame({"customer_id": ["c1"], "tier": ["gold"]}), refresh=False)
    before = snapshot(ws)
    pd.DataFrame({"customer_id": ["c2"], "newcol": [1]}).to_csv(tmp_path / "1.csv", index=False)
    (tmp_path / "2.csv").write_text("customer_id,x\n" + "c3,1\n" * 10 + "c4,1,2,3\n")
    with pytest.raises(IngestError):
        ws.ingest_customers(str(tmp_path / "*.csv"), refresh=False)
    assert snapshot(ws) == before  # no new column, no new customer


KILLED_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import journeymap
    from journeymap.sources import ingest as ingest_module

    original = ingest_module.{hook}

    def hooked(*args, **kwargs):
        result = original(*args, **kwargs)
        print("INSIDE", flush=True)
        time.sleep(120)
        return result

    ingest_module.{hook} = hooked
    ws = journeymap.open(sys.argv[1])
    ws.ingest_events(sys.argv[2], refresh=False, progress=False)
    print("COMMITTED", flush=True)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("hook", ["_load_batch", "_merge_rows"])
def test_sigkill_mid_ingest_leaves_no_partial_load(tmp_path, hook):
    """Killed after staging (or after the INSERT into events, before COMMIT): no trace."""
    root = tmp_path / "ws"
    from .helpers import make_workspace

    ws = make_workspace(root)
    ws.ingest_events(GOOD, refresh=False)
    before = snapshot(ws)
    ws.close()
    data = tmp_path / "big.parquet"
    pq.write_table(pa.Table.from_pandas(many_rows(250_000)), data, row_group_size=125_000)
    script = tmp_path / "killed.py"
    script.write_text(KILLED_SCRIPT.format(hook=hook))
    proc = subprocess.Popen(
        [sys.executable, str(script), str(root), str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.strip() == "INSIDE", proc.stderr.read()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    reopened = Workspace(root)
    assert snapshot(reopened) == before
    report = reopened.ingest_events(data, refresh=False, progress=False)
    assert report.loaded == 250_000 and len(reopened.to_pandas("events")) == 250_002
    reopened.close()
    assert Path(root / ".journeymap" / "warehouse.duckdb").exists()
