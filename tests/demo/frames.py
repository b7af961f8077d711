"""The demo files as plain pandas frames (the shape the conftest fixture returns)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass
class DemoFiles:
    path: Path
    events: pd.DataFrame  # all systems, with `system`, true customer, persona, true touchpoint
    customers: pd.DataFrame  # data/customers.parquet
    feedback: pd.DataFrame  # data/feedback.parquet with the truth beside it
    truth_customers: pd.DataFrame
    truth: dict
