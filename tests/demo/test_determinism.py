"""Same seed and size, same bytes; another seed, other data. Also across chunk boundaries."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from journeymap.demo import DemoError, generate
from journeymap.demo import generator as generator_module


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _make(path: Path, customers: int, seed: int) -> dict[str, str]:
    generate(path, customers=customers, seed=seed, ingest=False, progress=False)
    return _hashes(path)


def test_same_seed_writes_identical_files_across_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small chunks so that this small run crosses chunk boundaries like a big one does.
    monkeypatch.setattr(generator_module, "CHUNK_CUSTOMERS", 400)
    first = _make(tmp_path / "a", 1000, seed=3)
    second = _make(tmp_path / "b", 1000, seed=3)
    assert first == second
    assert "data/events/web/part-0002.parquet" in first  # three chunks were written
    other = _make(tmp_path / "c", 1000, seed=4)
    assert set(other) >= {"data/customers.parquet", "ground_truth.json"}
    changed = [k for k in first if k.endswith(".parquet") and other.get(k) != first[k]]
    assert len(changed) > 10
    events = pd.concat(
        pd.read_parquet(f) for f in sorted((tmp_path / "a" / "data" / "events").glob("*/*"))
    )
    assert events.event_id.is_unique
    truth = pd.read_parquet(tmp_path / "a" / "truth" / "customers.parquet")
    assert truth.true_customer_id.is_unique and len(truth) == 1000


def test_existing_output_is_kept_unless_forced(tmp_path: Path) -> None:
    generate(tmp_path, customers=50, seed=1, ingest=False, progress=False)
    keep = tmp_path / "notes.txt"
    keep.write_text("mine", encoding="utf-8")
    with pytest.raises(DemoError, match="already holds demo output.*force"):
        generate(tmp_path, customers=50, seed=1, ingest=False, progress=False)
    generate(tmp_path, customers=60, seed=1, ingest=False, progress=False, force=True)
    assert keep.read_text(encoding="utf-8") == "mine"  # only generated names are replaced
    assert len(pd.read_parquet(tmp_path / "truth" / "customers.parquet")) == 60


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"customers": 0}, "customers: expected a whole number >= 1, got 0"),
        ({"seed": -1}, "seed: expected a whole number >= 0"),
        ({"days": 0}, "days: expected a whole number >= 1"),
        ({"start": "01/02/2026"}, "start: expected a date as YYYY-MM-DD, got '01/02/2026'"),
    ],
)
def test_bad_arguments_are_named(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(DemoError, match=message.replace("(", r"\(")):
        generate(tmp_path, ingest=False, progress=False, **kwargs)
    assert not (tmp_path / "data").exists()


def test_start_and_days_bound_the_first_events(tmp_path: Path) -> None:
    generate(
        tmp_path, customers=300, seed=2, start="2025-06-01", days=10, ingest=False, progress=False
    )
    events = pd.concat(pd.read_parquet(f) for f in (tmp_path / "data" / "events").glob("*/*"))
    truth = pd.read_parquet(tmp_path / "truth" / "event_customers.parquet")
    first = events.merge(truth, on="event_id").groupby("true_customer_id").ts.min()
    # Noise events (e.g. a newsletter send) may come up to a day before the first visit.
    assert first.min() >= pd.Timestamp("2025-05-31", tz="UTC")
    assert first.max() < pd.Timestamp("2025-06-11", tz="UTC")
